// The cores of the synchronisation primitives (asyncio/locks.h): Lock,
// Event, Condition, Semaphore, BoundedSemaphore, Barrier. The state
// machines are described in asyncio/internal/lock_cores.h.
#include <exception>
#include <string>

#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/internal/lock_cores.h"
#include "asyncio/internal/waiters.h"

namespace asyncio {
namespace internal {

namespace {

// Completes a linked waiter's future with a value and drops the list's
// reference (the caller unlinked it).
void hand_value(WaiterBase* w) {
  static_cast<Waiter<void>*>(w)->set_value();
  w->state()->release();
}

}  // namespace

// --- PrimitiveCore ----------------------------------------------------------

void PrimitiveCore::cancel_all(WaiterList& list, const char* what) noexcept {
  if (list.empty()) return;
  const std::exception_ptr e = std::make_exception_ptr(CancelledError(
      std::string(what) + " dropped while tasks waited on it"));
  while (WaiterBase* w = list.front()) {
    // A linked waiter is pending; its cancel hook unlinks it.
    w->state()->cancel_with(e);
  }
}

// --- LockCore ---------------------------------------------------------------

Future<void> LockCore::acquire() {
  EventLoop* loop = bind_loop();
  if (!locked_) {  // free: nobody waits (see the invariant)
    locked_ = true;
    return done_future();
  }
  auto* w = new Waiter<void>(loop, this);
  Future<void> f = FutureAccess::adopt<void>(w);
  waiters_.push_back(w);
  return f;
}

void LockCore::release() {
  if (!locked_) throw RuntimeError("Lock is not acquired.");
  locked_ = false;
  hand_to_first();
}

bool LockCore::reacquire(CondWait* w) {
  if (!locked_) {
    locked_ = true;
    return true;
  }
  waiters_.push_back(w);
  return false;
}

void LockCore::hand_to_first() {
  WaiterBase* w = waiters_.pop_front();
  if (w == nullptr) return;
  locked_ = true;
  if (w->tag == kReacquireTag) {
    static_cast<CondWait*>(w)->lock_handed();
    w->state()->release();
  } else {
    hand_value(w);
  }
}

void LockCore::waiter_cancelled(WaiterBase* w) {
  waiters_.unlink(w);
  w->state()->release();
}

void LockCore::waiter_dropped(WaiterBase*) {
  locked_ = false;
  hand_to_first();
}

void LockCore::orphaned() noexcept {
  if (waiters_.empty()) return;
  const std::exception_ptr e =
      std::make_exception_ptr(CancelledError("Lock dropped while tasks waited on it"));
  while (WaiterBase* w = waiters_.front()) {
    if (w->tag == kReacquireTag) {
      waiters_.unlink(w);
      static_cast<CondWait*>(w)->abandon(e);
      w->state()->release();
    } else {
      w->state()->cancel_with(e);  // unlinks itself
    }
  }
}

// --- EventCore --------------------------------------------------------------

Future<void> EventCore::wait() {
  EventLoop* loop = bind_loop();
  if (set_) return done_future();
  auto* w = new Waiter<void>(loop, this);
  Future<void> f = FutureAccess::adopt<void>(w);
  waiters_.push_back(w);
  return f;
}

void EventCore::set() {
  if (set_) return;
  set_ = true;
  while (WaiterBase* w = waiters_.pop_front()) hand_value(w);
}

void EventCore::waiter_cancelled(WaiterBase* w) {
  waiters_.unlink(w);
  w->state()->release();
}

void EventCore::orphaned() noexcept { cancel_all(waiters_, "Event"); }

// --- ConditionCore and CondWait ---------------------------------------------

ConditionCore::ConditionCore(LockCore* lock) : lock_(lock) {
  lock_->add_handle();
  lock_->ref();
}

ConditionCore::~ConditionCore() {
  if (lock_handle_) lock_->drop_handle();
  lock_->unref();
}

Future<void> ConditionCore::wait() {
  EventLoop* loop = bind_loop();
  if (!lock_->locked()) throw RuntimeError("cannot wait on un-acquired lock");
  if (lock_->loop() != loop) lock_->bind_loop();  // RuntimeError
  auto* w = new CondWait(loop, this);
  Future<void> f = FutureAccess::adopt<void>(w);
  lock_->release();
  waiters_.push_back(w);
  return f;
}

void ConditionCore::notify(int n) {
  if (!lock_->locked()) throw RuntimeError("cannot notify on un-acquired lock");
  pass_on(n);
}

void ConditionCore::notify_all() {
  if (!lock_->locked()) throw RuntimeError("cannot notify on un-acquired lock");
  pass_on(static_cast<int>(waiters_.size()));
}

void ConditionCore::pass_on(int n) {
  for (; n > 0; --n) {
    WaiterBase* w = waiters_.pop_front();
    if (w == nullptr) return;
    static_cast<CondWait*>(w)->notified();
  }
}

void ConditionCore::waiter_cancelled(WaiterBase* w) {
  waiters_.unlink(w);
  w->state()->release();
}

void ConditionCore::orphaned() noexcept {
  // Nobody can notify the waiters any more: cancelled, each goes for the
  // lock (or ends, when the lock cannot be released either).
  cancel_all(waiters_, "Condition");
  lock_handle_ = false;
  lock_->drop_handle();
}

CondWait::CondWait(EventLoop* loop, ConditionCore* cond)
    : FutureState<void>(loop), cond_(cond) {
  cond_->ref();
  tag = LockCore::kReacquireTag;
}

CondWait::~CondWait() { cond_->unref(); }

void CondWait::notified() {
  notified_ = true;
  phase_ = Phase::kAcquiring;
  if (cond_->lock()->reacquire(this)) finish();
  release();  // the condition's list reference
}

void CondWait::lock_handed() { finish(); }

void CondWait::abandon(const std::exception_ptr& e) {
  phase_ = Phase::kDone;
  set_cancelled(cancel_ ? cancel_ : e);
}

void CondWait::finish() {
  phase_ = Phase::kDone;
  if (!cancel_) {
    set_value();
    return;
  }
  set_cancelled(cancel_);
  // CPython's wait() notifies another waiter when it raises: a
  // notification this waiter took is not lost.
  if (notified_) cond_->pass_on(1);
}

FutureStateBase* CondWait::cancel_step(const std::exception_ptr& exc) {
  // The cancel walk holds a reference: unlinking (which drops the list's)
  // cannot destroy this state.
  if (loop_->is_closed()) {
    // Nothing will run a hand-off: end now, without the lock.
    if (linked) {
      if (phase_ == Phase::kWaiting) {
        cond_->waiter_cancelled(this);
      } else {
        cond_->lock()->waiter_cancelled(this);
      }
    }
    phase_ = Phase::kDone;
    set_cancelled(exc);
    return nullptr;
  }
  cancel_ = exc;  // the latest request's message wins, as in CPython
  if (phase_ == Phase::kWaiting) {
    cond_->waiter_cancelled(this);
    phase_ = Phase::kAcquiring;
    if (cond_->lock()->reacquire(this)) finish();
  }
  return nullptr;
}

void CondWait::on_result_dropped() {
  if (dropped_) return;
  dropped_ = true;
  // The task holds the lock and will not act on the notification.
  if (notified_) cond_->pass_on(1);
}

// --- SemaphoreCore ----------------------------------------------------------

SemaphoreCore::SemaphoreCore(int value, bool bounded)
    : value_(value), bound_(value), bounded_(bounded) {
  if (value < 0) throw ValueError("Semaphore initial value must be >= 0");
}

Future<void> SemaphoreCore::acquire() {
  EventLoop* loop = bind_loop();
  if (!locked()) {
    --value_;
    return done_future();
  }
  auto* w = new Waiter<void>(loop, this);
  Future<void> f = FutureAccess::adopt<void>(w);
  waiters_.push_back(w);
  return f;
}

void SemaphoreCore::release() {
  if (bounded_ && value_ >= bound_)
    throw ValueError("BoundedSemaphore released too many times");
  ++value_;
  wake_up_next();
}

void SemaphoreCore::wake_up_next() {
  while (value_ > 0) {
    WaiterBase* w = waiters_.pop_front();
    if (w == nullptr) return;
    --value_;
    hand_value(w);
  }
}

void SemaphoreCore::waiter_cancelled(WaiterBase* w) {
  waiters_.unlink(w);
  w->state()->release();
}

void SemaphoreCore::waiter_dropped(WaiterBase*) {
  ++value_;  // the permit it was handed comes back
  wake_up_next();
}

void SemaphoreCore::orphaned() noexcept { cancel_all(waiters_, "Semaphore"); }

// --- BarrierCore ------------------------------------------------------------

BarrierCore::BarrierCore(int parties) : parties_(parties) {
  if (parties < 1) throw ValueError("parties must be >= 1");
}

BarrierCore::~BarrierCore() {
  if (tripped_ != nullptr) tripped_->release();
}

Future<int> BarrierCore::wait() {
  EventLoop* loop = bind_loop();
  if (broken_) {
    return make_exception_future<int>(
        *loop, std::make_exception_ptr(BrokenBarrierError()));
  }
  const int index = count_;
  if (index + 1 == parties_) {
    // The last party: release the others, in arrival order.
    count_ = 0;
    while (WaiterBase* w = waiters_.pop_front()) {
      auto* st = static_cast<Waiter<int>*>(w);
      st->set_value(static_cast<int>(w->tag));
      st->release();
    }
    return tripped_future();
  }
  auto* w = new Waiter<int>(loop, this);
  Future<int> f = FutureAccess::adopt<int>(w);
  w->tag = static_cast<std::uint64_t>(index);
  waiters_.push_back(w);
  ++count_;
  return f;
}

Future<int> BarrierCore::tripped_future() {
  if (tripped_ == nullptr) {
    tripped_ = new FutureState<int>(loop());
    tripped_->set_value(parties_ - 1);
  }
  return FutureAccess::share<int>(tripped_);
}

void BarrierCore::fail_all() {
  count_ = 0;
  if (waiters_.empty()) return;
  // One exception for every waiter; set_error skips the cancellation check.
  const std::exception_ptr e = std::make_exception_ptr(BrokenBarrierError());
  while (WaiterBase* w = waiters_.pop_front()) {
    w->state()->set_error(e, false);
    w->state()->release();
  }
}

void BarrierCore::reset() {
  fail_all();
  broken_ = false;
}

void BarrierCore::abort() {
  fail_all();
  broken_ = true;
}

void BarrierCore::waiter_cancelled(WaiterBase* w) {
  waiters_.unlink(w);
  w->state()->release();
  --count_;
}

void BarrierCore::orphaned() noexcept { cancel_all(waiters_, "Barrier"); }

}  // namespace internal
}  // namespace asyncio
