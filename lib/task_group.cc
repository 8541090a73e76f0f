// Task groups: CPython 3.13's TaskGroup (asyncio/taskgroups.py) over the
// scope state, and the TaskGroup handle.
#include "asyncio/task_group.h"

#include <cassert>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/task.h"

namespace asyncio {
namespace internal {

// --- GroupChild -------------------------------------------------------------

void GroupChild::run() {
  FutureStateBase* self = group_->self();
  group_->on_child_done(this);  // deletes this node
  self->release();              // the node's reference to the group
}

void GroupChild::discard() {
  FutureStateBase* self = group_->self();
  group_->on_child_discarded(this);  // deletes this node
  self->release();
}

// --- TaskGroupCore ----------------------------------------------------------

TaskGroupCore::TaskGroupCore(FutureStateBase* parent) noexcept : parent_(parent) {
  parent_->add_ref();
}

TaskGroupCore::~TaskGroupCore() {
  assert(first_ == nullptr);  // every node holds a reference to the group
  release_parent();
}

void TaskGroupCore::release_parent() noexcept {
  if (parent_ != nullptr) {
    FutureStateBase* p = parent_;
    parent_ = nullptr;
    p->release();
  }
}

void TaskGroupCore::check_can_create() {
  if (self()->done() || (exiting_ && pending_ == 0))
    throw RuntimeError("TaskGroup is finished");
  if (aborting_) throw RuntimeError("TaskGroup is shutting down");
}

void TaskGroupCore::add_child(FutureStateBase* task) {
  auto* c = new GroupChild(this, task);
  c->prev_ = last_;
  if (last_ != nullptr) {
    last_->next_child_ = c;
  } else {
    first_ = c;
  }
  last_ = c;
  ++pending_;
  self()->add_ref();  // the node's, while it waits and runs
  task->add_callback(c);
}

void TaskGroupCore::unlink(GroupChild* c) noexcept {
  if (c->prev_ != nullptr) {
    c->prev_->next_child_ = c->next_child_;
  } else {
    first_ = c->next_child_;
  }
  if (c->next_child_ != nullptr) {
    c->next_child_->prev_ = c->prev_;
  } else {
    last_ = c->prev_;
  }
  c->prev_ = c->next_child_ = nullptr;
  --pending_;
}

// CPython's _on_task_done.
void TaskGroupCore::on_child_done(GroupChild* c) {
  FutureStateBase* t = c->task_;
  t->add_ref();
  unlink(c);
  delete c;
  if (self()->done()) {
    // The group already ended (the loop is closing): nothing to decide.
    if (!t->cancelled()) t->mark_retrieved();
    t->release();
    return;
  }
  if (t->has_error() && !t->error_is_cancel()) {
    std::exception_ptr e = t->take_error();
    errors_.push_back(e);
    if (parent_->done()) {
      // CPython: "Not sure if this case is possible" — a parent that did
      // not wait for its group.
      self()->loop()->call_exception_handler(ExceptionContext{
          "Task " + t->describe() + " has errored out but its parent task " +
              parent_->describe() + " is already completed",
          e, t->describe()});
    } else if (!aborting_ && !parent_cancel_requested_) {
      // Abort what runs in the group now, the body included: cancel the
      // parent, and take that request back on the way out (finish()).
      abort();
      parent_cancel_requested_ = true;
      parent_->cancel(std::string());
    }
  }
  t->release();
  maybe_finish();
}

void TaskGroupCore::on_child_discarded(GroupChild* c) {
  FutureStateBase* t = c->task_;
  t->mark_retrieved();  // the group was its consumer; it never runs
  unlink(c);
  delete c;
  FutureStateBase* s = self();
  if (!s->done()) {
    complete(loop_closed_error(s->loop()), true);
    s->mark_retrieved();
    release_parent();
  }
}

void TaskGroupCore::abort() {
  aborting_ = true;
  // Cancelling runs producers' hooks: work on a snapshot of the children.
  absl::InlinedVector<FutureStateBase*, 8> pending;
  for (GroupChild* c = first_; c != nullptr; c = c->next_child_) {
    if (!c->task_->done()) {
      c->task_->add_ref();
      pending.push_back(c->task_);
    }
  }
  for (FutureStateBase* t : pending) {
    t->cancel(std::string());
    t->release();
  }
}

void TaskGroupCore::abandon() {
  exiting_ = true;
  if (!aborting_) abort();
  release_parent();
}

// CPython's _aexit up to the wait.
void TaskGroupCore::body_done(std::exception_ptr error, bool is_cancel) {
  exiting_ = true;
  body_error_ = error;
  body_cancelled_ = is_cancel;
  if (error && is_cancel) propagate_cancel_ = error;
  if (error && !aborting_) abort();  // the parent is cancelled, or the body failed
  maybe_finish();
}

// CPython's _aexit loop: `await self._on_completed_fut` raised
// CancelledError.
void TaskGroupCore::exit_cancel_request(const std::exception_ptr& exc) {
  if (aborting_) return;
  propagate_cancel_ = exc;
  abort();
}

void TaskGroupCore::maybe_finish() {
  if (exiting_ && pending_ == 0 && !self()->done()) finish();
}

// CPython's _aexit after the wait.
void TaskGroupCore::finish() {
  FutureStateBase* s = self();
  if (parent_cancel_requested_) {
    // The group's own cancel of the parent must be taken back.
    if (AnyTask(parent_).uncancel() == 0) propagate_cancel_ = nullptr;
  }
  std::exception_ptr out;
  bool out_is_cancel = false;
  bool recancel = false;
  if (propagate_cancel_ && errors_.empty()) {
    out = std::move(propagate_cancel_);
    out_is_cancel = true;
  } else {
    if (body_error_ && !body_cancelled_) errors_.push_back(body_error_);
    if (!errors_.empty()) {
      // CPython 3.13 re-cancels a parent cancelled from outside, so that
      // the outside request survives the ExceptionGroup (see task_group.h).
      recancel = parent_->task_core()->cancelling > 0;
      out = std::make_exception_ptr(
          ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors_)));
    } else if (body_error_) {
      // Unreachable in CPython's logic (a body's CancelledError is only
      // dropped after a child failed); never swallow it.
      out = body_error_;
      out_is_cancel = body_cancelled_;
    }
  }
  errors_.clear();
  propagate_cancel_ = nullptr;
  body_error_ = nullptr;
  AnyTask parent(parent_);
  release_parent();
  complete(std::move(out), out_is_cancel);
  if (recancel && !s->loop()->is_closed()) {
    // After complete(): whoever waits on the group is queued first and
    // sees the ExceptionGroup; then the parent's next await is cancelled.
    s->loop()->call_soon([parent] {
      if (!parent.done() && parent.cancelling() > 0) {
        parent.uncancel();
        parent.cancel();
      }
    });
  }
}

}  // namespace internal

// --- TaskGroup --------------------------------------------------------------

TaskGroup::TaskGroup(internal::TaskGroupCore* core) noexcept : core_(core) {
  if (core_) core_->self()->add_ref();
}
TaskGroup::TaskGroup(const TaskGroup& other) noexcept : TaskGroup(other.core_) {}
TaskGroup::TaskGroup(TaskGroup&& other) noexcept : core_(other.core_) {
  other.core_ = nullptr;
}
TaskGroup& TaskGroup::operator=(const TaskGroup& other) noexcept {
  if (other.core_) other.core_->self()->add_ref();
  if (core_) core_->self()->release();
  core_ = other.core_;
  return *this;
}
TaskGroup& TaskGroup::operator=(TaskGroup&& other) noexcept {
  if (this != &other) {
    if (core_) core_->self()->release();
    core_ = other.core_;
    other.core_ = nullptr;
  }
  return *this;
}
TaskGroup::~TaskGroup() {
  if (core_) core_->self()->release();
}

internal::TaskGroupCore* TaskGroup::checked() const {
  if (core_ == nullptr) throw InvalidStateError("empty TaskGroup");
  return core_;
}

}  // namespace asyncio
