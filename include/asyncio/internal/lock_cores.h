// asyncio/internal/lock_cores.h — the shared states behind the handles of
// asyncio/locks.h. Not part of the public API; include asyncio/locks.h.
//
// Each primitive is a core: a WaiterOwner (internal/waiters.h) with its
// state and an intrusive FIFO of waiters. The public classes are copyable
// handles to a core (CoreHandle, in locks.h). The bodies are compiled once,
// in lib/locks.cc.
//
// Handles and references. A core counts its handles apart from its
// references: every waiter holds a reference (so that its hooks reach the
// core), and the handles together hold one. When the last handle goes,
// nothing can release, set or notify the core any more, so it cancels the
// operations still waiting on it (PrimitiveCore::orphaned). That also
// breaks the cycle core -> linked waiter -> core, which would otherwise
// keep both alive when the waiter's future is not awaited by a task (a
// task's waiter is cancelled when the loop closes).
//
// Every operation that need not wait returns a shared done future
// (WaiterOwner::done_future, BarrierCore's tripped future): no allocation.
// An operation that waits makes one allocation, its waiter, which is both
// the future's state and the node of the FIFO.
//
// Thread affinity: loop thread only.
#ifndef ASYNCIO_INTERNAL_LOCK_CORES_H_
#define ASYNCIO_INTERNAL_LOCK_CORES_H_

#include <cstddef>
#include <cstdint>
#include <exception>

#include "asyncio/future.h"
#include "asyncio/internal/waiters.h"

namespace asyncio {
namespace internal {

// A core with a count of the handles to it (see "Handles and references").
class PrimitiveCore : public WaiterOwner {
 public:
  void add_handle() noexcept { ++handles_; }
  void drop_handle() noexcept {
    if (--handles_ == 0) {
      orphaned();
      unref();  // the handles' reference
    }
  }

 protected:
  // The last handle went: cancel every waiter still linked.
  virtual void orphaned() noexcept = 0;
  // Cancels every waiter of `list`, with a CancelledError saying that the
  // `what` was dropped; each unlinks itself through waiter_cancelled.
  static void cancel_all(WaiterList& list, const char* what) noexcept;

 private:
  std::uint32_t handles_ = 1;
};

class CondWait;

// LockCore: asyncio.Lock.
//
// State: locked_ and a FIFO of waiters. Invariant: when the lock is free,
// nobody waits (release() hands the lock to the first waiter at once, and
// locked_ stays true). A waiter is an acquire() (a Waiter<void>) or a
// Condition::wait() re-acquiring the lock (a CondWait, tag kReacquireTag).
//
//   free ──acquire()──▶ locked ──release(), nobody waits──▶ free
//                         └──release(), a waiter──▶ locked (handed to it)
class LockCore final : public PrimitiveCore {
 public:
  static constexpr std::uint64_t kReacquireTag = 1;

  Future<void> acquire();
  void release();
  bool locked() const noexcept { return locked_; }

  // Condition::wait re-acquiring: true when `w` took the free lock at once;
  // otherwise `w` joins the FIFO (CondWait::lock_handed runs when the lock
  // is handed to it).
  bool reacquire(CondWait* w);

  // Unlinks `w` and releases the list's reference.
  void waiter_cancelled(WaiterBase* w) override;
  std::string describe_waiter(const WaiterBase*) const override {
    return "Lock.acquire";
  }
  // A waiter handed the lock was cancelled before its task resumed: it will
  // never release the lock, so the lock goes to the next waiter.
  void waiter_dropped(WaiterBase* w) override;

 protected:
  void orphaned() noexcept override;

 private:
  ~LockCore() override = default;
  void hand_to_first();

  bool locked_ = false;
  WaiterList waiters_;
};

// EventCore: asyncio.Event. set() completes every waiter; the set flag
// stays until clear().
class EventCore final : public PrimitiveCore {
 public:
  Future<void> wait();
  void set();
  void clear() noexcept { set_ = false; }
  bool is_set() const noexcept { return set_; }

  void waiter_cancelled(WaiterBase* w) override;
  std::string describe_waiter(const WaiterBase*) const override {
    return "Event.wait";
  }
  void waiter_dropped(WaiterBase*) override {}  // nothing was handed over

 protected:
  void orphaned() noexcept override;

 private:
  ~EventCore() override = default;

  bool set_ = false;
  WaiterList waiters_;
};

// ConditionCore: asyncio.Condition over a LockCore (its own or a shared
// one). The FIFO holds the CondWaits waiting for a notification; notify()
// moves them, in order, to the lock's FIFO.
class ConditionCore final : public PrimitiveCore {
 public:
  // Holds a handle to `lock` (and a reference, for the CondWaits).
  explicit ConditionCore(LockCore* lock);

  LockCore* lock() const noexcept { return lock_; }

  // Precondition: lock()->locked(), else throws RuntimeError.
  Future<void> wait();
  void notify(int n);  // Precondition: lock()->locked() (RuntimeError)
  void notify_all();   // Precondition: lock()->locked() (RuntimeError)
  // notify without the precondition: a cancelled waiter passing on the
  // notification it took.
  void pass_on(int n);

  // Unlinks `w` (a CondWait in this FIFO) and releases the list's reference.
  void waiter_cancelled(WaiterBase* w) override;
  std::string describe_waiter(const WaiterBase*) const override {
    return "Condition.wait";
  }
  void waiter_dropped(WaiterBase*) override {}  // CondWait passes on itself

 protected:
  void orphaned() noexcept override;

 private:
  ~ConditionCore() override;

  LockCore* lock_;
  bool lock_handle_ = true;  // the handle to lock_ is held (until orphaned)
  WaiterList waiters_;
};

// CondWait: the future state of one Condition::wait(), which waits for a
// notification and then for the lock. One allocation for the whole wait.
//
//   kWaiting   in the condition's FIFO (the lock released)
//      │  notify()                        │ cancel()
//      ▼                                  ▼
//   kAcquiring in the lock's FIFO (or takes the free lock at once)
//      │  the lock is handed over
//      ▼
//   kDone      holds the lock: a value, or CancelledError when cancel()
//              came at any point (the latest request's message)
//
// As CPython's wait(), it ends holding the lock even when cancelled: a
// cancel() in kWaiting sends it to the lock; in kAcquiring it is recorded
// and the wait still ends when the lock is handed over. A notified waiter
// that ends cancelled, or whose task is cancelled after it completed and
// before it resumed (on_result_dropped), passes the notification on to the
// next waiter. Exceptions to "ends holding the lock": a cancel() on a
// closed loop (nothing would run the hand-off) and the lock's last handle
// going (nobody could release it) end it at once.
class CondWait final : public FutureState<void>, public WaiterBase {
 public:
  CondWait(EventLoop* loop, ConditionCore* cond);

  FutureStateBase* state() noexcept override { return this; }
  std::string describe() const override { return "Condition.wait"; }

  // notify() took it out of the condition's FIFO (the list's reference
  // passes to this call, which releases it).
  void notified();
  // The lock's FIFO handed it the lock (the caller keeps the list's
  // reference).
  void lock_handed();
  // The lock's last handle went while it waited for the lock (unlinked by
  // the caller, who keeps the list's reference).
  void abandon(const std::exception_ptr& e);

 protected:
  ~CondWait() override;
  FutureStateBase* cancel_step(const std::exception_ptr& exc) override;
  void on_result_dropped() override;

 private:
  enum class Phase : std::uint8_t { kWaiting, kAcquiring, kDone };
  void finish();

  ConditionCore* cond_;
  std::exception_ptr cancel_;  // the latest cancel request, if any
  Phase phase_ = Phase::kWaiting;
  bool notified_ = false;
  bool dropped_ = false;
};

// SemaphoreCore: asyncio.Semaphore and BoundedSemaphore (CPython 3.13).
//
// State: value_ (permits not handed out) and a FIFO of waiters.
// Invariant: when value_ > 0, nobody waits. release() hands a permit to
// the first waiter (value_ stays as it was); a waiter handed a permit and
// cancelled before its task resumed gives it back (it goes to the next).
class SemaphoreCore final : public PrimitiveCore {
 public:
  // Precondition: value >= 0, else throws ValueError.
  SemaphoreCore(int value, bool bounded);

  Future<void> acquire();
  // Bounded: precondition value_ < the initial value, else ValueError.
  void release();
  // CPython: cannot be acquired at once (no permit, or someone waits).
  bool locked() const noexcept { return value_ == 0 || !waiters_.empty(); }

  void waiter_cancelled(WaiterBase* w) override;
  std::string describe_waiter(const WaiterBase*) const override {
    return "Semaphore.acquire";
  }
  void waiter_dropped(WaiterBase* w) override;

 protected:
  void orphaned() noexcept override;

 private:
  ~SemaphoreCore() override = default;
  void wake_up_next();

  int value_;
  int bound_;  // the initial value, for a bounded semaphore
  bool bounded_;
  WaiterList waiters_;
};

// BarrierCore: asyncio.Barrier (CPython 3.13), as a hand-off.
//
// State: FILLING (broken_ false) or BROKEN (broken_ true); count_, the
// parties waiting now; a FIFO of Waiter<int>, each with its arrival index
// in `tag`.
//
//   FILLING ──wait(), count_ + 1 < parties──▶ FILLING, count_ + 1
//      │  wait(), the last party: every waiter gets its index, count_ = 0
//      │  reset(): every waiter fails with BrokenBarrierError, count_ = 0
//      └──abort(): the same ──▶ BROKEN ──reset()──▶ FILLING
//
// CPython's DRAINING and RESETTING states exist only until the released
// tasks have run; here the outcome is handed to every waiter when the
// barrier trips, is reset or aborted, so new arrivals fill the next round
// at once.
class BarrierCore final : public PrimitiveCore {
 public:
  // Precondition: parties >= 1, else throws ValueError.
  explicit BarrierCore(int parties);

  Future<int> wait();
  void reset();
  void abort();
  int parties() const noexcept { return parties_; }
  int n_waiting() const noexcept { return broken_ ? 0 : count_; }
  bool broken() const noexcept { return broken_; }

  // A waiter cancelled while it waited leaves the barrier (count_ - 1).
  void waiter_cancelled(WaiterBase* w) override;
  std::string describe_waiter(const WaiterBase*) const override {
    return "Barrier.wait";
  }
  // Released, then cancelled before its task resumed: the others are
  // released all the same; nothing to pass on.
  void waiter_dropped(WaiterBase*) override {}

 protected:
  void orphaned() noexcept override;

 private:
  ~BarrierCore() override;
  void fail_all();
  Future<int> tripped_future();

  int parties_;
  int count_ = 0;
  bool broken_ = false;
  WaiterList waiters_;
  // The done future of the last party to arrive (index parties - 1),
  // shared by every round.
  FutureState<int>* tripped_ = nullptr;
};

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_LOCK_CORES_H_
