// asyncio/task.h — Task<T>: a future that runs a "coroutine".
//
// In this library a coroutine is a callable that returns a Future<T> (or a
// Task<T>, or a plain T). create_task(f) wraps it in a Task<T> and schedules
// its first step: f runs on a later loop iteration, then the task waits on
// the future f returned and completes with its outcome.
//
//   asyncio::Future<std::string> work() {
//     return asyncio::sleep(1).then([] { return std::string("done"); });
//   }
//   asyncio::Future<void> main_task() {
//     asyncio::Task<std::string> task = asyncio::create_task(work);
//     return task.then([](const std::string& r) { std::cout << r << "\n"; });
//   }
//
// Contract.
//  * A Task<T> is a Future<T> (it converts to one and shares its state):
//    then(), result(), add_done_callback() ... all work on it.
//  * When the body returns a then-stage chain, the task completes in the
//    step its last continuation runs (same-step forwarding, future.h): a
//    cancel() later in that iteration finds the task done and returns
//    false. When it returns a Promise's future, a sleep or another Task,
//    the task completes one iteration after that future, as in asyncio.
//  * cancel(msg) on a pending task cancels the future it waits on (and
//    whatever is pending up that future's chain); before the first step the
//    body never runs. The task ends cancelled when the CancelledError comes
//    back out of its chain; a chain that catches CancelledError and returns
//    a value makes the task complete normally (asyncio's semantics).
//    cancelling() counts cancel requests; uncancel() takes one back.
//  * current_task(), inside the body or inside any continuation created
//    while the task's code ran, returns that task.
//  * Names default to "Task-N", N counting every task of the process.
//  * The loop keeps every pending task alive: dropping the Task handle does
//    not stop it. all_tasks() lists the pending ones in creation order.
//
// Thread affinity: loop thread only. Ownership: the task owns the body
// callable until its first step has run, and then the future it returned
// until that completes. Cost: one allocation (state and body together).
#ifndef ASYNCIO_TASK_H_
#define ASYNCIO_TASK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/internal/task_state.h"

namespace asyncio {

class AnyTask;

// asyncio::Task<T>
template <class T>
class Task : public Future<T> {
 public:
  // An empty Task (valid() == false).
  Task() noexcept = default;

  // Task<T>::get_name / set_name
  std::string get_name() const { return core()->name(); }
  void set_name(std::string name) const { core()->set_name(std::move(name)); }

  // Task<T>::cancelling: the number of pending cancel requests.
  int cancelling() const { return core()->cancelling; }

  // Task<T>::uncancel: takes one cancel request back; returns the rest.
  // When none is left, a cancellation not yet delivered is dropped.
  int uncancel() const {
    internal::TaskCore* c = core();
    if (c->cancelling > 0 && --c->cancelling == 0)
      this->checked()->clear_cancel_request();
    return c->cancelling;
  }

 private:
  friend class EventLoop;
  friend class AnyTask;
  explicit Task(internal::FutureState<T>* adopted) noexcept
      : Future<T>(adopted) {}
  internal::TaskCore* core() const { return this->checked()->task_core(); }
};

// asyncio::AnyTask
//
// A type-erased handle to a task of any T (what current_task() and
// all_tasks() return). Empty when no task is meant; hashable and comparable
// by identity.
class AnyTask {
 public:
  AnyTask() noexcept = default;
  template <class T>
  AnyTask(const Task<T>& task)  // NOLINT: implicit, like Task -> Future
      : AnyTask(internal::FutureAccess::state(task)) {}
  explicit AnyTask(internal::FutureStateBase* state) noexcept;
  AnyTask(const AnyTask& other) noexcept;
  AnyTask& operator=(const AnyTask& other) noexcept;
  AnyTask(AnyTask&& other) noexcept;
  AnyTask& operator=(AnyTask&& other) noexcept;
  ~AnyTask();

  explicit operator bool() const noexcept { return state_ != nullptr; }

  bool done() const;
  bool cancelled() const;
  bool cancel(const std::string& msg = std::string()) const;
  // AnyTask::exception: as Future<T>::exception().
  std::exception_ptr exception() const;
  std::string get_name() const;
  void set_name(std::string name) const;
  int cancelling() const;
  int uncancel() const;
  EventLoop& get_loop() const;
  // AnyTask::add_done_callback: as Future<T>::add_done_callback(cb()).
  std::uint64_t add_done_callback(absl::AnyInvocable<void()> cb) const;

  friend bool operator==(const AnyTask& a, const AnyTask& b) {
    return a.state_ == b.state_;
  }
  friend bool operator!=(const AnyTask& a, const AnyTask& b) {
    return a.state_ != b.state_;
  }
  template <class T>
  friend bool operator==(const AnyTask& a, const Task<T>& b) {
    return a.state_ == internal::FutureAccess::state(b);
  }
  template <class H>
  friend H AbslHashValue(H h, const AnyTask& t) {
    return H::combine(std::move(h), t.state_);
  }
  std::size_t hash() const noexcept {
    return std::hash<const void*>()(state_);
  }

 private:
  internal::FutureStateBase* checked() const;
  internal::FutureStateBase* state_ = nullptr;
};

// asyncio::create_task
//
// loop.create_task() on the running loop. Throws RuntimeError when no loop
// runs in this thread.
template <class F>
auto create_task(F&& f, std::string name = std::string(),
                 SourceLocation where = SourceLocation::current()) {
  return get_running_loop().create_task(std::forward<F>(f), std::move(name),
                                        where);
}

// asyncio::ensure_future
//
// The future an awaitable stands for: a Future<T> or Task<T> as it is (a
// Task keeps running; the Future shares its state), a callable wrapped in a
// task on the running loop, as create_task(aw) would. The combinators
// (gather, wait, ...) call it on each argument, in argument order.
// Throws InvalidStateError for an empty future, RuntimeError when a
// callable is given and no loop runs in this thread.
template <class A>
Future<internal::awaitable_value_t<A>> ensure_future(A&& aw) {
  using D = std::decay_t<A>;
  if constexpr (internal::FutureLike<D>::value) {
    Future<internal::awaitable_value_t<A>> f = std::forward<A>(aw);
    if (!f.valid()) internal::throw_invalid_state("empty Future");
    return f;
  } else {
    return create_task(std::forward<A>(aw));
  }
}

// asyncio::current_task
//
// The task whose code is running, or an empty AnyTask. Throws RuntimeError
// when no loop runs in this thread.
AnyTask current_task();

// asyncio::all_tasks
//
// The loop's pending tasks, in creation order (default: the running loop).
std::vector<AnyTask> all_tasks();
std::vector<AnyTask> all_tasks(EventLoop& loop);

template <class F>
auto EventLoop::create_task(F&& f, std::string name, SourceLocation where) {
  using Fn = std::decay_t<F>;
  if constexpr (internal::FutureLike<Fn>::value) {
    static_assert(!internal::FutureLike<Fn>::value,
                  "create_task takes the coroutine function, not its result: "
                  "write create_task(work), not create_task(work())");
  } else if constexpr (!std::is_invocable_v<Fn&>) {
    static_assert(std::is_invocable_v<Fn&>,
                  "create_task takes a callable with no arguments (bind "
                  "arguments with a lambda: [=] { return work(x); })");
  } else {
    using R = std::decay_t<std::invoke_result_t<Fn&>>;
    using T = internal::continuation_value_t<R>;
    if (closed_) throw RuntimeError("Event loop is closed");
    const bool debug = get_debug();
    if (debug) check_thread("EventLoop::create_task");
    auto* st = new internal::TaskState<T, Fn>(this, Fn(std::forward<F>(f)),
                                              std::move(name));
    if (debug) {
      record_site(st, where);
      st->set_has_site();
    }
    register_task(st);
    st->add_ref();  // the ready queue's reference, for the first step
    enqueue(st);
    return Task<T>(st);
  }
}

}  // namespace asyncio

namespace std {
template <>
struct hash<asyncio::AnyTask> {
  std::size_t operator()(const asyncio::AnyTask& t) const noexcept {
    return t.hash();
  }
};
}  // namespace std

#endif  // ASYNCIO_TASK_H_
