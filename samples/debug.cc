// Debug: asyncio's debug mode (the seed's "Debug" section). main runs with
// debug mode on (RunOptions::debug; ASYNCIO_CPP_DEBUG=1 in the environment
// does the same for any program) and provokes the three reports a hung or
// misbehaving program most needs, which the default log handler writes to
// stderr, one line each (the dump: one line per task):
//
//  * a callback that blocks the loop for 150 ms, over the 100 ms
//    slow_callback_duration:
//      asyncio WARNING: Executing callback scheduled at samples/debug.cc:54 took 0.150 seconds
//  * a task that fails while nobody keeps its handle:
//      asyncio ERROR: Task exception was never retrieved; future: fetcher created at samples/debug.cc:57; exception: connection refused
//  * a task dump (what `kill -USR1 <pid>` prints at any time while it runs,
//    for a program that seems hung), a tree of who waits for whom:
//      asyncio INFO: Task dump: 4 pending tasks at loop time 22299.021
//      Task-1 (running) created at samples/debug.cc:77
//      consumer (pending) created at samples/debug.cc:61, waiting on Queue.get
//      waiter (pending) created at samples/debug.cc:64, waiting on watchdog
//        watchdog (pending) created at samples/debug.cc:63, waiting on sleep, due at 22308.969 (in 9.947 s) created at samples/debug.cc:63
//
// (file names are as the compiler saw them; times vary). On stdout it
// prints:
//
//   debug mode: on
//   done
//
// The seed's Python has no program for this section; the nearest is
//
//   asyncio.run(main(), debug=True)
//   # Executing <Handle ...> took 0.150 seconds
//   # Task exception was never retrieved
#include <chrono>
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "asyncio/asyncio.h"

namespace {

asyncio::Future<void> fetch() {
  return asyncio::sleep(0.01).then(
      [] { throw std::runtime_error("connection refused"); });
}

}  // namespace

asyncio::Future<void> main_() {
  asyncio::EventLoop& loop = asyncio::get_running_loop();
  std::printf("debug mode: %s\n", loop.get_debug() ? "on" : "off");
  std::fflush(stdout);

  // A callback that blocks the loop: reported as slow.
  loop.call_soon([] { std::this_thread::sleep_for(std::chrono::milliseconds(150)); });

  // A task whose exception nobody retrieves: reported when it is dropped.
  (void)asyncio::create_task(fetch, "fetcher");

  // Tasks that wait, for the dump: on a queue, on a sleep, on another task.
  asyncio::Queue<int> queue;
  (void)asyncio::create_task(
      [queue] { return queue.get().then([queue](int) {}); }, "consumer");
  auto watchdog = asyncio::create_task([] { return asyncio::sleep(10); }, "watchdog");
  (void)asyncio::create_task([watchdog] { return asyncio::Future<void>(watchdog); },
                             "waiter");

  return asyncio::sleep(0.2).then([] {
    asyncio::dump_tasks();  // as SIGUSR1 would
    std::puts("done");
  });
}

int main() {
  asyncio::RunOptions options;
  options.debug = true;
  options.dump_tasks_signal = SIGUSR1;
  asyncio::run(main_, options);
}
