// Streams: the connection core behind StreamReader/StreamWriter, connects,
// name resolution and servers, on libevent events of the loop's own base.
//
// A connection is one StreamCore: a non-blocking socket, one read event
// (armed while reading is wanted: not paused, no EOF, not closing) and one
// write event (armed only while bytes are queued), the reader's buffer and
// the writer's queue. It is a WaiterOwner (internal/waiters.h): a waiting
// read, drain or wait_closed is a Waiter whose state is also its list node
// and which holds a reference to the core.
//
// References: the open socket holds one (dropped when the connection is
// lost), every handle one, every waiter one. Dropping the last handle
// closes the connection (flushing the queue).
//
// Read state machine of the one pending read (op_):
//   none ──read/readline/readexactly/readuntil──▶ waiting ──data/EOF/error──▶ none
//                                                    └──cancelled──────────▶ none
// service_read() decides, from the buffer, EOF and the error, whether the
// pending read completes now; it runs when a read starts and whenever the
// buffer, EOF or the error change.
//
// Writer: kOpen ──close()──▶ closing (queue flushing) ──flushed──▶ lost
//          └──error / abort / loop close──────────────────────────▶ lost
#include "asyncio/streams.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "asyncio/event_loop.h"
#include "asyncio/internal/waiters.h"
#include "asyncio/task.h"
#include "asyncio/threads.h"

namespace asyncio {

// Builds handles from cores (a friend of the handle classes).
struct StreamAccess {
  static StreamPair make(internal::StreamCore* core) {
    return StreamPair(StreamReader(core), StreamWriter(core));
  }
  static Server make_server(internal::ServerCore* core) { return Server(core); }
};

namespace internal {

namespace {

constexpr std::uint64_t kReadTag = 1;
constexpr std::uint64_t kDrainTag = 2;
constexpr std::uint64_t kClosedTag = 3;
constexpr std::uint64_t kForeverTag = 4;

// A readexactly(n) waiting on an empty buffer, with n past the scratch
// buffer's size and at most this, receives straight into its result.
constexpr std::size_t kMaxDirectExact = 1024 * 1024;
// Every recv() goes to this per-thread buffer first (one per loop
// thread), so a connection holds buffer memory only for bytes that wait.
thread_local char tls_scratch[64 * 1024];
constexpr double kAcceptRetryDelay = 1.0;  // asyncio's ACCEPT_RETRY_DELAY

// A byte buffer: [begin_, end_) of data_ holds the bytes; no zero-filling
// on growth (std::string would).
class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return end_ == begin_; }
  const char* data() const noexcept { return data_.get() + begin_; }
  std::string_view view() const noexcept { return {data(), size()}; }
  std::size_t free_space() const noexcept { return cap_ - end_; }

  // Makes room for at least `n` more bytes after the data; returns where.
  char* prepare(std::size_t n) {
    if (cap_ - end_ >= n) return data_.get() + end_;
    const std::size_t len = size();
    if (begin_ > 0 && cap_ - len >= n && len <= cap_ / 2) {
      std::memmove(data_.get(), data(), len);
    } else {
      std::size_t cap = std::max(cap_ * 2, len + n);
      std::unique_ptr<char[]> fresh(new char[cap]);
      if (len) std::memcpy(fresh.get(), data(), len);
      data_ = std::move(fresh);
      cap_ = cap;
    }
    begin_ = 0;
    end_ = len;
    return data_.get() + end_;
  }
  void commit(std::size_t n) noexcept { end_ += n; }
  void append(std::string_view s) {
    if (s.empty()) return;
    std::memcpy(prepare(s.size()), s.data(), s.size());
    commit(s.size());
  }
  void prepend(std::string_view s) {
    if (s.empty()) return;
    if (begin_ >= s.size()) {
      begin_ -= s.size();
      std::memcpy(data_.get() + begin_, s.data(), s.size());
      return;
    }
    std::string joined(s);
    joined.append(view());
    clear();
    append(joined);
  }
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  std::string take(std::size_t n) {
    std::string s(data(), n);
    consume(n);
    return s;
  }
  void clear() noexcept { begin_ = end_ = 0; }
  // Frees the memory when empty (an idle connection keeps none).
  void release_if_empty() noexcept {
    if (empty() && data_) {
      data_.reset();
      cap_ = begin_ = end_ = 0;
    }
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

// Holds a reference to a WaiterOwner (for captures that may be destroyed
// without running, when the loop closes).
template <class C>
class CoreRef {
 public:
  explicit CoreRef(C* c) noexcept : c_(c) { c_->ref(); }
  CoreRef(const CoreRef& o) noexcept : c_(o.c_) { c_->ref(); }
  CoreRef(CoreRef&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  CoreRef& operator=(const CoreRef&) = delete;
  ~CoreRef() {
    if (c_) c_->unref();
  }
  C* operator->() const noexcept { return c_; }
  C* get() const noexcept { return c_; }

 private:
  C* c_;
};

std::string errno_text(int code) {
  char buf[256];
  return ::strerror_r(code, buf, sizeof buf);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

SocketAddress to_address(const sockaddr* sa, socklen_t len) {
  SocketAddress a;
  a.family = sa->sa_family;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    a.host = buf;
    a.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    a.host = buf;
    a.port = ntohs(in6->sin6_port);
  } else if (sa->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    const std::size_t off = offsetof(sockaddr_un, sun_path);
    if (len > off) {
      std::size_t n = len - off;
      std::string path(un->sun_path, n);
      if (!path.empty() && path[0] != '\0') path = path.c_str();  // drop NULs
      a.host = path;
    }
  }
  return a;
}

// A resolved address.
struct Addr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = 0;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  std::string repr() const { return to_address(sa(), len).to_string(); }
};

struct Resolved {
  int code = 0;  // getaddrinfo's result; EAI_SYSTEM: errno_value
  int errno_value = 0;
  std::vector<Addr> addrs;
};

Resolved getaddrinfo_now(const std::string& host, int port, int flags) {
  Resolved r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags | AI_NUMERICSERV;
  const std::string service = std::to_string(port);
  addrinfo* res = nullptr;
  r.code = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(),
                         &hints, &res);
  if (r.code == EAI_SYSTEM) r.errno_value = errno;
  if (r.code != 0) return r;
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
    Addr a;
    std::memcpy(&a.storage, p->ai_addr, p->ai_addrlen);
    a.len = static_cast<socklen_t>(p->ai_addrlen);
    a.family = p->ai_family;
    bool dup = false;
    for (const Addr& b : r.addrs)
      dup = dup || (b.len == a.len && std::memcmp(&b.storage, &a.storage, a.len) == 0);
    if (!dup) r.addrs.push_back(a);
  }
  ::freeaddrinfo(res);
  return r;
}

std::vector<Addr> check_resolved(Resolved r, const std::string& host) {
  if (r.code == EAI_SYSTEM) std::rethrow_exception(make_os_error(r.errno_value));
  if (r.code != 0) throw GaiError(r.code, ::gai_strerror(r.code));
  if (r.addrs.empty())
    throw OSError(EADDRNOTAVAIL, "getaddrinfo() returned empty list for " + host);
  return std::move(r.addrs);
}

void check_port(int port) {
  if (port < 0 || port > 65535)
    throw ValueError("port must be 0-65535, got " + std::to_string(port));
}

// Resolves host:port without blocking the loop: numeric hosts (and "" for
// a server) at once, names with getaddrinfo on the default executor.
Future<std::vector<Addr>> resolve(EventLoop& loop, const std::string& host,
                                  int port, bool passive) {
  const int flags = passive ? AI_PASSIVE : 0;
  if (host.empty() && !passive)
    return make_exception_future<std::vector<Addr>>(
        loop, std::make_exception_ptr(ValueError("empty host name")));
  Resolved numeric = getaddrinfo_now(host, port, flags | AI_NUMERICHOST);
  if (numeric.code == 0 || host.empty()) {
    try {
      return make_ready_future(loop, check_resolved(std::move(numeric), host));
    } catch (...) {
      return make_exception_future<std::vector<Addr>>(loop, std::current_exception());
    }
  }
  loop.add_io_watchers(1);
  EventLoop* lp = &loop;
  return to_thread([host, port, flags] { return getaddrinfo_now(host, port, flags); })
      .then_outcome([lp](Outcome<Resolved> o) {
        lp->add_io_watchers(-1);
        return o;
      })
      .then([host](Resolved r) { return check_resolved(std::move(r), host); });
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool fill_unix_address(const std::string& path, Addr& a) {
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
  if (path.empty() || path.size() >= sizeof un->sun_path) return false;
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  a.family = AF_UNIX;
  return true;
}

}  // namespace

// An owned file descriptor (what a connect completes with): closed when it
// dies unless released.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd, bool tcp) noexcept : fd_(fd), tcp_(tcp) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(o.fd_), tcp_(o.tcp_) { o.fd_ = -1; }
  OwnedFd& operator=(OwnedFd&& o) noexcept {
    std::swap(fd_, o.fd_);
    tcp_ = o.tcp_;
    return *this;
  }
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  bool tcp() const noexcept { return tcp_; }

 private:
  int fd_ = -1;
  bool tcp_ = false;
};

class ServerCore;

// --- StreamCore ---------------------------------------------------------------

class StreamCore final : public WaiterOwner, public LoopResource {
 public:
  // fd < 0: a reader with no connection (fed by hand).
  StreamCore(EventLoop* loop, int fd, bool tcp, std::size_t limit);

  void add_handle() noexcept {
    ref();
    ++handles_;
  }
  void drop_handle() noexcept {
    if (--handles_ == 0) check_orphan();
    unref();
  }
  // With no handle left and nothing waiting, nobody can use the
  // connection any more: close it (flushing what is queued).
  void check_orphan() noexcept {
    if (handles_ == 0 && fd_ >= 0 && !closing_ && read_list_.empty() &&
        drain_list_.empty() && closed_list_.empty()) {
      ref();
      close();
      unref();
    }
  }

  EventLoop* bound_loop() {
    if (eloop_ == nullptr) eloop_ = running_loop_or_throw();
    return eloop_;
  }

  // Reader.
  enum class Op : std::uint8_t { kNone, kRead, kReadAll, kExactly, kUntil, kLine };
  Future<std::string> start_read(Op op, std::int64_t n, std::vector<std::string> seps);
  bool at_eof() const noexcept { return eof_ && rbuf_.empty(); }
  std::exception_ptr exception() const noexcept { return rexc_; }
  void feed_data(std::string_view data);
  void feed_eof();
  void set_exception(std::exception_ptr e);
  std::size_t limit() const noexcept { return limit_; }
  std::size_t buffered() const noexcept { return rbuf_.size(); }

  // Writer.
  void write(std::string_view data);
  Future<void> drain();
  void write_eof();
  void close();
  void abort();
  bool is_closing() const noexcept { return closing_ || lost_; }
  Future<void> wait_closed();
  int fd() const noexcept { return fd_; }
  SocketAddress name(bool peer) const;
  void set_limits(std::size_t high, std::size_t low);
  std::size_t write_buffer_size() const noexcept { return wbuf_.size(); }

  void waiter_cancelled(WaiterBase* w) override;
  void waiter_dropped(WaiterBase* w) override;
  void loop_closing() noexcept override;

  // Server bookkeeping (the server's list of its connections).
  ServerCore* server_ = nullptr;
  StreamCore* prev_conn_ = nullptr;
  StreamCore* next_conn_ = nullptr;

 private:
  ~StreamCore() override;

  static void on_read_cb(evutil_socket_t, short, void* arg) {
    static_cast<StreamCore*>(arg)->on_readable();
  }
  static void on_write_cb(evutil_socket_t, short, void* arg) {
    static_cast<StreamCore*>(arg)->on_writable();
  }
  void on_readable();
  void on_writable();
  void received(std::size_t n);
  void got_eof();
  void service_read();
  void service_until();
  void complete_read(std::string s);
  void fail_read(std::exception_ptr e);
  void update_read_event();
  void set_write_armed(bool armed);
  void sync_io_count();
  void maybe_resume_reading();
  void fatal(int err);
  void connection_lost(std::exception_ptr exc);
  Future<void> done_future_on_loop();

  EventLoop* eloop_;
  int fd_;
  bool tcp_;
  event* read_ev_ = nullptr;
  event* write_ev_ = nullptr;
  std::uint32_t handles_ = 0;
  int io_counted_ = 0;

  // Reader state.
  std::size_t limit_;
  ByteBuffer rbuf_;
  bool eof_ = false;
  std::exception_ptr rexc_;
  bool read_paused_ = false;  // more than 2 * limit buffered
  bool read_armed_ = false;
  WaiterList read_list_;  // the pending read (0 or 1)
  Op op_ = Op::kNone;
  std::int64_t n_ = 0;
  std::vector<std::string> seps_;  // sorted by length
  std::size_t offset_ = 0;         // readuntil: where the search resumes
  std::string acc_;                // read(-1): what was collected

  // Writer state.
  ByteBuffer wbuf_;
  std::size_t high_ = kDefaultStreamLimit;
  std::size_t low_ = kDefaultStreamLimit / 4;
  bool write_paused_ = false;  // above the high-water mark
  bool write_armed_ = false;
  bool eof_requested_ = false;
  bool closing_ = false;
  bool lost_ = false;
  std::exception_ptr lost_exc_;
  WaiterList drain_list_;
  WaiterList closed_list_;
  FutureState<void>* done_ = nullptr;
};

// --- ServerCore ---------------------------------------------------------------

class ServerCore final : public WaiterOwner, public LoopResource {
 public:
  ServerCore(EventLoop* loop, ConnectionHandler handler, const ServerOptions& o)
      : eloop_(loop), handler_(std::move(handler)), limit_(o.limit),
        backlog_(o.backlog) {}

  struct Listener {
    int fd = -1;
    event* ev = nullptr;
    bool tcp = true;
    SocketAddress addr;
    ino_t unix_inode = 0;  // the socket file to remove on close
    ServerCore* core = nullptr;
  };

  void add_handle() noexcept {
    ref();
    ++handles_;
  }
  void drop_handle() noexcept {
    --handles_;
    unref();
  }
  // Takes over `fd` (bound and listening). Throws on allocation failure.
  void add_listener(int fd, bool tcp, ino_t inode);
  void start_serving();
  bool is_serving() const noexcept { return serving_; }
  bool closed() const noexcept { return closed_; }
  std::vector<SocketAddress> sockets() const;
  void close();
  void close_clients(bool abort);
  Future<void> wait_closed();
  Future<void> serve_forever();
  EventLoop* loop() const noexcept { return eloop_; }

  void attach(StreamCore* c) {
    c->server_ = this;
    c->prev_conn_ = nullptr;
    c->next_conn_ = conns_;
    if (conns_) conns_->prev_conn_ = c;
    conns_ = c;
  }
  void detach(StreamCore* c) {
    if (c->prev_conn_) {
      c->prev_conn_->next_conn_ = c->next_conn_;
    } else {
      conns_ = c->next_conn_;
    }
    if (c->next_conn_) c->next_conn_->prev_conn_ = c->prev_conn_;
    c->prev_conn_ = c->next_conn_ = nullptr;
    c->server_ = nullptr;
  }

  void waiter_cancelled(WaiterBase* w) override;
  void waiter_dropped(WaiterBase*) override {}
  void loop_closing() noexcept override { close(); }

 private:
  ~ServerCore() override;
  static void on_accept_cb(evutil_socket_t, short, void* arg);
  void on_acceptable(Listener* l);
  void handler_done(const Future<void>& f, const StreamWriter& writer);
  void set_armed(bool armed);
  void maybe_wake_closed();

  EventLoop* eloop_;
  ConnectionHandler handler_;
  std::size_t limit_;
  int backlog_;
  std::uint32_t handles_ = 0;
  std::vector<std::unique_ptr<Listener>> listeners_;
  bool serving_ = false;
  bool armed_ = false;
  bool closed_ = false;
  bool holds_listen_ref_ = false;
  std::size_t active_ = 0;  // handler tasks not finished
  WaiterList closed_list_;
  WaiterList forever_list_;
  TimerHandle retry_;
  StreamCore* conns_ = nullptr;
};

}  // namespace internal

// --- SocketAddress ------------------------------------------------------------

std::string SocketAddress::to_string() const {
  if (family == AF_UNIX) return "'" + host + "'";
  if (family == AF_INET6)
    return "('" + host + "', " + std::to_string(port) + ", 0, 0)";
  return "('" + host + "', " + std::to_string(port) + ")";
}

namespace internal {

// --- Handles ------------------------------------------------------------------

void acquire_handle(StreamCore* core) noexcept { core->add_handle(); }
void release_handle(StreamCore* core) noexcept { core->drop_handle(); }
void acquire_handle(ServerCore* core) noexcept { core->add_handle(); }
void release_handle(ServerCore* core) noexcept { core->drop_handle(); }
void throw_moved_from(const char* what) {
  throw InvalidStateError(std::string("moved-from ") + what + " handle");
}

// --- StreamCore implementation ------------------------------------------------

StreamCore::StreamCore(EventLoop* loop, int fd, bool tcp, std::size_t limit)
    : eloop_(loop), fd_(fd), tcp_(tcp), limit_(limit) {
  if (limit_ == 0) throw ValueError("limit must be positive");
  if (fd_ < 0) return;  // the creator drops the initial reference
  // The initial reference is the open socket's.
  read_ev_ = event_new(eloop_->native_handle(), fd_, EV_READ | EV_PERSIST,
                       &StreamCore::on_read_cb, this);
  write_ev_ = event_new(eloop_->native_handle(), fd_, EV_WRITE | EV_PERSIST,
                        &StreamCore::on_write_cb, this);
  if (read_ev_ == nullptr || write_ev_ == nullptr) {
    if (read_ev_) event_free(read_ev_);
    if (write_ev_) event_free(write_ev_);
    ::close(fd_);
    throw RuntimeError("event_new() failed");
  }
  eloop_->add_resource(this);
  update_read_event();
}

StreamCore::~StreamCore() {
  assert(fd_ < 0);
  if (done_ != nullptr) done_->release();
}

Future<void> StreamCore::done_future_on_loop() {
  if (done_ == nullptr) {
    done_ = new FutureState<void>(bound_loop());
    done_->set_value();
  }
  return FutureAccess::share<void>(done_);
}

void StreamCore::sync_io_count() {
  if (eloop_ == nullptr) return;
  const int want = ((read_armed_ && !read_list_.empty()) ? 1 : 0) + (write_armed_ ? 1 : 0);
  if (want != io_counted_) {
    eloop_->add_io_watchers(want - io_counted_);
    io_counted_ = want;
  }
}

void StreamCore::update_read_event() {
  const bool want = fd_ >= 0 && !read_paused_ && !eof_ && !closing_ && !lost_;
  if (want != read_armed_) {
    if (want) {
      event_add(read_ev_, nullptr);
    } else {
      event_del(read_ev_);
    }
    read_armed_ = want;
  }
  sync_io_count();
}

void StreamCore::set_write_armed(bool armed) {
  if (armed != write_armed_) {
    if (armed) {
      event_add(write_ev_, nullptr);
    } else {
      event_del(write_ev_);
    }
    write_armed_ = armed;
  }
  sync_io_count();
}

void StreamCore::maybe_resume_reading() {
  if (read_paused_ && rbuf_.size() <= limit_) {
    read_paused_ = false;
    update_read_event();
  }
}

Future<std::string> StreamCore::start_read(Op op, std::int64_t n,
                                           std::vector<std::string> seps) {
  EventLoop* loop = bound_loop();
  if (!read_list_.empty()) {
    static const char* const names[] = {"", "read", "read", "readexactly",
                                        "readuntil", "readline"};
    return make_exception_future<std::string>(
        *loop, std::make_exception_ptr(RuntimeError(
                   std::string(names[static_cast<int>(op)]) +
                   "() called while another coroutine is already waiting for "
                   "incoming data")));
  }
  auto* w = new Waiter<std::string>(loop, this);
  w->tag = kReadTag;
  Future<std::string> f = FutureAccess::adopt<std::string>(w);
  read_list_.push_back(w);
  op_ = op;
  n_ = n;
  seps_ = std::move(seps);
  offset_ = 0;
  acc_.clear();
  service_read();
  sync_io_count();
  return f;
}

void StreamCore::complete_read(std::string s) {
  WaiterBase* wb = read_list_.pop_front();
  auto* w = static_cast<Waiter<std::string>*>(wb);
  op_ = Op::kNone;
  seps_.clear();
  w->set_value(std::move(s));
  w->state()->release();
  rbuf_.release_if_empty();  // an idle connection keeps no buffer
  maybe_resume_reading();
  sync_io_count();  check_orphan();
}

void StreamCore::fail_read(std::exception_ptr e) {
  WaiterBase* wb = read_list_.pop_front();
  auto* w = static_cast<Waiter<std::string>*>(wb);
  op_ = Op::kNone;
  seps_.clear();
  if (!acc_.empty()) {  // read(-1) failing: what it collected goes back
    rbuf_.prepend(acc_);
    acc_.clear();
  }
  w->set_exception(std::move(e));
  w->state()->release();
  maybe_resume_reading();
  sync_io_count();  check_orphan();
}

void StreamCore::service_read() {
  if (read_list_.empty()) return;
  if (rexc_) {
    fail_read(rexc_);
    return;
  }
  switch (op_) {
    case Op::kRead:
      if (n_ == 0) return complete_read(std::string());
      if (!rbuf_.empty())
        return complete_read(
            rbuf_.take(std::min<std::size_t>(static_cast<std::size_t>(n_), rbuf_.size())));
      if (eof_) return complete_read(std::string());
      break;
    case Op::kReadAll:
      if (!rbuf_.empty()) {
        acc_.append(rbuf_.view());
        rbuf_.clear();
      }
      if (eof_) {
        std::string all = std::move(acc_);
        acc_.clear();
        return complete_read(std::move(all));
      }
      break;
    case Op::kExactly: {
      const auto n = static_cast<std::size_t>(n_);
      if (rbuf_.size() >= n) return complete_read(rbuf_.take(n));
      if (eof_) {
        std::string partial = rbuf_.take(rbuf_.size());
        return fail_read(std::make_exception_ptr(IncompleteReadError(std::move(partial), n)));
      }
      break;
    }
    case Op::kUntil:
    case Op::kLine:
      service_until();
      return;
    case Op::kNone:
      return;
  }
  // Still waiting: the socket must be read, past the limit if need be
  // (asyncio's _wait_for_data resumes a paused transport).
  if (read_paused_) {
    read_paused_ = false;
    update_read_event();
  }
}

void StreamCore::service_until() {
  const std::size_t min_len = seps_.front().size();
  const std::size_t max_len = seps_.back().size();
  const std::string_view buf = rbuf_.view();
  const std::size_t buflen = buf.size();
  if (offset_ > buflen) offset_ = 0;
  auto overrun = [this](const char* what, std::size_t consumed) {
    if (op_ == Op::kLine) {
      // readline: drop the line (through its "\n" when buffered), ValueError.
      if (rbuf_.size() > consumed && rbuf_.view()[consumed] == '\n') {
        rbuf_.consume(consumed + 1);
      } else {
        rbuf_.clear();
      }
      fail_read(std::make_exception_ptr(ValueError(what)));
    } else {
      fail_read(std::make_exception_ptr(LimitOverrunError(what, consumed)));
    }
  };
  if (buflen - offset_ >= min_len) {
    std::size_t match_start = std::string_view::npos;
    std::size_t match_end = std::string_view::npos;
    for (const std::string& sep : seps_) {
      const std::size_t at = buf.find(sep, offset_);
      if (at != std::string_view::npos) {
        const std::size_t end = at + sep.size();
        if (match_end == std::string_view::npos || end < match_end) {
          match_end = end;
          match_start = at;
        }
      }
    }
    if (match_end != std::string_view::npos) {
      if (match_start > limit_)
        return overrun("Separator is found, but chunk is longer than limit", match_start);
      return complete_read(rbuf_.take(match_end));
    }
    offset_ = buflen + 1 > max_len ? buflen + 1 - max_len : 0;
    if (offset_ > limit_)
      return overrun("Separator is not found, and chunk exceed the limit", offset_);
  }
  if (eof_) {
    std::string chunk = rbuf_.take(rbuf_.size());
    if (op_ == Op::kLine) return complete_read(std::move(chunk));
    return fail_read(
        std::make_exception_ptr(IncompleteReadError(std::move(chunk), std::nullopt)));
  }
  if (read_paused_) {
    read_paused_ = false;
    update_read_event();
  }
}

void StreamCore::feed_data(std::string_view data) {
  if (eof_) throw InvalidStateError("feed_data after feed_eof");
  if (data.empty()) return;
  rbuf_.append(data);
  received(0);
}

// After bytes joined the buffer: serve the pending read, then pause the
// socket if more than twice the limit is buffered (asyncio's feed_data).
void StreamCore::received(std::size_t) {
  service_read();
  if (fd_ >= 0 && !read_paused_ && rbuf_.size() > 2 * limit_) {
    read_paused_ = true;
    update_read_event();
  }
}

void StreamCore::feed_eof() {
  eof_ = true;
  update_read_event();
  service_read();
}

void StreamCore::set_exception(std::exception_ptr e) {
  rexc_ = std::move(e);
  service_read();
}

void StreamCore::on_readable() {
  IoCallbackScope scope(eloop_);
  ref();  // what the read completes may drop the last handle
  for (;;) {
    ssize_t got;
    const bool pending = !read_list_.empty() && !rexc_ && rbuf_.empty();
    if (pending && op_ == Op::kExactly && static_cast<std::size_t>(n_) > sizeof tls_scratch &&
        static_cast<std::size_t>(n_) <= kMaxDirectExact) {
      // A large readexactly: straight into the result string.
      std::string s;
      s.resize(static_cast<std::size_t>(n_));
      got = ::recv(fd_, s.data(), s.size(), 0);
      if (got > 0) {
        s.resize(static_cast<std::size_t>(got));
        if (static_cast<std::int64_t>(got) == n_) {
          complete_read(std::move(s));
        } else {
          rbuf_.append(s);
          received(0);
        }
        break;
      }
    } else {
      // Into the loop's scratch buffer: a read waiting on an empty buffer
      // takes its bytes from there (one copy, into its result); the rest
      // joins the buffer, which then holds only what is really buffered.
      got = ::recv(fd_, tls_scratch, sizeof tls_scratch, 0);
      if (got > 0) {
        const auto len = static_cast<std::size_t>(got);
        std::size_t take = 0;
        if (pending && n_ > 0 &&
            (op_ == Op::kRead || (op_ == Op::kExactly && len >= static_cast<std::size_t>(n_)))) {
          take = std::min(len, static_cast<std::size_t>(n_));
        }
        if (take < len) rbuf_.append(std::string_view(tls_scratch + take, len - take));
        if (take > 0) complete_read(std::string(tls_scratch, take));
        received(0);
        break;
      }
    }
    if (got == 0) {
      got_eof();
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) fatal(errno);
    break;
  }
  unref();
}

void StreamCore::got_eof() {
  // asyncio's StreamReaderProtocol.eof_received keeps the transport open:
  // the reader sees EOF, the writer may still write (half-close).
  eof_ = true;
  update_read_event();
  service_read();
}

void StreamCore::write(std::string_view data) {
  if (eof_requested_) throw RuntimeError("Cannot call write() after write_eof()");
  if (data.empty() || fd_ < 0 || closing_ || lost_) return;
  if (wbuf_.empty()) {
    // Nothing queued: send now; queue only what the kernel did not take.
    ssize_t n;
    do {
      n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        fatal(errno);
        return;
      }
      n = 0;
    }
    if (static_cast<std::size_t>(n) == data.size()) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  wbuf_.append(data);
  set_write_armed(true);
  if (!write_paused_ && wbuf_.size() > high_) write_paused_ = true;
}

void StreamCore::on_writable() {
  IoCallbackScope scope(eloop_);
  ref();
  ssize_t n;
  do {
    n = ::send(fd_, wbuf_.data(), wbuf_.size(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) fatal(errno);
    unref();
    return;
  }
  wbuf_.consume(static_cast<std::size_t>(n));
  if (write_paused_ && wbuf_.size() <= low_) {
    write_paused_ = false;
    while (WaiterBase* wb = drain_list_.pop_front()) {
      auto* w = static_cast<Waiter<void>*>(wb);
      w->set_value();
      w->state()->release();
    }
    check_orphan();
  }
  if (wbuf_.empty()) {
    wbuf_.release_if_empty();
    set_write_armed(false);
    if (closing_) {
      connection_lost(nullptr);
    } else if (eof_requested_) {
      ::shutdown(fd_, SHUT_WR);
    }
  }
  unref();
}

Future<void> StreamCore::drain() {
  EventLoop* loop = bound_loop();
  if (rexc_) return make_exception_future<void>(*loop, rexc_);
  if (lost_) {
    return make_exception_future<void>(
        *loop, lost_exc_ ? lost_exc_
                         : std::make_exception_ptr(
                               ConnectionResetError(ECONNRESET, "Connection lost")));
  }
  if (!write_paused_) return done_future_on_loop();
  auto* w = new Waiter<void>(loop, this);
  w->tag = kDrainTag;
  Future<void> f = FutureAccess::adopt<void>(w);
  drain_list_.push_back(w);
  return f;
}

void StreamCore::write_eof() {
  if (closing_ || eof_requested_ || fd_ < 0) return;
  eof_requested_ = true;
  if (wbuf_.empty()) ::shutdown(fd_, SHUT_WR);
}

void StreamCore::close() {
  if (closing_ || lost_ || fd_ < 0) return;
  closing_ = true;
  update_read_event();
  if (wbuf_.empty()) connection_lost(nullptr);
}

void StreamCore::abort() {
  if (lost_ || fd_ < 0) return;
  closing_ = true;
  wbuf_.clear();
  connection_lost(nullptr);
}

void StreamCore::fatal(int err) {
  closing_ = true;
  wbuf_.clear();
  connection_lost(make_os_error(err));
}

Future<void> StreamCore::wait_closed() {
  EventLoop* loop = bound_loop();
  if (lost_) {
    if (lost_exc_) return make_exception_future<void>(*loop, lost_exc_);
    return done_future_on_loop();
  }
  auto* w = new Waiter<void>(loop, this);
  w->tag = kClosedTag;
  Future<void> f = FutureAccess::adopt<void>(w);
  closed_list_.push_back(w);
  return f;
}

// The socket is gone (closed, aborted, failed, or the loop closed): close
// it, release the events, and tell the reader and every waiter.
void StreamCore::connection_lost(std::exception_ptr exc) {
  if (lost_ || fd_ < 0) return;
  ref();
  lost_ = true;
  closing_ = true;
  lost_exc_ = exc;
  if (read_armed_) event_del(read_ev_);
  if (write_armed_) event_del(write_ev_);
  read_armed_ = write_armed_ = false;
  event_free(read_ev_);
  event_free(write_ev_);
  read_ev_ = write_ev_ = nullptr;
  ::close(fd_);
  fd_ = -1;
  wbuf_.clear();
  wbuf_.release_if_empty();
  sync_io_count();
  eloop_->remove_resource(this);
  if (server_ != nullptr) server_->detach(this);
  // The reader: EOF, or the error (asyncio's connection_lost).
  if (exc) {
    rexc_ = exc;
    service_read();
  } else {
    eof_ = true;
    service_read();
  }
  // Drains waiting on a paused writer: released (with the error, if any).
  write_paused_ = false;
  while (WaiterBase* wb = drain_list_.pop_front()) {
    auto* w = static_cast<Waiter<void>*>(wb);
    if (exc) {
      w->set_exception(exc);
    } else {
      w->set_value();
    }
    w->state()->release();
  }
  while (WaiterBase* wb = closed_list_.pop_front()) {
    auto* w = static_cast<Waiter<void>*>(wb);
    if (exc) {
      w->set_exception(exc);
    } else {
      w->set_value();
    }
    w->state()->release();
  }
  unref();  // the open socket's reference
  unref();
}

void StreamCore::loop_closing() noexcept {
  if (fd_ >= 0) connection_lost(loop_closed_error(eloop_));
}

void StreamCore::waiter_cancelled(WaiterBase* w) {
  switch (w->tag) {
    case kReadTag:
      read_list_.unlink(w);
      if (!acc_.empty()) {  // read(-1): keep what it collected
        rbuf_.prepend(acc_);
        acc_.clear();
      }
      op_ = Op::kNone;
      seps_.clear();
      sync_io_count();
      break;
    case kDrainTag:
      drain_list_.unlink(w);
      break;
    default:
      closed_list_.unlink(w);
      break;
  }
  w->state()->release();  check_orphan();
}

void StreamCore::waiter_dropped(WaiterBase* w) {
  if (w->tag != kReadTag) return;
  // A read completed with data whose task was cancelled before it resumed:
  // the data goes back to the front of the buffer.
  auto* r = static_cast<Waiter<std::string>*>(w);
  if (r->value_taken()) return;
  std::string data = r->take_handed_value();
  rbuf_.prepend(data);
  if (fd_ >= 0 && !read_paused_ && rbuf_.size() > 2 * limit_) {
    read_paused_ = true;
    update_read_event();
  }
}

SocketAddress StreamCore::name(bool peer) const {
  if (fd_ < 0) throw InvalidStateError("the connection is closed");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  const int rc = peer ? ::getpeername(fd_, sa, &len) : ::getsockname(fd_, sa, &len);
  if (rc != 0) std::rethrow_exception(make_os_error(errno));
  return to_address(sa, len);
}

void StreamCore::set_limits(std::size_t high, std::size_t low) {
  if (low > high)
    throw ValueError("high (" + std::to_string(high) + ") must be >= low (" +
                     std::to_string(low) + ")");
  high_ = high;
  low_ = low;
  if (!write_paused_ && wbuf_.size() > high_) write_paused_ = true;
}

// --- Connecting ---------------------------------------------------------------

// The state of a connect in progress: tries each address in order and
// completes with the connected socket. Cancelling it (or closing the loop)
// closes the socket.
class ConnectState final : public FutureState<OwnedFd>, public LoopResource {
 public:
  ConnectState(EventLoop* loop, std::vector<Addr> addrs)
      : FutureState<OwnedFd>(loop), addrs_(std::move(addrs)) {}

  void start() { try_next(); }

  void loop_closing() noexcept override {
    add_ref();  // the event's reference may be the last
    stop_waiting();
    if (!done()) {
      set_cancelled(loop_closed_error(loop_));
      mark_retrieved();
    }
    release();
  }

 protected:
  void on_cancel() override { stop_waiting(); }

 private:
  ~ConnectState() override = default;

  static void on_ready_cb(evutil_socket_t, short, void* arg) {
    static_cast<ConnectState*>(arg)->on_ready();
  }

  void try_next() {
    while (next_ < addrs_.size()) {
      const Addr& a = addrs_[next_++];
      fd_ = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd_ < 0) {
        record(errno, a);
        continue;
      }
      if (a.family != AF_UNIX) set_nodelay(fd_);
      int rc;
      do {
        rc = ::connect(fd_, a.sa(), a.len);
      } while (rc != 0 && errno == EINTR);
      if (rc == 0) return succeed();
      if (errno == EINPROGRESS) {
        ev_ = event_new(loop_->native_handle(), fd_, EV_WRITE, &ConnectState::on_ready_cb, this);
        if (ev_ == nullptr) {
          record(ENOMEM, a);
          ::close(fd_);
          fd_ = -1;
          continue;
        }
        add_ref();  // the event's
        event_add(ev_, nullptr);
        loop_->add_io_watchers(1);
        loop_->add_resource(this);
        current_ = &a;
        return;
      }
      record(errno, a);
      ::close(fd_);
      fd_ = -1;
    }
    fail();
  }

  void on_ready() {
    IoCallbackScope scope(loop_);
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    const Addr* a = current_;
    event_free(ev_);
    ev_ = nullptr;
    loop_->add_io_watchers(-1);
    loop_->remove_resource(this);
    if (err == 0) {
      succeed();
    } else {
      record(err, *a);
      ::close(fd_);
      fd_ = -1;
      try_next();
    }
    release();  // the event's
  }

  void succeed() {
    const int fd = fd_;
    fd_ = -1;
    set_value(OwnedFd(fd, addrs_[next_ - 1].family != AF_UNIX));
  }

  void record(int err, const Addr& a) {
    errors_.push_back(make_os_error(err, "Connect call failed " + a.repr()));
  }

  void fail() {
    std::exception_ptr e;
    if (errors_.empty()) {
      e = std::make_exception_ptr(OSError(EADDRNOTAVAIL, "no address to connect to"));
    } else if (errors_.size() == 1) {
      e = errors_.front();
    } else {
      std::string joined;
      bool same = true;
      std::string first;
      int code = 0;
      for (const std::exception_ptr& x : errors_) {
        std::string text;
        try {
          std::rethrow_exception(x);
        } catch (const OSError& o) {
          text = o.what();
          if (code == 0) code = o.code();
        }
        if (joined.empty()) {
          first = text;
        } else {
          same = same && text == first;
          joined += ", ";
        }
        joined += text;
      }
      e = same ? errors_.front()
               : std::make_exception_ptr(OSError(code, "Multiple exceptions: " + joined));
    }
    set_exception(e);
  }

  void stop_waiting() {
    if (ev_ != nullptr) {
      event_free(ev_);
      ev_ = nullptr;
      loop_->add_io_watchers(-1);
      loop_->remove_resource(this);
      ::close(fd_);
      fd_ = -1;
      release();  // the event's (never the last: the caller holds one)
    }
  }

  std::vector<Addr> addrs_;
  std::size_t next_ = 0;
  const Addr* current_ = nullptr;
  int fd_ = -1;
  event* ev_ = nullptr;
  std::vector<std::exception_ptr> errors_;
};

Future<OwnedFd> connect_to(EventLoop* loop, std::vector<Addr> addrs) {
  auto* s = new ConnectState(loop, std::move(addrs));
  Future<OwnedFd> f = FutureAccess::adopt<OwnedFd>(s);
  s->start();
  return f;
}

// Wraps a connected socket in a stream pair.
StreamPair make_pair_from(EventLoop* loop, OwnedFd fd, std::size_t limit);

// --- ServerCore implementation ------------------------------------------------

ServerCore::~ServerCore() {
  for (StreamCore* c = conns_; c != nullptr;) {
    StreamCore* next = c->next_conn_;
    c->server_ = nullptr;
    c->prev_conn_ = c->next_conn_ = nullptr;
    c = next;
  }
}

void ServerCore::add_listener(int fd, bool tcp, ino_t inode) {
  auto l = std::make_unique<Listener>();
  l->fd = fd;
  l->tcp = tcp;
  l->unix_inode = inode;
  l->core = this;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    l->addr = to_address(reinterpret_cast<sockaddr*>(&ss), len);
  l->ev = event_new(eloop_->native_handle(), fd, EV_READ | EV_PERSIST,
                    &ServerCore::on_accept_cb, l.get());
  if (l->ev == nullptr) {
    ::close(fd);
    throw RuntimeError("event_new() failed");
  }
  listeners_.push_back(std::move(l));
  if (!holds_listen_ref_) {
    holds_listen_ref_ = true;  // open listeners keep the server alive
    ref();
    eloop_->add_resource(this);
  }
}

void ServerCore::set_armed(bool armed) {
  if (armed == armed_) return;
  for (auto& l : listeners_) {
    if (armed) {
      event_add(l->ev, nullptr);
    } else {
      event_del(l->ev);
    }
  }
  eloop_->add_io_watchers(armed ? 1 : -1);
  armed_ = armed;
}

void ServerCore::start_serving() {
  if (serving_ || closed_) return;
  serving_ = true;
  set_armed(true);
}

std::vector<SocketAddress> ServerCore::sockets() const {
  std::vector<SocketAddress> out;
  for (const auto& l : listeners_) out.push_back(l->addr);
  return out;
}

void ServerCore::on_accept_cb(evutil_socket_t, short, void* arg) {
  auto* l = static_cast<Listener*>(arg);
  l->core->on_acceptable(l);
}

void ServerCore::on_acceptable(Listener* l) {
  IoCallbackScope scope(eloop_);
  CoreRef<ServerCore> keep(this);
  for (int i = 0; i < backlog_ && !closed_; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(l->fd, reinterpret_cast<sockaddr*>(&ss), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // Out of descriptors: report, stop accepting for a while (the
        // listening socket stays readable, so accepting now would spin).
        eloop_->call_exception_handler(ExceptionContext{
            "socket.accept() out of system resource",
            make_os_error(err, "accept failed on " + l->addr.to_string()),
            std::string()});
        set_armed(false);
        retry_ = eloop_->call_later(kAcceptRetryDelay, [keep] {
          if (keep->serving_ && !keep->closed_) keep->set_armed(true);
        });
        return;
      }
      eloop_->call_exception_handler(ExceptionContext{
          "Error on accepting a connection", make_os_error(err), std::string()});
      return;
    }
    if (l->tcp) set_nodelay(fd);
    StreamCore* core;
    try {
      core = new StreamCore(eloop_, fd, l->tcp, limit_);
    } catch (...) {
      eloop_->call_exception_handler(ExceptionContext{
          "Error on accepting a connection", std::current_exception(), std::string()});
      continue;
    }
    attach(core);
    StreamPair rw = StreamAccess::make(core);
    ++active_;
    StreamWriter writer = rw.second;
    Task<void> task = eloop_->create_task(
        [keep, r = std::move(rw.first), w = std::move(rw.second)]() mutable {
          return keep->handler_(std::move(r), std::move(w));
        });
    task.add_done_callback(
        [keep, writer](Future<void> f) { keep->handler_done(f, writer); });
  }
}

void ServerCore::handler_done(const Future<void>& f, const StreamWriter& writer) {
  if (f.cancelled()) {
    writer.close();
  } else if (std::exception_ptr e = f.exception()) {
    eloop_->call_exception_handler(ExceptionContext{
        "Unhandled exception in client_connected_cb", e, std::string()});
    writer.close();
  }
  --active_;
  maybe_wake_closed();
}

void ServerCore::maybe_wake_closed() {
  if (!closed_ || active_ != 0) return;
  while (WaiterBase* wb = closed_list_.pop_front()) {
    auto* w = static_cast<Waiter<void>*>(wb);
    w->set_value();
    w->state()->release();
  }
}

void ServerCore::close() {
  if (closed_) return;
  CoreRef<ServerCore> keep(this);
  closed_ = true;
  serving_ = false;
  set_armed(false);
  retry_.cancel();
  for (auto& l : listeners_) {
    event_free(l->ev);
    if (l->addr.family == AF_UNIX && !l->addr.host.empty()) {
      struct stat st {};
      if (::stat(l->addr.host.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
          st.st_ino == l->unix_inode)
        ::unlink(l->addr.host.c_str());
    }
    ::close(l->fd);
  }
  listeners_.clear();
  eloop_->remove_resource(this);
  if (WaiterBase* wb = forever_list_.front()) {
    // serve_forever ends (cancelled), as asyncio's close() cancels it.
    wb->state()->cancel(std::string());
  }
  maybe_wake_closed();
  if (holds_listen_ref_) {
    holds_listen_ref_ = false;
    unref();
  }
}

void ServerCore::close_clients(bool abort) {
  std::vector<CoreRef<StreamCore>> conns;
  for (StreamCore* c = conns_; c != nullptr; c = c->next_conn_) conns.emplace_back(c);
  for (auto& c : conns) {
    if (abort) {
      c->abort();
    } else {
      c->close();
    }
  }
}

Future<void> ServerCore::wait_closed() {
  if (closed_ && active_ == 0) return make_ready_future(*eloop_);
  auto* w = new Waiter<void>(eloop_, this);
  w->tag = kClosedTag;
  Future<void> f = FutureAccess::adopt<void>(w);
  closed_list_.push_back(w);
  return f;
}

Future<void> ServerCore::serve_forever() {
  if (!forever_list_.empty())
    return make_exception_future<void>(
        *eloop_, std::make_exception_ptr(
                     RuntimeError("server is already being awaited on serve_forever()")));
  if (closed_)
    return make_exception_future<void>(
        *eloop_, std::make_exception_ptr(RuntimeError("server is closed")));
  start_serving();
  auto* w = new Waiter<void>(eloop_, this);
  w->tag = kForeverTag;
  Future<void> forever = FutureAccess::adopt<void>(w);
  forever_list_.push_back(w);
  CoreRef<ServerCore> keep(this);
  // Cancelled: close, wait for the handlers, then end cancelled.
  return forever.catch_error<CancelledError>([keep](const CancelledError& e) {
    keep->close();
    return keep->wait_closed().then([e] { throw e; });
  });
}

void ServerCore::waiter_cancelled(WaiterBase* w) {
  if (w->tag == kForeverTag) {
    forever_list_.unlink(w);
  } else {
    closed_list_.unlink(w);
  }
  w->state()->release();
}

}  // namespace internal


namespace internal {
StreamPair make_pair_from(EventLoop* loop, OwnedFd fd, std::size_t limit) {
  const bool tcp = fd.tcp();
  auto* core = new StreamCore(loop, fd.release(), tcp, limit);
  StreamPair rw = StreamAccess::make(core);
  return rw;
}
}  // namespace internal

// --- StreamReader -------------------------------------------------------------

StreamReader::StreamReader(std::size_t limit) {
  auto* core = new internal::StreamCore(internal::running_loop(), -1, false, limit);
  core_ = internal::CountedHandle<internal::StreamCore>(core);
  core->unref();  // the creator's reference
}

Future<std::string> StreamReader::read(std::int64_t n) const {
  using Op = internal::StreamCore::Op;
  return core()->start_read(n < 0 ? Op::kReadAll : Op::kRead, n, {});
}

Future<std::string> StreamReader::readline() const {
  return core()->start_read(internal::StreamCore::Op::kLine, 0, {"\n"});
}

Future<std::string> StreamReader::readexactly(std::int64_t n) const {
  internal::StreamCore* c = core();
  if (n < 0)
    return make_exception_future<std::string>(
        *c->bound_loop(),
        std::make_exception_ptr(ValueError("readexactly size can not be less than zero")));
  return c->start_read(internal::StreamCore::Op::kExactly, n, {});
}

Future<std::string> StreamReader::readuntil(std::string separator) const {
  std::vector<std::string> seps;
  seps.push_back(std::move(separator));
  return readuntil(std::move(seps));
}

Future<std::string> StreamReader::readuntil(std::vector<std::string> separators) const {
  internal::StreamCore* c = core();
  std::stable_sort(separators.begin(), separators.end(),
                   [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  const char* bad = nullptr;
  if (separators.empty()) {
    bad = "Separator should contain at least one element";
  } else if (separators.front().empty()) {
    bad = "Separator should be at least one-byte string";
  }
  if (bad != nullptr)
    return make_exception_future<std::string>(*c->bound_loop(),
                                              std::make_exception_ptr(ValueError(bad)));
  return c->start_read(internal::StreamCore::Op::kUntil, 0, std::move(separators));
}

bool StreamReader::at_eof() const { return core()->at_eof(); }
std::exception_ptr StreamReader::exception() const { return core()->exception(); }
void StreamReader::feed_data(std::string_view data) const { core()->feed_data(data); }
void StreamReader::feed_eof() const { core()->feed_eof(); }
void StreamReader::set_exception(std::exception_ptr e) const {
  core()->set_exception(std::move(e));
}
std::size_t StreamReader::limit() const { return core()->limit(); }
std::size_t StreamReader::buffered() const { return core()->buffered(); }

// --- StreamWriter -------------------------------------------------------------

void StreamWriter::write(std::string_view data) const { core()->write(data); }
Future<void> StreamWriter::drain() const { return core()->drain(); }
void StreamWriter::write_eof() const { core()->write_eof(); }
bool StreamWriter::can_write_eof() const { return core() != nullptr; }
void StreamWriter::close() const { core()->close(); }
bool StreamWriter::is_closing() const { return core()->is_closing(); }
Future<void> StreamWriter::wait_closed() const { return core()->wait_closed(); }

std::any StreamWriter::get_extra_info(const std::string& name) const {
  internal::StreamCore* c = core();
  if (c->fd() < 0) return std::any();
  try {
    if (name == "peername") return c->name(true);
    if (name == "sockname") return c->name(false);
  } catch (const OSError&) {
    return std::any();  // e.g. ENOTCONN after the peer went: None, as asyncio
  }
  if (name == "socket") return c->fd();
  return std::any();
}
SocketAddress StreamWriter::peername() const { return core()->name(true); }
SocketAddress StreamWriter::sockname() const { return core()->name(false); }
int StreamWriter::fileno() const {
  internal::StreamCore* c = core();
  if (c->fd() < 0) throw InvalidStateError("the connection is closed");
  return c->fd();
}
void StreamWriter::set_write_buffer_limits(std::size_t high, std::size_t low) const {
  core()->set_limits(high, low);
}
std::size_t StreamWriter::get_write_buffer_size() const {
  return core()->write_buffer_size();
}
StreamReader StreamWriter::reader() const { return StreamReader(core()); }

// --- Server -------------------------------------------------------------------

std::vector<SocketAddress> Server::sockets() const { return core()->sockets(); }
bool Server::is_serving() const { return core()->is_serving(); }
Future<void> Server::start_serving() const {
  internal::ServerCore* c = core();
  c->start_serving();
  return make_ready_future(*c->loop());
}
Future<void> Server::serve_forever() const { return core()->serve_forever(); }
void Server::close() const { core()->close(); }
void Server::close_clients() const { core()->close_clients(false); }
void Server::abort_clients() const { core()->close_clients(true); }
Future<void> Server::wait_closed() const { return core()->wait_closed(); }
EventLoop& Server::get_loop() const { return *core()->loop(); }

// --- open_connection / start_server -------------------------------------------

Future<StreamPair> open_connection(const std::string& host, int port, StreamOptions options) {
  EventLoop& loop = get_running_loop();
  EventLoop* lp = &loop;
  try {
    internal::check_port(port);
    if (options.limit == 0) throw ValueError("limit must be positive");
  } catch (...) {
    return make_exception_future<StreamPair>(loop, std::current_exception());
  }
  const std::size_t limit = options.limit;
  return internal::resolve(loop, host, port, false)
      .then([lp](std::vector<internal::Addr> addrs) {
        return internal::connect_to(lp, std::move(addrs));
      })
      .then([lp, limit](internal::OwnedFd fd) {
        return internal::make_pair_from(lp, std::move(fd), limit);
      });
}

Future<StreamPair> open_unix_connection(const std::string& path, StreamOptions options) {
  EventLoop& loop = get_running_loop();
  EventLoop* lp = &loop;
  internal::Addr a;
  if (!internal::fill_unix_address(path, a))
    return make_exception_future<StreamPair>(
        loop, std::make_exception_ptr(
                  OSError(path.empty() ? EINVAL : ENAMETOOLONG,
                          path.empty() ? "empty path" : "AF_UNIX path too long")));
  if (options.limit == 0)
    return make_exception_future<StreamPair>(
        loop, std::make_exception_ptr(ValueError("limit must be positive")));
  const std::size_t limit = options.limit;
  std::vector<internal::Addr> addrs{a};
  return internal::connect_to(lp, std::move(addrs))
      .then([lp, limit](internal::OwnedFd fd) {
        return internal::make_pair_from(lp, std::move(fd), limit);
      });
}

namespace internal {
namespace {

// Binds and listens on every address; on any failure closes what it made
// and throws OSError (asyncio's "error while attempting to bind on
// address ...").
Server bind_all(EventLoop* loop, ConnectionHandler handler, const ServerOptions& options,
                const std::vector<Addr>& addrs, bool unix_socket) {
  auto* core = new ServerCore(loop, std::move(handler), options);
  Server server = StreamAccess::make_server(core);
  core->unref();  // the creator's reference; the handle holds one
  for (const Addr& a : addrs) {
    const int fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int err = errno;
      server.close();
      std::rethrow_exception(make_os_error(err, "socket() failed"));
    }
    int one = 1;
    if (!unix_socket && options.reuse_address)
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a.family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    ino_t inode = 0;
    if (::bind(fd, a.sa(), a.len) != 0 || ::listen(fd, options.backlog) != 0) {
      const int err = errno;
      ::close(fd);
      server.close();
      throw OSError(err, "error while attempting to bind on address " + a.repr() + ": " +
                             lower(errno_text(err)));
    }
    if (unix_socket) {
      struct stat st {};
      const auto* un = reinterpret_cast<const sockaddr_un*>(&a.storage);
      if (::stat(un->sun_path, &st) == 0) inode = st.st_ino;
    }
    try {
      core->add_listener(fd, !unix_socket, inode);  // closes fd if it throws
    } catch (...) {
      server.close();
      throw;
    }
  }
  if (options.start_serving) core->start_serving();
  return server;
}

}  // namespace

Future<Server> start_server_erased(ConnectionHandler handler, const std::string& host,
                                   int port, ServerOptions options) {
  EventLoop& loop = get_running_loop();
  EventLoop* lp = &loop;
  try {
    check_port(port);
    if (options.limit == 0) throw ValueError("limit must be positive");
    if (!handler) throw ValueError("empty handler");
  } catch (...) {
    return make_exception_future<Server>(loop, std::current_exception());
  }
  return resolve(loop, host, port, true)
      .then([lp, handler = std::move(handler), options](std::vector<Addr> addrs) mutable {
        return bind_all(lp, std::move(handler), options, addrs, false);
      });
}

Future<Server> start_unix_server_erased(ConnectionHandler handler, const std::string& path,
                                        ServerOptions options) {
  EventLoop& loop = get_running_loop();
  try {
    Addr a;
    if (!fill_unix_address(path, a))
      throw OSError(path.empty() ? EINVAL : ENAMETOOLONG,
                    path.empty() ? "empty path" : "AF_UNIX path too long");
    if (options.limit == 0) throw ValueError("limit must be positive");
    if (!handler) throw ValueError("empty handler");
    // A stale socket file is removed first (asyncio does the same).
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
    return make_ready_future(loop, bind_all(&loop, std::move(handler), options, {a}, true));
  } catch (...) {
    return make_exception_future<Server>(loop, std::current_exception());
  }
}

}  // namespace internal
}  // namespace asyncio
