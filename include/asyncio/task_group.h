// asyncio/task_group.h — task_group() and TaskGroup: structured concurrency
// (asyncio.TaskGroup, CPython 3.13).
//
// Python's
//
//   async with asyncio.TaskGroup() as tg:
//       tg.create_task(fetch("a"))
//       tg.create_task(fetch("b"))
//   print("both done")
//
// is written
//
//   asyncio::task_group([](asyncio::TaskGroup tg) {
//     tg.create_task([] { return fetch("a"); });
//     tg.create_task([] { return fetch("b"); });
//   }).then([] { std::puts("both done"); });
//
// where the returned future is returned into the task's chain (awaited by
// the task that called task_group), as the `async with` block is part of
// the coroutine.
//
// Contract.
//  * task_group(body) must be called while a task's code runs (the body of
//    a task, or a continuation created while its code ran): that task is
//    the group's parent. Elsewhere it throws RuntimeError, before the body
//    is called.
//  * The body is called at once, synchronously, with a TaskGroup handle; it
//    returns R, Future<R>, Task<R>, Outcome<R> or void (R = void), or
//    throws. The returned Future<R> completes when the body's future is done
//    and every child of the group is done: with the body's value, when
//    nothing failed.
//  * Children are tasks made by TaskGroup::create_task, during the body or
//    later — from a child, or from any continuation — while the group is
//    open: until it has ended, and not while it is shutting down after a
//    failure (else RuntimeError: "TaskGroup is finished" / "TaskGroup is
//    shutting down").
//  * The first child that fails (an exception other than CancelledError)
//    cancels every other pending child and cancels the parent task — which
//    cancels what the body is waiting on; the group then waits for the
//    children to end. A child's CancelledError is not an error of the group.
//    The group then ends with asyncio::ExceptionGroup ("unhandled errors in
//    a TaskGroup"), holding the children's exceptions in the order they
//    happened, followed by the body's own exception if it failed with
//    something other than CancelledError. The parent's cancel request made
//    by the group is taken back (uncancel()), so cancelling() is as before
//    and the parent may go on, e.g. after catching the ExceptionGroup.
//  * A body that fails cancels the children; its exception ends up in the
//    ExceptionGroup (CPython's "body raises").
//  * A cancellation from outside (the parent task, or the group's future,
//    cancelled by someone else) cancels the body's pending future, then the
//    children; once they are all done the group ends with that
//    CancelledError — unless a child failed meanwhile: errors win, and the
//    group ends with the ExceptionGroup, then cancels the parent again on
//    the next iteration (see the deviations) so that the outside request is
//    not lost. The parent's cancelling() count keeps the outside request.
//
// Precondition (not checked): the returned future is awaited by the parent
// task, directly or through a chain, until it completes (CPython's lexical
// `async with` guarantees this); a failing child cancels the parent, which
// must be waiting on the group for that to reach the body.
//
// Thread affinity: loop thread only. Ownership: `body` is called once,
// synchronously, and not kept; the group keeps the body's outcome until it
// ends; each child task is kept alive by the loop while it runs, and by the
// group until it is done. A TaskGroup handle keeps the group's state alive.
// Cost: one allocation for the group's state; one per child beyond its task
// (its done-callback and list node); O(1) per child done; abort is O(n).
//
// Where this differs from CPython on purpose:
//  * The group is a function taking the body, not a context manager.
//  * The group completes in the step its last child's done-callback runs
//    (the iteration after that child finished); CPython's __aexit__ resumes
//    one iteration later (through _on_completed_fut).
//  * When errors and an outside cancellation collide, CPython 3.13 calls
//    parent.uncancel(); parent.cancel() as the group raises, so the parent
//    is cancelled at its next await. Here the group's future ends with the
//    ExceptionGroup first, and the parent is cancelled again on the next
//    iteration (if it is still pending and its cancelling() is still
//    non-zero), so that whoever consumes the group sees the ExceptionGroup
//    and the cancellation reaches what the parent awaits after that.
//  * There are no KeyboardInterrupt / SystemExit "base errors".
//  * Children are cancelled in creation order (CPython iterates a set).
//  * create_task takes a callable, as asyncio::create_task does; a child
//    never completes "eagerly" at creation.
#ifndef ASYNCIO_TASK_GROUP_H_
#define ASYNCIO_TASK_GROUP_H_

#include <string>
#include <type_traits>
#include <utility>

#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/internal/task_group_state.h"
#include "asyncio/task.h"

namespace asyncio {

namespace internal {
struct TaskGroupAccess;
}  // namespace internal

// asyncio::TaskGroup
//
// A handle to one task group (`tg` in `async with TaskGroup() as tg`),
// given to the body; copies share the group. It stays usable after the body
// returned (from children and continuations) while the group is open.
// A default-constructed TaskGroup is empty and create_task throws
// InvalidStateError.
//
// Thread affinity: loop thread only. Ownership: keeps the group's state
// alive. Cost: a reference count; no allocation.
class TaskGroup {
 public:
  TaskGroup() noexcept = default;
  TaskGroup(const TaskGroup& other) noexcept;
  TaskGroup(TaskGroup&& other) noexcept;
  TaskGroup& operator=(const TaskGroup& other) noexcept;
  TaskGroup& operator=(TaskGroup&& other) noexcept;
  ~TaskGroup();

  bool valid() const noexcept { return core_ != nullptr; }

  // TaskGroup::create_task
  //
  // As asyncio::create_task(f, name) (f: a callable returning T, Future<T>
  // or Task<T>), on the group's loop, and the new Task<T> is a child of the
  // group. Precondition: the group is open, else throws RuntimeError
  // ("TaskGroup is finished" once it ended or is ending with no child left,
  // "TaskGroup is shutting down" after a failure or a cancellation).
  template <class F>
  auto create_task(F&& f, std::string name = std::string(),
                   SourceLocation where = SourceLocation::current()) const;

 private:
  friend struct internal::TaskGroupAccess;
  explicit TaskGroup(internal::TaskGroupCore* core) noexcept;
  internal::TaskGroupCore* checked() const;

  internal::TaskGroupCore* core_ = nullptr;
};

// asyncio::task_group
//
// Runs body(TaskGroup) as the body of a task group (see the file comment).
// Returns Future<R> for a body returning R, Future<R>, Task<R>, Outcome<R>
// or void. Throws RuntimeError outside a task (before calling the body).
template <class F>
[[nodiscard]] auto task_group(F&& body);

// --- template bodies -------------------------------------------------------

namespace internal {
struct TaskGroupAccess {
  static TaskGroup make(TaskGroupCore* core) noexcept { return TaskGroup(core); }
};
}  // namespace internal

template <class F>
auto TaskGroup::create_task(F&& f, std::string name,
                            SourceLocation where) const {
  internal::TaskGroupCore* core = checked();
  core->check_can_create();
  auto task = core->self()->loop()->create_task(std::forward<F>(f),
                                                std::move(name), where);
  core->add_child(internal::FutureAccess::state(task));
  return task;
}

template <class F>
auto task_group(F&& body) {
  using Fn = std::remove_reference_t<F>;
  static_assert(std::is_invocable_v<Fn&, TaskGroup&>,
                "task_group's body takes asyncio::TaskGroup");
  using R = internal::continuation_value_t<std::invoke_result_t<Fn&, TaskGroup&>>;
  EventLoop* loop = internal::running_loop_or_throw();
  internal::FutureStateBase* parent = internal::scope_task_or_throw(
      "TaskGroup cannot determine the parent task (task_group() must be "
      "called while a task's code runs)");
  auto* st = new internal::TaskGroupState<R>(loop, parent);
  Future<R> result = internal::FutureAccess::adopt<R>(st);
  TaskGroup handle = internal::TaskGroupAccess::make(st);
  st->enter(body, handle);
  return result;
}

}  // namespace asyncio

#endif  // ASYNCIO_TASK_GROUP_H_
