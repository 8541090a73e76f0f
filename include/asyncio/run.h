// asyncio/run.h — run(main): the entry point of an asyncio program.
//
//   asyncio::Future<void> main_task() {
//     return asyncio::sleep(1).then([] { std::puts("hello"); });
//   }
//   int main() { asyncio::run(main_task); }
//
// Contract (asyncio.run): creates a new event loop, runs `main` (a callable
// returning T, Future<T> or Task<T>) as a task until it completes, then
// cancels every task still pending and runs the loop until they have
// finished, then shuts the default executor down and waits for its threads
// (the loop keeps running meanwhile), then closes the loop. Returns main's result or rethrows its
// exception. Throws RuntimeError when a loop already runs in this thread.
// Exceptions of leftover tasks (other than cancellation) go to the loop's
// exception handler.
//
// Thread affinity: any thread with no running loop; the loop lives and dies
// inside the call.
#ifndef ASYNCIO_RUN_H_
#define ASYNCIO_RUN_H_

#include <type_traits>
#include <utility>

#include "asyncio/event_loop.h"
#include "asyncio/task.h"

namespace asyncio {

// asyncio::RunOptions
struct RunOptions {
  // Run on a virtual clock (see EventLoop::Options).
  bool virtual_clock = false;
  // Run the loop in debug mode (asyncio.run(debug=True); asyncio/debug.h).
  // false leaves it to the ASYNCIO_CPP_DEBUG environment variable.
  bool debug = false;
  // Non-zero: dump_tasks() on this signal, e.g. SIGUSR1
  // (EventLoop::dump_tasks_on_signal).
  int dump_tasks_signal = 0;
};

namespace internal {
// What asyncio.run does after main: cancels the loop's pending tasks and
// runs the loop until they are done, then lets the loop turn as asyncio's
// shutdown steps do.
void shutdown(EventLoop& loop);
void check_no_running_loop();
}  // namespace internal

// asyncio::run
template <class F>
auto run(F&& main, RunOptions options = RunOptions(),
         SourceLocation where = SourceLocation::current()) {
  internal::check_no_running_loop();
  EventLoop loop(EventLoop::Options{options.virtual_clock, options.debug,
                                    options.dump_tasks_signal});
  auto task = loop.create_task(std::forward<F>(main), std::string(), where);
  using T = typename internal::FutureLike<decltype(task)>::value_t;
  auto finish = [&loop] {
    internal::shutdown(loop);
    loop.close();
  };
  try {
    if constexpr (std::is_void_v<T>) {
      loop.run_until_complete(std::move(task));
      finish();
    } else {
      T result = loop.run_until_complete(std::move(task));
      finish();
      return result;
    }
  } catch (...) {
    if (!loop.is_closed()) finish();
    throw;
  }
}

}  // namespace asyncio

#endif  // ASYNCIO_RUN_H_
