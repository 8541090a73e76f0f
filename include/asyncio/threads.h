// asyncio/threads.h — the doors between a loop and other threads:
// to_thread, executors, run_in_executor, run_coroutine_threadsafe.
//
//   std::string read_config();                       // blocking
//   asyncio::to_thread(read_config)                  // runs in a worker thread
//       .then([](const std::string& text) { ... });  // back on the loop thread
//
//   // From a thread that runs no loop:
//   asyncio::ConcurrentFuture<int> f =
//       asyncio::run_coroutine_threadsafe([] { return work(); }, loop);
//   int v = f.get();                                 // blocks this thread
//
// Futures, tasks and handles are loop-affine (reference counts are not
// atomic): these functions, EventLoop::call_soon_threadsafe and
// EventLoop::is_running are the only ways across threads, and each says so.
//
// Contract.
//  * to_thread(f, args...) runs f(args...) on the running loop's default
//    executor and returns a Future of its result, completed on the loop
//    thread (asyncio.to_thread). An exception f throws arrives on that
//    future. Cancelling the future cannot stop f: the future ends cancelled
//    at once and f's late result is dropped — on f's thread, touching
//    nothing of the loop's, even when the loop has been closed and
//    destroyed meanwhile.
//  * While f runs, thread_context() in its thread names the task that
//    called to_thread (asyncio copies contextvars into the thread).
//  * ThreadPoolExecutor(max_workers): threads started lazily, at most
//    max_workers (0: min(32, cores + 4), as asyncio's default). submit()
//    after shutdown() is a RuntimeError. shutdown(wait, cancel_futures):
//    no new work; cancel_futures drops the work not started yet (its
//    futures end cancelled); wait joins the threads. Destroying an executor
//    that was not shut down shuts it down and waits; one shut down without
//    waiting lets its threads finish on their own.
//  * EventLoop::run_in_executor(executor, f): as to_thread on `executor`
//    (nullptr: the default one). On a closed loop: RuntimeError.
//  * run_coroutine_threadsafe(callable, loop): from any thread, schedules
//    callable (a "coroutine": returns T, Future<T> or Task<T>) as a task
//    on `loop` and returns a ConcurrentFuture<T> (a std::future<T> with
//    cancel()). Cancelling the task on the loop side shows up as
//    CancelledError from get(); cancel() from the calling thread cancels
//    the task. A loop that closes first ends it with CancelledError. On a
//    closed loop it throws RuntimeError.
//
// Thread affinity: to_thread and run_in_executor on the loop thread;
// run_coroutine_threadsafe, ConcurrentFuture and the executors from any
// thread. Ownership: the work's callable and arguments move to the worker
// thread and die there. Cost: one loop-side job (the future's state and
// the job), one work item queued under the executor's mutex, one
// call_soon_threadsafe back.
#ifndef ASYNCIO_THREADS_H_
#define ASYNCIO_THREADS_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/outcome.h"
#include "asyncio/task.h"

namespace asyncio {

// asyncio::Executor
//
// Where run_in_executor sends work. Thread-safe: may be called from any
// thread.
class Executor {
 public:
  virtual ~Executor() = default;

  // Executor::submit
  //
  // Runs work() on some thread; if the work is dropped before it started
  // (shutdown with cancel_futures), calls cancel() instead, on the thread
  // that shut the executor down. Throws RuntimeError after shutdown.
  virtual void submit(absl::AnyInvocable<void()> work,
                      absl::AnyInvocable<void()> cancel) = 0;

  // Executor::shutdown
  virtual void shutdown(bool wait = true, bool cancel_futures = false) = 0;
};

// asyncio::ThreadPoolExecutor
class ThreadPoolExecutor final : public Executor {
 public:
  // max_workers <= 0: min(32, std::thread::hardware_concurrency() + 4).
  explicit ThreadPoolExecutor(int max_workers = 0);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void submit(absl::AnyInvocable<void()> work,
              absl::AnyInvocable<void()> cancel) override;
  void shutdown(bool wait = true, bool cancel_futures = false) override;

  int max_workers() const noexcept { return max_workers_; }
  // The number of threads started so far (lazily, as work arrives).
  int threads_started() const;

  struct Shared;  // the queue and the threads' state (lib/threads.cc)

 private:
  int max_workers_;
  std::shared_ptr<Shared> shared_;
};

// asyncio::ThreadContext
//
// What a worker thread knows of the code that sent it work.
struct ThreadContext {
  std::string task_name;  // the task that called to_thread; empty if none
};

// asyncio::thread_context
//
// In a function run by to_thread / run_in_executor: the caller's context.
// Elsewhere: an empty context. Thread-safe (thread-local).
const ThreadContext& thread_context();

namespace internal {

// Sets thread_context() for one piece of work on this thread.
class ThreadContextScope {
 public:
  explicit ThreadContextScope(ThreadContext* ctx) noexcept;
  ~ThreadContextScope();
  ThreadContextScope(const ThreadContextScope&) = delete;
  ThreadContextScope& operator=(const ThreadContextScope&) = delete;

 private:
  const ThreadContext* saved_;
};

std::string current_task_name_or_empty();
void set_default_executor_if_none(EventLoop& loop);

// The loop side of one run_in_executor call: the promise, kept in the
// loop's job list until the result comes back or the loop closes.
template <class R>
class ExecutorJobState final : public ExecutorJob {
 public:
  explicit ExecutorJobState(EventLoop& loop) : loop_(&loop), promise_(loop) {}

  Future<R> future() const { return promise_.get_future(); }

  // On the loop thread: the result came back.
  void complete(Outcome<R>&& out) {
    loop_->remove_job(this);
    if (!promise_.done()) {  // a cancelled future drops the late result
      if (out.has_exception()) {
        promise_.set_exception(out.exception());
      } else if constexpr (std::is_void_v<R>) {
        promise_.set_result();
      } else {
        promise_.set_result(std::move(out).value());
      }
    }
    delete this;
  }
  // On the loop thread: the work was dropped before it started.
  void cancel_work() {
    loop_->remove_job(this);
    if (!promise_.done()) (void)promise_.get_future().cancel();
    delete this;
  }
  void abandon() override {
    if (!promise_.done()) (void)promise_.get_future().cancel("Event loop is closed");
    delete this;
  }

 private:
  EventLoop* loop_;
  Promise<R> promise_;
};

// Runs f on a worker thread and captures its outcome (never throws).
template <class R, class F>
Outcome<R> run_capturing(F& f) {
  try {
    if constexpr (std::is_void_v<R>) {
      f();
      return Outcome<R>();
    } else {
      return Outcome<R>(f());
    }
  } catch (...) {
    return Outcome<R>(std::current_exception(), false);
  }
}

}  // namespace internal

template <class F>
auto EventLoop::run_in_executor(Executor* executor, F&& f) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>,
                "run_in_executor takes a callable with no arguments");
  using R = std::decay_t<std::invoke_result_t<Fn&>>;
  if (closed_) throw RuntimeError("Event loop is closed");
  Executor* ex = executor != nullptr ? executor : &default_executor();
  auto* job = new internal::ExecutorJobState<R>(*this);
  Future<R> result = job->future();
  std::shared_ptr<internal::LoopDoor> door = door_;
  // The worker holds the job only as a token: it is dereferenced on the
  // loop thread, and only while the loop still lists it.
  auto work = [job, door,
               ctx = ThreadContext{internal::current_task_name_or_empty()},
               fn = Fn(std::forward<F>(f))]() mutable {
    Outcome<R> out = [&] {
      internal::ThreadContextScope scope(&ctx);
      return internal::run_capturing<R>(fn);
    }();
    door->post([job, out = std::move(out)]() mutable {
      job->complete(std::move(out));
    });
  };
  auto cancel = [job, door] { door->post([job] { job->cancel_work(); }); };
  add_job(job);
  try {
    ex->submit(std::move(work), std::move(cancel));
  } catch (...) {
    remove_job(job);
    job->abandon();
    throw;
  }
  return result;
}

// asyncio::to_thread
//
// f(args...) on the running loop's default executor; Future of its result.
// Throws RuntimeError outside a running loop.
template <class F, class... Args>
[[nodiscard]] auto to_thread(F&& f, Args&&... args) {
  return get_running_loop().run_in_executor(
      nullptr, [fn = std::decay_t<F>(std::forward<F>(f)),
                tup = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)]() mutable {
        return std::apply(fn, std::move(tup));
      });
}

// asyncio::ConcurrentFuture<T>
//
// A std::future<T> for the outcome of work on a loop, plus cancel().
// Thread-safe as std::future is (one consumer), and cancel() may be called
// from any thread.
template <class T>
class ConcurrentFuture : public std::future<T> {
 public:
  ConcurrentFuture() = default;
  ConcurrentFuture(std::future<T> f, std::function<bool()> cancel)
      : std::future<T>(std::move(f)), cancel_(std::move(cancel)) {}

  // ConcurrentFuture<T>::cancel
  //
  // Asks the loop to cancel the task; false when the loop is closed or
  // gone. get() then throws CancelledError, unless the task caught it.
  bool cancel() const { return cancel_ ? cancel_() : false; }

 private:
  std::function<bool()> cancel_;
};

namespace internal {

// Shared by a run_coroutine_threadsafe caller and the loop. The task
// handle is touched on the loop thread only.
template <class T>
struct CrossThreadCall {
  std::promise<T> promise;
  std::atomic<bool> settled{false};
  std::atomic<bool> cancel_requested{false};
  AnyTask task;  // loop thread only

  void set(Outcome<T>&& out) {
    if (settled.exchange(true)) return;
    if (out.has_exception()) {
      promise.set_exception(out.exception());
    } else if constexpr (std::is_void_v<T>) {
      promise.set_value();
    } else {
      promise.set_value(std::move(out).value());
    }
  }
};

// Settles the call with "loop closed" if nothing else did, and lets go of
// the task handle; destroyed on the loop thread (run or discarded there).
template <class T>
struct CrossThreadGuard {
  std::shared_ptr<CrossThreadCall<T>> call;
  explicit CrossThreadGuard(std::shared_ptr<CrossThreadCall<T>> c) : call(std::move(c)) {}
  CrossThreadGuard(CrossThreadGuard&&) = default;
  ~CrossThreadGuard() {
    if (!call) return;
    call->task = AnyTask();
    call->set(Outcome<T>(std::make_exception_ptr(CancelledError("Event loop is closed")), true));
  }
};

}  // namespace internal

// asyncio::run_coroutine_threadsafe
//
// Thread-safe: may be called from any thread (the loop's own included,
// though then get() must not be called before the loop runs the task).
template <class F>
auto run_coroutine_threadsafe(F&& f, EventLoop& loop) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>,
                "run_coroutine_threadsafe takes a callable (the coroutine "
                "function), not its result");
  using T = internal::awaitable_value_t<Fn>;
  auto call = std::make_shared<internal::CrossThreadCall<T>>();
  std::future<T> fut = call->promise.get_future();
  std::shared_ptr<internal::LoopDoor> door = loop.door();
  bool posted = door->post(
      [guard = internal::CrossThreadGuard<T>(call), fn = Fn(std::forward<F>(f))]() mutable {
        // On the loop thread.
        std::shared_ptr<internal::CrossThreadCall<T>> c = guard.call;
        Task<T> task;
        try {
          task = get_running_loop().create_task(std::move(fn));
        } catch (...) {
          c->set(Outcome<T>(std::current_exception(), false));
          return;
        }
        c->task = AnyTask(task);
        if (c->cancel_requested.load()) task.cancel();
        task.add_done_callback(
            [g = std::move(guard)](Future<T> done) mutable {
              std::shared_ptr<internal::CrossThreadCall<T>> c2 = g.call;
              internal::FutureState<T>* s = internal::FutureAccess::state(done);
              if (s->has_error()) {
                c2->set(Outcome<T>(s->take_error(), s->error_is_cancel()));
              } else if constexpr (std::is_void_v<T>) {
                c2->set(Outcome<T>());
              } else {
                try {
                  c2->set(Outcome<T>(s->transfer_value()));
                } catch (...) {
                  c2->set(Outcome<T>(std::current_exception(), false));
                }
              }
            });
      });
  if (!posted) throw RuntimeError("Event loop is closed");
  std::weak_ptr<internal::CrossThreadCall<T>> weak = call;
  return ConcurrentFuture<T>(std::move(fut), [weak, door]() -> bool {
    std::shared_ptr<internal::CrossThreadCall<T>> c = weak.lock();
    if (!c || c->settled.load()) return false;
    c->cancel_requested.store(true);
    return door->post([c] {
      if (c->task) c->task.cancel();
    });
  });
}

}  // namespace asyncio

#endif  // ASYNCIO_THREADS_H_
