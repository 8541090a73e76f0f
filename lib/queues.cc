// The non-template part of the queues (asyncio/internal/queue_core.h).
#include <exception>

#include "asyncio/errors.h"
#include "asyncio/internal/queue_core.h"

namespace asyncio {
namespace internal {

void QueueCoreBase::task_done() {
  if (unfinished_ == 0) throw ValueError("task_done() called too many times");
  if (--unfinished_ == 0) wake_joiners();
}

Future<void> QueueCoreBase::join() {
  EventLoop* loop = bind_loop();
  if (unfinished_ == 0) return done_future();
  auto* w = new Waiter<void>(loop, this);
  Future<void> f = FutureAccess::adopt<void>(w);
  w->tag = kJoiner;
  joiners_.push_back(w);
  return f;
}

void QueueCoreBase::items_dropped(std::size_t n) {
  unfinished_ -= n < unfinished_ ? n : unfinished_;
  if (unfinished_ == 0) wake_joiners();
}

void QueueCoreBase::wake_joiners() {
  // Every joiner, as asyncio's Event.set() wakes every waiter.
  while (WaiterBase* w = joiners_.pop_front()) {
    auto* st = static_cast<Waiter<void>*>(w);
    st->set_value();
    st->release();  // the list's reference
  }
}

void QueueCoreBase::enter_shutdown(bool immediate) noexcept {
  if (immediate) {
    shutdown_ = Shutdown::kImmediate;
  } else if (shutdown_ == Shutdown::kAlive) {
    shutdown_ = Shutdown::kShutDown;
  }
}

void QueueCoreBase::fail_all(WaiterList& list, const std::exception_ptr& e) {
  while (WaiterBase* w = list.pop_front()) {
    w->state()->set_exception(e);
    w->state()->release();  // the list's reference
  }
}

void QueueCoreBase::cancel_all(WaiterList& list, const std::exception_ptr& e) {
  // A linked waiter is pending; its cancel hook unlinks it.
  while (WaiterBase* w = list.front()) w->state()->cancel_with(e);
}

std::exception_ptr QueueCoreBase::dropped_error() {
  return std::make_exception_ptr(
      CancelledError("Queue dropped while tasks waited on it"));
}

void QueueCoreBase::orphaned() noexcept {
  if (!joiners_.empty()) cancel_all(joiners_, dropped_error());
}

void QueueCoreBase::joiner_cancelled(WaiterBase* w) {
  joiners_.unlink(w);
  w->state()->release();
}

std::exception_ptr QueueCoreBase::shut_down_error() {
  return std::make_exception_ptr(QueueShutDown());
}

}  // namespace internal
}  // namespace asyncio
