// asyncio/internal/task_group_state.h — the state behind task_group().
// Not part of the public API; included by asyncio/task_group.h.
//
// TaskGroupCore is the non-template part (lib/task_group.cc): CPython 3.13's
// TaskGroup object (taskgroups.py) — the children, the errors, the flags
// _exiting, _aborting and _parent_cancel_requested, the CancelledError to
// propagate. TaskGroupState<R> is the group's future: a ScopeState waiting
// on the body's future (the body of `async with`), which then keeps the
// body's outcome until every child is done (__aexit__'s wait).
//
// Phases:
//
//   body ──body's outcome──▶ exiting ──last child done──▶ done
//
// In the body phase, a cancel of the group's future (the parent task's
// cancel walk) passes through to the body's pending future, as for any
// stage. In the exiting phase it stops at the group: the first such request
// that arrives while the group is not aborting becomes the CancelledError
// to propagate and cancels the children (CPython: the await of
// _on_completed_fut raised CancelledError); later ones are absorbed.
//
// Children. Each child task has one GroupChild node (one allocation): it
// sits in the child's callback list, then in the ready queue, and runs
// _on_task_done on the iteration after the child completed. The nodes are
// also linked into the group's list of pending children, in creation order
// (the order abort() cancels them). A node holds a reference to its child
// and one to the group's state, so the group lives while a child is
// pending.
//
// When the loop is closed, a discarded node ends the group cancelled with
// the loop's "Event loop is closed" error, running no code.
#ifndef ASYNCIO_INTERNAL_TASK_GROUP_STATE_H_
#define ASYNCIO_INTERNAL_TASK_GROUP_STATE_H_

#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/internal/scope_state.h"
#include "asyncio/outcome.h"

namespace asyncio {
namespace internal {

class TaskGroupCore;

// One child of a group: its done-callback and its link in the group's list.
class GroupChild final : public ReadyNode {
 public:
  GroupChild(TaskGroupCore* group, FutureStateBase* task) noexcept
      : group_(group), task_(task) {
    task_->add_ref();
  }
  ~GroupChild() { task_->release(); }

  void run() override;
  void discard() override;

 private:
  friend class TaskGroupCore;
  TaskGroupCore* group_;
  FutureStateBase* task_;
  GroupChild* prev_ = nullptr;
  GroupChild* next_child_ = nullptr;
};

class TaskGroupCore {
 public:
  // The group's state (the future task_group() returned).
  virtual FutureStateBase* self() noexcept = 0;

  // TaskGroup.create_task's checks: RuntimeError when the group is
  // finished or shutting down.
  void check_can_create();
  // Watches the new task `task` (created by the caller on self()'s loop).
  void add_child(FutureStateBase* task);

 protected:
  // `parent`: the task the group runs in (a reference is kept until the
  // group is done).
  explicit TaskGroupCore(FutureStateBase* parent) noexcept;
  virtual ~TaskGroupCore();

  // __aexit__: the body's outcome (error null for a value).
  void body_done(std::exception_ptr error, bool is_cancel);
  bool exiting() const noexcept { return exiting_; }
  // A cancel of the group's future while exiting (see the file comment).
  void exit_cancel_request(const std::exception_ptr& exc);
  void release_parent() noexcept;
  // The group's future ended without the exit (an await cycle): cancel the
  // children and let the parent go.
  void abandon();

  // Completes the group's future: with `error`, or with the body's value
  // when it is null.
  virtual void complete(std::exception_ptr error, bool is_cancel) = 0;

 private:
  friend class GroupChild;
  void on_child_done(GroupChild* c);
  void on_child_discarded(GroupChild* c);
  void unlink(GroupChild* c) noexcept;
  void abort();
  void maybe_finish();
  void finish();

  FutureStateBase* parent_;
  GroupChild* first_ = nullptr;
  GroupChild* last_ = nullptr;
  std::size_t pending_ = 0;
  std::vector<std::exception_ptr> errors_;
  std::exception_ptr propagate_cancel_;
  std::exception_ptr body_error_;
  bool body_cancelled_ = false;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
};

// TaskGroupState<R>: the future task_group() returns.
template <class R>
class TaskGroupState final : public ScopeState<R>, public TaskGroupCore {
 public:
  TaskGroupState(EventLoop* loop, FutureStateBase* parent)
      : ScopeState<R>(loop), TaskGroupCore(parent) {}

  FutureStateBase* self() noexcept override { return this; }

  void discard() override {
    release_parent();
    ScopeState<R>::discard();
  }

 protected:
  void on_body_done(Outcome<R> body) override {
    if (body.has_exception()) {
      body_done(body.exception(), body.cancelled());
    } else {
      body_.emplace(std::move(body));
      body_done(nullptr, false);
    }
  }

  void complete(std::exception_ptr error, bool is_cancel) override {
    if (error) {
      this->finish_error(std::move(error), is_cancel);
    } else {
      this->finish_with(std::move(*body_));
    }
    body_.reset();
    this->drop_owner();
  }

  FutureStateBase* cancel_step(const std::exception_ptr& exc) override {
    if (!exiting()) return ScopeState<R>::cancel_step(exc);
    exit_cancel_request(exc);
    return nullptr;  // the walk ends here; the children were cancelled apart
  }

  // A cancel walk came back here (an await cycle through the body): the
  // group ends cancelled at once; its children are cancelled and no longer
  // awaited.
  void cancel_cycle(const std::exception_ptr& exc) override {
    ScopeState<R>::cancel_cycle(exc);
    body_.reset();
    abandon();
  }

 private:
  std::optional<Outcome<R>> body_;  // the body's value, until the exit
};

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_TASK_GROUP_STATE_H_
