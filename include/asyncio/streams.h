// asyncio/streams.h — TCP and Unix-socket streams: open_connection,
// start_server, StreamReader, StreamWriter and Server (asyncio's streams).
//
//   // The seed's echo client:
//   asyncio::Future<void> tcp_echo_client(std::string message) {
//     return asyncio::open_connection("127.0.0.1", 8888)
//         .then([message](asyncio::StreamPair rw) {
//           auto [reader, writer] = rw;
//           writer.write(message);
//           return writer.drain()
//               .then([reader] { return reader.read(100); })
//               .then([writer](const std::string& data) {
//                 std::printf("Received: '%s'\n", data.c_str());
//                 writer.close();
//                 return writer.wait_closed();
//               });
//         });
//   }
//
//   // A server: the handler runs as a task per connection.
//   asyncio::start_server(
//       [](asyncio::StreamReader reader, asyncio::StreamWriter writer) {
//         return reader.readline().then([writer](const std::string& line) {
//           writer.write(line);
//           return writer.drain();
//         });
//       },
//       "127.0.0.1", 0)
//       .then([](asyncio::Server server) { return server.serve_forever(); });
//
// Contract (CPython 3.13 asyncio streams, with the deviations below).
//  * open_connection(host, port) resolves `host` without blocking the loop
//    (a numeric address at once; a name by getaddrinfo on the default
//    executor, as asyncio does), tries every address in order (IPv4 and
//    IPv6) and completes with a connected {StreamReader, StreamWriter}.
//    Failures arrive on the future: GaiError (unknown host),
//    ConnectionRefusedError, OSError (unreachable: ENETUNREACH,
//    EHOSTUNREACH, ...), each with the errno and a readable message
//    ("[Errno 111] Connect call failed ('127.0.0.1', 1): Connection
//    refused"). Cancelling the future while it resolves or connects closes
//    the socket.
//  * start_server(handler, host, port) binds and listens on every address
//    of `host` ("" binds every interface), port 0 being an ephemeral port
//    that Server::sockets() reports; address in use fails the future with
//    OSError (EADDRINUSE). Each accepted connection runs
//    handler(reader, writer) in a new task (the handler returns void or
//    any Future). A handler that fails is reported through the loop's
//    exception handler ("Unhandled exception in client_connected_cb") and
//    its connection is closed; one that is cancelled closes its
//    connection; the server goes on. When accept() runs out of file
//    descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) the error is reported
//    and accepting pauses for one second (asyncio's ACCEPT_RETRY_DELAY): it
//    never spins.
//  * The Unix-socket forms open_unix_connection(path) and
//    start_unix_server(handler, path) behave alike (no resolution; binding
//    over an existing socket file removes it first, as asyncio does).
//  * StreamReader: read(n) (n < 0 reads to EOF; at EOF: ""), readline(),
//    readexactly(n) (IncompleteReadError with the partial data at EOF),
//    readuntil(sep) and readuntil({sep1, sep2, ...}) (the earliest end of
//    a match wins; LimitOverrunError with consumed() when the limit is hit,
//    the data staying in the buffer; IncompleteReadError at EOF), at_eof().
//    Bytes are std::string. The buffer limit (default 64 KiB) bounds
//    readuntil/readline, and reading from the socket pauses while more
//    than twice the limit is buffered, until a read brings it to the limit
//    or below (asyncio's flow control). A read started while another one
//    waits fails with RuntimeError. Cancellation loses no bytes: a read
//    cancelled while it waits takes nothing; one completed with data whose
//    task was cancelled before it resumed puts the data back at the front
//    of the buffer, so the next read sees it. A connection error (reset)
//    fails the waiting read and every later one with that error, as in
//    asyncio (the buffered data is dropped).
//  * StreamWriter: write(data) sends at once when nothing is queued and
//    queues only what the kernel did not take; writelines(lines); drain()
//    completes at once while the queued bytes are at most the high-water
//    mark (default 64 KiB), else when the queue falls to the low-water mark
//    (default 16 KiB, a quarter of the high one, as asyncio); any number of
//    tasks may drain at once. Once the connection is lost, drain() fails
//    with the connection's error (ConnectionResetError "Connection lost"
//    when it closed without one). write_eof() shuts the sending side down
//    once the queue is flushed (later writes: RuntimeError); can_write_eof()
//    is true. close() stops reading, flushes what is queued, then closes
//    the socket; wait_closed() completes then (with the connection's error,
//    if it was lost to one). is_closing(). get_extra_info("peername" /
//    "sockname") returns a SocketAddress, ("socket") the file descriptor
//    (int), in a std::any, empty for other names; peername() / sockname()
//    / fileno() are the typed forms.
//  * Server: is_serving(), sockets() (the bound addresses), close() (stops
//    accepting, closes the listening sockets, leaves connections open),
//    close_clients() / abort_clients() (3.13), wait_closed() (completes
//    once the server is closed and every handler task has finished),
//    start_serving(), serve_forever() (runs until cancelled; cancelling it
//    closes the server and waits as wait_closed does; RuntimeError when it
//    already runs or the server is closed).
//  * Faults end in an exception on the waiting future or a clean EOF: a
//    reset peer fails the waiting read or drain with ConnectionResetError
//    (or BrokenPipeError on a write), a half-closing peer gives EOF while
//    writing still works, a silent peer leaves a read pending (use
//    wait_for), a peer that reads nothing makes drain() block with at most
//    the high-water mark (plus one write) queued.
//
// Deviations from asyncio (deliberate).
//  * Bytes are std::string; a SocketAddress stands for Python's address
//    tuple (to_string() prints the tuple: ('127.0.0.1', 8888)).
//  * open_connection completes with a StreamPair (std::pair), which
//    structured bindings unpack as Python's tuple.
//  * A read or drain whose result was dropped by a cancellation puts the
//    bytes back (see above); read(-1) cancelled while waiting also keeps
//    what it collected (asyncio loses it).
//  * write() after close() or after the connection was lost drops the data
//    silently (asyncio does the same once the connection is lost, and
//    warns after a few writes).
//  * Dropping the last StreamReader and StreamWriter handle of a
//    connection closes it (flushing what is queued) as soon as no read,
//    drain or wait_closed waits on it, as asyncio does when the writer is
//    garbage collected. So `return reader.read(100);` from a continuation
//    that holds the last handles still reads; the connection closes once
//    that read completes, unless its continuation kept a handle.
//  * EventLoop::close() closes every socket still open (servers,
//    connections, connects in progress) and fails their waiting futures.
//  * No SSL, no happy eyeballs, no sendfile, no start_tls.
//
// Thread affinity: loop thread only; every object belongs to the loop it
// was made on and must not be used after that loop is closed (its sockets
// are closed then).
//
// Ownership: StreamReader, StreamWriter and Server are cheap copyable
// handles to a shared state. A connection stays open while a handle to it
// exists or a read, drain or wait_closed waits on it; a server while a
// handle exists or it serves. The server owns the handler.
//
// Cost: write() with an empty queue is one send() and no allocation; a
// read is one allocation (its future's state, done at once when the buffer
// can satisfy it) plus the std::string it returns. Every recv() goes to a
// per-thread scratch buffer; a read waiting on an empty buffer takes its
// bytes from there with one copy, into its result, and a connection keeps
// buffer memory only for bytes that wait (an idle one keeps none; a large
// readexactly receives straight into its result). One libevent event per
// direction per connection; the write event is armed only while bytes are
// queued.
#ifndef ASYNCIO_STREAMS_H_
#define ASYNCIO_STREAMS_H_

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/errors.h"
#include "asyncio/future.h"

namespace asyncio {

class EventLoop;

namespace internal {
class StreamCore;
class ServerCore;
void acquire_handle(StreamCore* core) noexcept;
void release_handle(StreamCore* core) noexcept;
void acquire_handle(ServerCore* core) noexcept;
void release_handle(ServerCore* core) noexcept;
[[noreturn]] void throw_moved_from(const char* what);

// A counted handle on a connection's or a server's core (StreamReader,
// StreamWriter and Server each hold one). When the last handle goes and
// nothing waits on the core, the connection closes (a server stays open
// until close()). Copying shares the core; moving leaves an empty handle,
// on which every method throws InvalidStateError.
template <class Core>
class CountedHandle {
 public:
  CountedHandle() noexcept = default;
  explicit CountedHandle(Core* core) noexcept : core_(core) {
    if (core_ != nullptr) acquire_handle(core_);
  }
  CountedHandle(const CountedHandle& o) noexcept : CountedHandle(o.core_) {}
  CountedHandle(CountedHandle&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  CountedHandle& operator=(const CountedHandle& o) noexcept {
    CountedHandle(o).swap(*this);  // takes the new handle before dropping the old
    return *this;
  }
  CountedHandle& operator=(CountedHandle&& o) noexcept {
    CountedHandle(std::move(o)).swap(*this);
    return *this;
  }
  ~CountedHandle() {
    if (core_ != nullptr) release_handle(core_);
  }
  // The core; InvalidStateError on a moved-from handle (`what` names it).
  Core* get(const char* what) const {
    if (core_ == nullptr) throw_moved_from(what);
    return core_;
  }

 private:
  void swap(CountedHandle& o) noexcept { std::swap(core_, o.core_); }
  Core* core_ = nullptr;
};
}  // namespace internal

// The default buffer limit and write high-water mark: 64 KiB.
inline constexpr std::size_t kDefaultStreamLimit = 64 * 1024;

// asyncio::SocketAddress
//
// A socket's address. family is AF_INET, AF_INET6 or AF_UNIX; host is the
// numeric address (for AF_UNIX, the path; empty when unnamed).
struct SocketAddress {
  int family = 0;
  std::string host;
  int port = 0;

  // SocketAddress::to_string
  //
  // Python's repr of the address: ('127.0.0.1', 8888),
  // ('::1', 8888, 0, 0), '/tmp/sock' (or '' for an unnamed Unix socket).
  std::string to_string() const;
};

// asyncio::StreamReader
class StreamReader {
 public:
  // A reader with no connection behind it, fed with feed_data() and
  // feed_eof() (asyncio's StreamReader()). Bound to the running loop at
  // its first read (RuntimeError when none runs then).
  explicit StreamReader(std::size_t limit = kDefaultStreamLimit);
  StreamReader(const StreamReader& other) noexcept = default;
  StreamReader(StreamReader&& other) noexcept = default;
  StreamReader& operator=(const StreamReader& other) noexcept = default;
  StreamReader& operator=(StreamReader&& other) noexcept = default;
  ~StreamReader() = default;

  // StreamReader::read
  //
  // Up to n bytes; n < 0: everything up to EOF. Completes with "" at EOF
  // (and at once for n == 0).
  [[nodiscard]] Future<std::string> read(std::int64_t n = -1) const;

  // StreamReader::readline
  //
  // One line, "\n" included; at EOF, the partial last line (maybe "").
  // A line longer than the limit fails with ValueError and is dropped
  // (up to and including its "\n" when it is buffered, else the buffer).
  [[nodiscard]] Future<std::string> readline() const;

  // StreamReader::readexactly
  //
  // Exactly n bytes; IncompleteReadError (partial(), expected() == n) at
  // EOF. n < 0 is a ValueError (on the future).
  [[nodiscard]] Future<std::string> readexactly(std::int64_t n) const;

  // StreamReader::readuntil
  //
  // The data up to and including the first separator found (with several,
  // the match that ends first; the shortest on a tie). An empty separator
  // or list is a ValueError. LimitOverrunError when no separator is found
  // within the limit, or one is found past it (the data stays buffered);
  // IncompleteReadError (expected() == nullopt) at EOF.
  [[nodiscard]] Future<std::string> readuntil(std::string separator = "\n") const;
  [[nodiscard]] Future<std::string> readuntil(std::vector<std::string> separators) const;

  // StreamReader::at_eof: EOF was received and the buffer is empty.
  bool at_eof() const;

  // StreamReader::exception: the connection's error, or nullptr.
  std::exception_ptr exception() const;

  // StreamReader::feed_data / feed_eof / set_exception
  //
  // What the connection does; for readers made with StreamReader(limit).
  // feed_data after feed_eof is an InvalidStateError.
  void feed_data(std::string_view data) const;
  void feed_eof() const;
  void set_exception(std::exception_ptr e) const;

  std::size_t limit() const;
  // The number of bytes buffered now.
  std::size_t buffered() const;

 private:
  friend class StreamWriter;
  friend struct StreamAccess;
  explicit StreamReader(internal::StreamCore* core) noexcept : core_(core) {}
  internal::StreamCore* core() const { return core_.get("StreamReader"); }
  internal::CountedHandle<internal::StreamCore> core_;
};

// asyncio::StreamWriter
class StreamWriter {
 public:
  StreamWriter(const StreamWriter& other) noexcept = default;
  StreamWriter(StreamWriter&& other) noexcept = default;
  StreamWriter& operator=(const StreamWriter& other) noexcept = default;
  StreamWriter& operator=(StreamWriter&& other) noexcept = default;
  ~StreamWriter() = default;

  // StreamWriter::write
  //
  // Sends `data` at once if nothing is queued, queuing what the kernel
  // does not take. Never blocks; follow with drain() for flow control.
  // Precondition: write_eof() was not called, else throws RuntimeError.
  void write(std::string_view data) const;

  // StreamWriter::writelines: write() of the concatenation.
  template <class Range>
  void writelines(const Range& lines) const {
    std::string joined;
    for (const auto& line : lines) joined.append(std::string_view(line));
    write(joined);
  }
  void writelines(std::initializer_list<std::string_view> lines) const {
    writelines<std::initializer_list<std::string_view>>(lines);
  }

  // StreamWriter::drain (see the contract).
  [[nodiscard]] Future<void> drain() const;

  // StreamWriter::write_eof / can_write_eof
  void write_eof() const;
  bool can_write_eof() const;

  // StreamWriter::close / is_closing / wait_closed
  void close() const;
  bool is_closing() const;
  [[nodiscard]] Future<void> wait_closed() const;

  // StreamWriter::get_extra_info
  //
  // "peername", "sockname": a SocketAddress; "socket": the fd (int).
  // Another name, or a closed connection: an empty std::any.
  std::any get_extra_info(const std::string& name) const;
  // Typed forms. Precondition: the connection is open, else throws
  // InvalidStateError.
  SocketAddress peername() const;
  SocketAddress sockname() const;
  int fileno() const;

  // StreamWriter::set_write_buffer_limits
  //
  // asyncio's transport.set_write_buffer_limits: high (default 64 KiB) and
  // low (default high / 4). low > high is a ValueError.
  void set_write_buffer_limits(std::size_t high, std::size_t low) const;
  void set_write_buffer_limits(std::size_t high) const {
    set_write_buffer_limits(high, high / 4);
  }
  // The number of bytes queued (not yet taken by the kernel).
  std::size_t get_write_buffer_size() const;

  // The reader of the same connection.
  StreamReader reader() const;

 private:
  friend struct StreamAccess;
  explicit StreamWriter(internal::StreamCore* core) noexcept : core_(core) {}
  internal::StreamCore* core() const { return core_.get("StreamWriter"); }
  internal::CountedHandle<internal::StreamCore> core_;
};

// asyncio::StreamPair: what open_connection completes with.
using StreamPair = std::pair<StreamReader, StreamWriter>;

// asyncio::Server
class Server {
 public:
  Server(const Server& other) noexcept = default;
  Server(Server&& other) noexcept = default;
  Server& operator=(const Server& other) noexcept = default;
  Server& operator=(Server&& other) noexcept = default;
  ~Server() = default;

  // Server::sockets: the addresses of the listening sockets (empty once
  // closed).
  std::vector<SocketAddress> sockets() const;
  bool is_serving() const;

  // Server::start_serving: starts accepting (when created with
  // start_serving = false); a done future.
  [[nodiscard]] Future<void> start_serving() const;

  // Server::serve_forever
  //
  // Accepts until cancelled; cancelling it closes the server and completes
  // (cancelled) once wait_closed() would. Fails with RuntimeError when the
  // server is closed or serve_forever already runs.
  [[nodiscard]] Future<void> serve_forever() const;

  // Server::close: stops accepting and closes the listening sockets.
  // Idempotent. Connections stay open.
  void close() const;
  // Server::close_clients / abort_clients: closes (flushing) / aborts
  // every connection the server accepted that is still open.
  void close_clients() const;
  void abort_clients() const;

  // Server::wait_closed
  //
  // Completes once close() was called and every handler task has
  // finished; at once when both are already true.
  [[nodiscard]] Future<void> wait_closed() const;

  EventLoop& get_loop() const;

 private:
  friend struct StreamAccess;
  explicit Server(internal::ServerCore* core) noexcept : core_(core) {}
  internal::ServerCore* core() const { return core_.get("Server"); }
  internal::CountedHandle<internal::ServerCore> core_;
};

// asyncio::StreamOptions / ServerOptions
struct StreamOptions {
  std::size_t limit = kDefaultStreamLimit;  // the readers' buffer limit
};
struct ServerOptions {
  std::size_t limit = kDefaultStreamLimit;
  int backlog = 100;
  bool reuse_address = true;  // SO_REUSEADDR (TCP)
  bool start_serving = true;
};

// The handler type-erased: called once per connection in its own task.
using ConnectionHandler =
    std::function<Future<void>(StreamReader, StreamWriter)>;

// asyncio::open_connection / open_unix_connection
[[nodiscard]] Future<StreamPair> open_connection(
    const std::string& host, int port, StreamOptions options = StreamOptions());
[[nodiscard]] Future<StreamPair> open_unix_connection(
    const std::string& path, StreamOptions options = StreamOptions());

namespace internal {
[[nodiscard]] Future<Server> start_server_erased(ConnectionHandler handler,
                                                 const std::string& host,
                                                 int port, ServerOptions options);
[[nodiscard]] Future<Server> start_unix_server_erased(ConnectionHandler handler,
                                                      const std::string& path,
                                                      ServerOptions options);

// Wraps a handler returning void, a value, or any Future/Task into one
// returning Future<void> (the value is dropped; its error kept).
template <class H>
ConnectionHandler erase_handler(H&& handler) {
  return [h = std::decay_t<H>(std::forward<H>(handler))](
             StreamReader r, StreamWriter w) mutable -> Future<void> {
    using R = std::invoke_result_t<std::decay_t<H>&, StreamReader, StreamWriter>;
    if constexpr (std::is_void_v<R>) {
      h(std::move(r), std::move(w));
      return make_ready_future();
    } else if constexpr (std::is_same_v<R, Future<void>>) {
      return h(std::move(r), std::move(w));
    } else if constexpr (FutureLike<R>::value) {
      using V = typename FutureLike<R>::value_t;
      if constexpr (std::is_void_v<V>) {
        return Future<void>(h(std::move(r), std::move(w)));
      } else {
        return Future<V>(h(std::move(r), std::move(w))).then([](const V&) {});
      }
    } else {
      (void)h(std::move(r), std::move(w));
      return make_ready_future();
    }
  };
}
}  // namespace internal

// asyncio::start_server / start_unix_server
//
// `handler` is called as handler(StreamReader, StreamWriter) for each
// connection and may return void or any Future/Task. The server owns a
// copy of it.
template <class H>
[[nodiscard]] Future<Server> start_server(H&& handler, const std::string& host,
                                          int port,
                                          ServerOptions options = ServerOptions()) {
  return internal::start_server_erased(
      internal::erase_handler(std::forward<H>(handler)), host, port, options);
}
template <class H>
[[nodiscard]] Future<Server> start_unix_server(
    H&& handler, const std::string& path,
    ServerOptions options = ServerOptions()) {
  return internal::start_unix_server_erased(
      internal::erase_handler(std::forward<H>(handler)), path, options);
}

}  // namespace asyncio

#endif  // ASYNCIO_STREAMS_H_
