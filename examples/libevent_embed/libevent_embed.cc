// libevent_embed: an existing libevent program adopts its event_base into
// an asyncio EventLoop and runs tasks, sleeps and futures inside its own
// event_base_dispatch().
//
// The libevent program (plain C API, as it was before the library came in):
//  * a "device" at one end of a socketpair: it greets, then sends one
//    reading each time it is asked, after 10 ms on its own timer event;
//  * a reader event at the other end that splits what arrives into lines.
//
// What the library adds, all on the application's event_base:
//  * EventLoop loop(base) — adopts the base (does not own it);
//  * a Promise the reader completes with the greeting (a future fulfilled
//    from an application callback, on the loop's thread);
//  * a Queue the reader fills through loop.call_soon (the door for code
//    running outside the library's callbacks);
//  * a task that awaits the greeting, asks for three readings, processes
//    each with a sleep, then gathers two sub-tasks; its done-callback makes
//    event_base_dispatch() return (event_base_loopexit).
// Shutdown: the application frees its events, closes the loop (nothing is
// pending by then), destroys it, and only then frees the base.
//
// Output (the order is causal, never a race of timers):
//
//   app: device says hello device-7
//   task: connected to device-7
//   app: reading 1 = 21
//   task: reading 1 processed
//   app: reading 2 = 23
//   task: reading 2 processed
//   app: reading 3 = 25
//   task: reading 3 processed
//   task: stored 3 readings; average 23.0
//   app: the task is done; leaving event_base_dispatch
//   app: shut down cleanly
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "asyncio/asyncio.h"

namespace {

// --- The libevent program ----------------------------------------------------

struct App {
  event_base* base = nullptr;
  int device_fd = -1;  // the device's end of the socketpair
  int host_fd = -1;    // the application's end
  event* device_timer = nullptr;    // sends the next reading
  event* device_request = nullptr;  // the device reads requests
  event* host_reader = nullptr;     // the application reads lines
  std::string host_buffer;
  int next_value = 21;
  // Set by the embedding code: what the reader does with each line.
  void (*on_line)(App*, const std::string&) = nullptr;
  void* user = nullptr;
};

void write_all(int fd, const std::string& text) {
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n <= 0) {
      std::perror("write");
      std::exit(1);
    }
    off += static_cast<std::size_t>(n);
  }
}

// The device's timer: one reading, then wait for the next request.
void on_device_timer(evutil_socket_t, short, void* arg) {
  auto* app = static_cast<App*>(arg);
  write_all(app->device_fd, "reading " + std::to_string(app->next_value) + "\n");
  app->next_value += 2;
}

// The device got a request ("next\n"): answer after 10 ms.
void on_device_request(evutil_socket_t fd, short, void* arg) {
  auto* app = static_cast<App*>(arg);
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) return;
  timeval ten_ms{0, 10 * 1000};
  evtimer_add(app->device_timer, &ten_ms);
}

// The application's reader: whole lines go to on_line.
void on_host_readable(evutil_socket_t fd, short, void* arg) {
  auto* app = static_cast<App*>(arg);
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) return;
  app->host_buffer.append(buf, static_cast<std::size_t>(n));
  std::size_t eol;
  while ((eol = app->host_buffer.find('\n')) != std::string::npos) {
    std::string line = app->host_buffer.substr(0, eol);
    app->host_buffer.erase(0, eol + 1);
    app->on_line(app, line);
  }
}

// --- The embedding -------------------------------------------------------------

// What the application's callbacks share with the library's side.
struct Bridge {
  asyncio::EventLoop* loop;
  asyncio::Promise<std::string> greeting;  // the device's name
  asyncio::Queue<int> readings;
  int received = 0;
};

// Runs inside the application's reader callback: no library callback is
// running, so it uses the loop's members (Promise on that loop,
// loop.call_soon), never the free functions that need a running loop.
void hand_line_to_library(App* app, const std::string& line) {
  auto* bridge = static_cast<Bridge*>(app->user);
  if (line.rfind("hello ", 0) == 0) {
    std::printf("app: device says %s\n", line.c_str());
    bridge->greeting.set_result(line.substr(6));
  } else if (line.rfind("reading ", 0) == 0) {
    int value = std::atoi(line.c_str() + 8);
    std::printf("app: reading %d = %d\n", ++bridge->received, value);
    asyncio::Queue<int> readings = bridge->readings;
    bridge->loop->call_soon([readings, value] { readings.put_nowait(value); });
  }
}

// The library's side: ordinary asyncio code (it runs inside library
// callbacks, so sleep, create_task and Queue::get find the running loop).
asyncio::Future<void> process_readings(App* app, Bridge* bridge) {
  auto values = std::make_shared<std::vector<int>>();
  return bridge->greeting.get_future()
      .then([app](const std::string& name) {
        std::printf("task: connected to %s\n", name.c_str());
        write_all(app->host_fd, "next\n");
      })
      .then([app, bridge, values] {
        return asyncio::repeat([app, bridge, values] {
          return bridge->readings.get().then([app, values](int value) {
            values->push_back(value);
            return asyncio::sleep(0.005).then([app, values] {  // processing
              std::printf("task: reading %zu processed\n", values->size());
              if (values->size() == 3) return asyncio::Repeat::STOP;
              write_all(app->host_fd, "next\n");
              return asyncio::Repeat::CONTINUE;
            });
          });
        });
      })
      .then([values] {
        // Two sub-tasks, concurrently: "store" and "average".
        auto store = [values] { return asyncio::sleep(0.02, values->size()); };
        auto average = [values] {
          double sum = 0;
          for (int v : *values) sum += v;
          return asyncio::sleep(0.01, sum / values->size());
        };
        return asyncio::gather(store, average);
      })
      .then([](const std::tuple<std::size_t, double>& r) {
        std::printf("task: stored %zu readings; average %.1f\n",
                    std::get<0>(r), std::get<1>(r));
      });
}

}  // namespace

int main() {
  App app;
  app.base = event_base_new();
  int fds[2];
  if (app.base == nullptr || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    std::perror("setup");
    return 1;
  }
  app.device_fd = fds[0];
  app.host_fd = fds[1];
  evutil_make_socket_nonblocking(app.device_fd);
  evutil_make_socket_nonblocking(app.host_fd);
  app.device_timer = evtimer_new(app.base, on_device_timer, &app);
  app.device_request = event_new(app.base, app.device_fd, EV_READ | EV_PERSIST,
                                 on_device_request, &app);
  app.host_reader = event_new(app.base, app.host_fd, EV_READ | EV_PERSIST,
                              on_host_readable, &app);
  event_add(app.device_request, nullptr);
  event_add(app.host_reader, nullptr);

  {
    // The library joins the application's base.
    asyncio::EventLoop loop(app.base);
    Bridge bridge{&loop, asyncio::Promise<std::string>(loop), asyncio::Queue<int>()};
    app.on_line = hand_line_to_library;
    app.user = &bridge;

    asyncio::Task<void> task =
        loop.create_task([&app, &bridge] { return process_readings(&app, &bridge); });
    task.add_done_callback([&app] {
      std::puts("app: the task is done; leaving event_base_dispatch");
      event_base_loopexit(app.base, nullptr);
    });

    // The device greets as soon as the application's loop runs.
    write_all(app.device_fd, "hello device-7\n");
    if (event_base_dispatch(app.base) != 0) return 1;
    task.result();  // rethrows if the task failed

    // The application's events go first, then the library's loop (its
    // destructor removes its own two events), then the base.
    event_free(app.host_reader);
    event_free(app.device_request);
    event_free(app.device_timer);
    loop.close();
  }
  event_base_free(app.base);
  close(app.device_fd);
  close(app.host_fd);
  std::puts("app: shut down cleanly");
  return 0;
}
