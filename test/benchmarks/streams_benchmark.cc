// Echo servers over TCP on 127.0.0.1: this library's streams beside a raw
// libevent server, driven by the same client.
//
//   BM_Echo/N            one pair of runs per iteration, in alternating
//                        order: the raw libevent server (one persistent
//                        read event per connection; each read is sent back
//                        at once, an EV_WRITE event only when the kernel
//                        buffer is full), and asyncio::start_server with
//                        the echo handler repeat(read(65536) -> write ->
//                        drain).
//   BM_Memory_*/N        heap bytes per idle connection on the server side
//                        (accepted, its handler waiting in read), counted
//                        with bench_util's allocator (libevent's too).
//
// The client is a forked child process (so the server process is
// single-threaded and its allocations are the only ones counted): raw
// libevent, N connections, each sending 1 KiB and waiting for the 1 KiB echo
// before sending again, 200,000 round trips in all. The time is the
// child's, from the first send to the last echo; rt_per_s (raw_rt_per_s)
// is the asyncio (raw) server's round trips per second, x_raw their ratio
// within the pair (target >= 0.9). server_cpu_us_per_rt is the server process's CPU time
// per round trip (x_raw_cpu: asyncio's over raw's), the figure that stays
// meaningful when other work shares the machine's cores.
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstring>
#include <string>
#include <vector>

#include "asyncio/asyncio.h"
#include "benchmark/benchmark.h"
#include "test/benchmarks/bench_util.h"

namespace {

constexpr std::size_t kMessage = 1024;
constexpr long kRoundTrips = 200'000;

// The server process's CPU time (user + system), seconds: the server runs
// alone in this process, so this is what serving cost, whatever else the
// machine runs (the wall-clock rt_per_s is not).
double ProcessCpuSeconds() {
  timespec ts;
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// --- The client (child process) ---------------------------------------------

struct ClientConn {
  int fd = -1;
  event* ev = nullptr;
  std::size_t got = 0;
  struct Client* client = nullptr;
};

struct Client {
  event_base* base = nullptr;
  long remaining = 0;  // round trips still to start
  long outstanding = 0;
  char message[kMessage];
};

void SendAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) _exit(3);  // 1 KiB always fits in an idle socket's buffer
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void OnClientRead(evutil_socket_t fd, short, void* arg) {
  auto* c = static_cast<ClientConn*>(arg);
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    _exit(4);
  }
  c->got += static_cast<std::size_t>(n);
  while (c->got >= kMessage) {
    c->got -= kMessage;
    --c->client->outstanding;
    if (c->client->remaining > 0) {
      --c->client->remaining;
      ++c->client->outstanding;
      SendAll(fd, c->client->message, kMessage);
    }
  }
  if (c->client->outstanding == 0) event_base_loopbreak(c->client->base);
}

// Connects `n` sockets, tells the parent (one byte on `report`), then
// either waits for `go` to close (idle mode) or runs the ping-pong and
// reports its time in seconds (a double).
[[noreturn]] void RunClient(int port, int n, bool idle, int report, int go) {
  std::vector<int> fds;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) _exit(2);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fds.push_back(fd);
  }
  if (idle) {
    char c = 'c';
    if (::write(report, &c, 1) != 1) _exit(5);
    if (::read(go, &c, 1) < 0) _exit(7);  // EOF: the parent measured, done
    _exit(0);
  }
  Client client;
  client.base = event_base_new();
  std::memset(client.message, 'm', kMessage);
  std::vector<ClientConn> conns(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    evutil_make_socket_nonblocking(fds[i]);
    conns[i].fd = fds[i];
    conns[i].client = &client;
    conns[i].ev = event_new(client.base, fds[i], EV_READ | EV_PERSIST, &OnClientRead, &conns[i]);
    event_add(conns[i].ev, nullptr);
  }
  client.remaining = kRoundTrips;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n && client.remaining > 0; ++i) {
    --client.remaining;
    ++client.outstanding;
    SendAll(fds[i], client.message, kMessage);
  }
  event_base_dispatch(client.base);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (::write(report, &seconds, sizeof seconds) != sizeof seconds) _exit(6);
  for (ClientConn& c : conns) {
    event_free(c.ev);
    ::close(c.fd);
  }
  event_base_free(client.base);
  _exit(0);
}

struct Child {
  pid_t pid = -1;
  int report = -1;  // read end: the child's messages
  int go = -1;      // write end: closing it releases an idle child
};

Child StartClient(int port, int n, bool idle) {
  int report[2];
  int go[2];
  if (::pipe(report) != 0 || ::pipe(go) != 0) std::abort();
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::close(report[0]);
    ::close(go[1]);
    RunClient(port, n, idle, report[1], go[0]);
  }
  ::close(report[1]);
  ::close(go[0]);
  c.report = report[0];
  c.go = go[1];
  return c;
}

void FinishClient(Child& c) {
  ::close(c.go);
  ::close(c.report);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::abort();
}

// --- The raw libevent server -------------------------------------------------

struct RawServer;

struct RawConn {
  RawServer* server = nullptr;
  int fd = -1;
  event* rev = nullptr;
  event* wev = nullptr;
  std::string pending;  // what the kernel did not take
};

int g_raw_open = 0;  // raw connections not closed yet

void CloseRaw(RawConn* c) {
  --g_raw_open;
  event_free(c->rev);
  event_free(c->wev);
  ::close(c->fd);
  delete c;
}

void OnRawWrite(evutil_socket_t fd, short, void* arg) {
  auto* c = static_cast<RawConn*>(arg);
  ssize_t w = ::send(fd, c->pending.data(), c->pending.size(), MSG_NOSIGNAL);
  if (w < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return CloseRaw(c);
  }
  c->pending.erase(0, static_cast<std::size_t>(w));
  if (c->pending.empty()) event_del(c->wev);
}

void OnRawRead(evutil_socket_t fd, short, void* arg) {
  auto* c = static_cast<RawConn*>(arg);
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return CloseRaw(c);
  const char* p = buf;
  std::size_t left = static_cast<std::size_t>(n);
  if (c->pending.empty()) {  // write at once
    ssize_t w = ::send(fd, p, left, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EINTR) return CloseRaw(c);
    if (w > 0) {
      p += w;
      left -= static_cast<std::size_t>(w);
    }
  }
  if (left > 0) {
    c->pending.append(p, left);
    event_add(c->wev, nullptr);
  }
}

struct RawServer {
  event_base* base = nullptr;
  int lfd = -1;
  event* lev = nullptr;
  int port = 0;
  int accepted = 0;
};

void OnRawAccept(evutil_socket_t lfd, short, void* arg) {
  auto* s = static_cast<RawServer*>(arg);
  for (;;) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new RawConn;
    c->fd = fd;
    c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, &OnRawRead, c);
    c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, &OnRawWrite, c);
    event_add(c->rev, nullptr);
    ++s->accepted;
    ++g_raw_open;
  }
}

void StartRawServer(RawServer& s) {
  s.lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s.lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
  ::listen(s.lfd, 4096);
  socklen_t len = sizeof a;
  ::getsockname(s.lfd, reinterpret_cast<sockaddr*>(&a), &len);
  s.port = ntohs(a.sin_port);
  s.lev = event_new(s.base, s.lfd, EV_READ | EV_PERSIST, &OnRawAccept, &s);
  event_add(s.lev, nullptr);
}

// Runs `base` until the child reports (one read of `size` bytes into out).
void RunUntilReport(event_base* base, int report, void* out, std::size_t size) {
  struct Ctx {
    event_base* base;
    void* out;
    std::size_t size;
  } ctx{base, out, size};
  event* ev = event_new(
      base, report, EV_READ,
      [](evutil_socket_t fd, short, void* arg) {
        auto* c = static_cast<Ctx*>(arg);
        if (::read(fd, c->out, c->size) != static_cast<ssize_t>(c->size)) std::abort();
        event_base_loopbreak(c->base);
      },
      &ctx);
  event_add(ev, nullptr);
  event_base_dispatch(base);
  event_free(ev);
}

// One run of the ping-pong against a server: the client's time and the
// server process's CPU time and allocations per round trip.
struct EchoRun {
  double seconds = 0;
  double cpu_us_per_rt = 0;
  double allocs_per_rt = 0;
};

template <class Run>
EchoRun Measure(event_base* base, int port, int n, Run&& until_report) {
  Child child = StartClient(port, n, false);
  EchoRun out;
  const std::uint64_t allocs0 = heap::allocs;
  const double cpu0 = ProcessCpuSeconds();
  until_report(base, child.report, &out.seconds);
  out.cpu_us_per_rt = (ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(kRoundTrips);
  out.allocs_per_rt =
      static_cast<double>(heap::allocs - allocs0) / static_cast<double>(kRoundTrips);
  FinishClient(child);
  return out;
}

EchoRun RunRawEcho(int n) {
  RawServer s;
  s.base = event_base_new();
  StartRawServer(s);
  EchoRun run = Measure(s.base, s.port, n, [](event_base* b, int report, double* seconds) {
    RunUntilReport(b, report, seconds, sizeof *seconds);
  });
  // The client closed its sockets: let the server see every EOF.
  while (g_raw_open > 0) event_base_loop(s.base, EVLOOP_ONCE);
  event_free(s.lev);
  ::close(s.lfd);
  event_base_free(s.base);
  return run;
}

// --- The asyncio server -------------------------------------------------------

asyncio::Future<void> Echo(asyncio::StreamReader r, asyncio::StreamWriter w) {
  return asyncio::repeat([r, w] {
    return r.read(65536).then([w](std::string data) {
      if (data.empty()) {
        w.close();
        return asyncio::make_ready_future(asyncio::Repeat::STOP);
      }
      w.write(data);
      return w.drain().then([] { return asyncio::Repeat::CONTINUE; });
    });
  });
}

EchoRun RunAsyncioEcho(int n) {
  asyncio::EventLoop loop;
  asyncio::ServerOptions options;
  options.backlog = 4096;
  asyncio::Server server = loop.run_until_complete(
      [&] { return asyncio::start_server(Echo, "127.0.0.1", 0, options); });
  EchoRun run = Measure(loop.native_handle(), server.sockets().at(0).port, n,
                        [](event_base* b, int report, double* seconds) {
                          RunUntilReport(b, report, seconds, sizeof *seconds);
                        });
  loop.run_until_complete([&] {
    server.close();
    return server.wait_closed();  // every handler saw its EOF
  });
  return run;
}

// Each iteration runs both servers, one after the other (in alternating
// order), so that the ratio compares runs seconds apart: on a shared
// machine the throughput drifts more between minutes than between the two
// halves of a pair. With --benchmark_repetitions the median pair is
// reported.
void BM_Echo(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  static int pairs = 0;
  for (auto _ : state) {
    EchoRun raw;
    EchoRun mine;
    if (pairs++ % 2 == 0) {
      raw = RunRawEcho(n);
      mine = RunAsyncioEcho(n);
    } else {
      mine = RunAsyncioEcho(n);
      raw = RunRawEcho(n);
    }
    state.SetIterationTime(mine.seconds);
    const double rt = static_cast<double>(kRoundTrips);
    state.counters["rt_per_s"] = rt / mine.seconds;
    state.counters["raw_rt_per_s"] = rt / raw.seconds;
    state.counters["x_raw"] = raw.seconds / mine.seconds;
    state.counters["server_cpu_us_per_rt"] = mine.cpu_us_per_rt;
    state.counters["raw_server_cpu_us_per_rt"] = raw.cpu_us_per_rt;
    state.counters["x_raw_cpu"] = mine.cpu_us_per_rt / raw.cpu_us_per_rt;
    state.counters["allocs_per_rt"] = mine.allocs_per_rt;
  }
}
BENCHMARK(BM_Echo)->Arg(50)->Arg(1000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

// --- Heap per idle connection ----------------------------------------------------

void BM_Memory_RawIdleConnection(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    RawServer s;
    s.base = event_base_new();
    StartRawServer(s);
    double bytes = 0;
    {
      heap::Window window;
      Child child = StartClient(s.port, n, true);
      char c;
      RunUntilReport(s.base, child.report, &c, 1);
      while (s.accepted < n) event_base_loop(s.base, EVLOOP_ONCE);
      bytes = static_cast<double>(window.bytes()) / n;
      FinishClient(child);
      while (g_raw_open > 0) event_base_loop(s.base, EVLOOP_ONCE);
    }
    state.counters["bytes_per_conn"] = bytes;
    event_free(s.lev);
    ::close(s.lfd);
    event_base_free(s.base);
  }
}
BENCHMARK(BM_Memory_RawIdleConnection)->Arg(1000)->Iterations(1);

void BM_Memory_AsyncioIdleConnection(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    asyncio::EventLoop loop;
    int handlers = 0;
    asyncio::ServerOptions options;
    options.backlog = 4096;
    asyncio::Server server = loop.run_until_complete([&] {
      return asyncio::start_server(
          [&handlers](asyncio::StreamReader r, asyncio::StreamWriter w) {
            ++handlers;
            return Echo(r, w);
          },
          "127.0.0.1", 0, options);
    });
    double bytes = 0;
    {
      heap::Window window;
      Child child = StartClient(server.sockets().at(0).port, n, true);
      char c;
      RunUntilReport(loop.native_handle(), child.report, &c, 1);
      loop.run_until_complete([&] {
        return asyncio::repeat([&] {
          return asyncio::sleep(0.001).then(
              [&] { return handlers < n ? asyncio::Repeat::CONTINUE : asyncio::Repeat::STOP; });
        });
      });
      bytes = static_cast<double>(window.bytes()) / n;
      FinishClient(child);
    }
    loop.run_until_complete([&] {
      server.close();
      return server.wait_closed();
    });
    state.counters["bytes_per_conn"] = bytes;
  }
}
BENCHMARK(BM_Memory_AsyncioIdleConnection)->Arg(1000)->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  const std::vector<bench::TimeFloor> floors = {};
  const std::vector<bench::CounterFloor> counter_floors = {
      {"BM_Memory_AsyncioIdleConnection", "bytes_per_conn", "BM_Memory_RawIdleConnection",
       "bytes_per_conn", "x_raw"},
  };
  auto summary = [](const bench::RatioReporter& r, std::ostream& out) {
    for (const char* args : {"50", "1000"}) {
      const double mine = r.counter("BM_Echo", "rt_per_s", args);
      const double raw = r.counter("BM_Echo", "raw_rt_per_s", args);
      const double x = r.counter("BM_Echo", "x_raw", args);
      if (mine > 0 && raw > 0) {
        bench::Printf(out,
                      "  echo, %s connections: asyncio streams %.0f round trips/s, raw "
                      "libevent %.0f: %.2fx (median of the pairs' ratios; target >= 0.9)\n",
                      args, mine, raw, x);
      }
      const double mine_cpu = r.counter("BM_Echo", "server_cpu_us_per_rt", args);
      const double raw_cpu = r.counter("BM_Echo", "raw_server_cpu_us_per_rt", args);
      const double x_cpu = r.counter("BM_Echo", "x_raw_cpu", args);
      if (mine_cpu > 0 && raw_cpu > 0) {
        bench::Printf(out,
                      "  echo, %s connections: server CPU per round trip %.2f us, raw "
                      "libevent %.2f us: %.2fx\n",
                      args, mine_cpu, raw_cpu, x_cpu);
      }
    }
    const double mem = r.counter("BM_Memory_AsyncioIdleConnection", "bytes_per_conn", "1000");
    const double raw_mem = r.counter("BM_Memory_RawIdleConnection", "bytes_per_conn", "1000");
    if (mem > 0) {
      bench::Printf(out,
                    "  heap per idle connection: asyncio %.0f bytes, raw libevent %.0f "
                    "bytes\n",
                    mem, raw_mem);
    }
  };
  return bench::Main(argc, argv, floors, counter_floors, summary);
}
