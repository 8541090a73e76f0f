#include "asyncio/run.h"

#include <memory>
#include <vector>

namespace asyncio {
namespace internal {

void check_no_running_loop() {
  if (running_loop() != nullptr)
    throw RuntimeError(
        "asyncio::run() cannot be called from a running event loop");
}

namespace {

void cancel_all_tasks(EventLoop& loop) {
  std::vector<AnyTask> tasks = all_tasks(loop);
  if (tasks.empty()) return;
  for (const AnyTask& t : tasks) t.cancel();
  // Wait for all of them (asyncio: gather(*tasks, return_exceptions=True)).
  Promise<void> all_done(loop);
  auto left = std::make_shared<std::size_t>(tasks.size());
  auto promise = std::make_shared<Promise<void>>(std::move(all_done));
  Future<void> waiter = promise->get_future();
  for (const AnyTask& t : tasks) {
    t.add_done_callback([left, promise] {
      if (--*left == 0) promise->set_result();
    });
  }
  loop.run_until_complete(waiter);
  for (const AnyTask& t : tasks) {
    if (t.cancelled()) continue;
    if (std::exception_ptr e = t.exception()) {
      loop.call_exception_handler(ExceptionContext{
          "unhandled exception during asyncio::run() shutdown", e,
          t.get_name()});
    }
  }
}

}  // namespace

void shutdown(EventLoop& loop) {
  cancel_all_tasks(loop);
  // asyncio.run then awaits loop.shutdown_asyncgens() and
  // loop.shutdown_default_executor(), each a task of its own. This library
  // has no async generators, so the first step is a task with nothing to
  // do (the loop turns as asyncio's does); the second waits until the
  // default executor's threads have finished.
  loop.run_until_complete([] {});
  loop.run_until_complete([&loop] { return loop.shutdown_default_executor(); });
}

}  // namespace internal
}  // namespace asyncio
