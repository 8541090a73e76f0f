// asyncio/locks.h — synchronisation primitives: Lock, Event, Condition,
// Semaphore, BoundedSemaphore, Barrier, and with(), asyncio's `async with`.
//
//   asyncio::Lock lock;                        // a handle: copies share it
//   asyncio::with(lock, [] {                    // async with lock:
//     return update_shared_state();             //     await update...()
//   });
//
//   asyncio::Condition cond;
//   asyncio::with(cond, [cond] {                // async with cond:
//     return cond.wait_for([] { return ready(); });  // await cond.wait_for(ready)
//   });
//   asyncio::with(cond, [cond] { cond.notify_all(); });
//
//   asyncio::Semaphore sem(10);                 // at most 10 at a time
//   asyncio::with(sem, [] { return use_shared_resource(); });
//
//   asyncio::Barrier barrier(3);
//   barrier.wait().then([](int index) { ... });  // index: 0, 1 or 2
//
// Contract (CPython 3.13 asyncio.Lock, Event, Condition, Semaphore,
// BoundedSemaphore, Barrier).
//  * A primitive is a cheap copyable handle to one shared state; it binds
//    to the running loop the first time acquire() or wait() is called
//    (using it from another loop afterwards is a RuntimeError).
//  * Waiting operations (Lock::acquire, Event::wait, Condition::wait and
//    wait_for, Semaphore::acquire, Barrier::wait) return a future. When the
//    operation need not wait the future is already done; otherwise the
//    caller joins a FIFO, and the primitive hands what it waits for (the
//    lock, a permit, a notification, its arrival index) to the first waiter
//    when it can: the waiting task resumes on the next iteration, as an
//    asyncio task woken by its future does.
//  * Fairness: FIFO, no barging, for the Lock and the Semaphore alike (CPython
//    3.13): release() hands the lock or the permit to the first waiter at
//    once, so a newcomer arriving before the woken task resumed waits behind
//    it; acquire() waits whenever someone waits, even if a permit is free.
//    Condition: notify(n) wakes the n longest-waiting waiters, which then
//    take the lock in that order. Barrier: waiters are released in arrival
//    order.
//  * Cancellation. A waiter cancelled while it waits leaves the FIFO and
//    blocks nobody. A waiter that was handed the lock, a permit or a
//    notification and whose task is cancelled before it resumed passes it
//    on to the next waiter (its task takes the CancelledError).
//  * Dropping the last handle to a primitive cancels the operations still
//    waiting on it: nothing could release, set or notify them any more.
//    A primitive with pending waiters must not outlive its loop.
//  * with(primitive, f): acquires, runs f (a callable returning T or a
//    Future<T>), releases on every outcome of f (value, exception,
//    cancellation), and completes with f's outcome. If the acquire itself
//    is cancelled, f never runs and nothing is released. Works with Lock,
//    Semaphore, BoundedSemaphore and Condition.
//
// Deviations from CPython.
//  * After release() hands the lock to a waiter, locked() is true at once
//    (CPython unlocks and lets the woken task lock it again when it runs, so
//    locked() reads false in between). A Semaphore's permit is handed the
//    same way (CPython 3.13 does this too).
//  * Acquire and wait complete with no value (CPython's return True).
//  * Condition: a notified waiter joins the lock's FIFO when it is notified
//    (CPython: when its task runs), so a task that calls acquire() between
//    notify() and the woken task's turn queues behind it. A waiter
//    cancelled before it was notified does not wake another one (CPython's
//    wait() notifies one more waiter on any exception, a spurious wake-up);
//    a notification a cancelled waiter took is passed on, as in CPython.
//  * Barrier: abort() and reset() are plain calls (CPython's are
//    coroutines, which only take the barrier's internal lock). The outcome
//    is handed to each waiter when the barrier trips, is reset or aborted:
//    a party released by the barrier keeps its index even if abort() or
//    reset() comes before its task resumed (CPython then raises
//    BrokenBarrierError in it), and new arrivals start the next round at
//    once instead of waiting for the released tasks to run.
//
// Thread affinity: loop thread only. Cost: an operation that need not wait
// makes no allocation (a shared done future); one that waits makes one (its
// future's state, which is also its node in the FIFO; a Condition::wait is
// one allocation for the notification and the re-acquisition). Hand-off,
// notify and cancellation of a waiter are O(1) per waiter.
#ifndef ASYNCIO_LOCKS_H_
#define ASYNCIO_LOCKS_H_

#include <type_traits>
#include <utility>

#include "asyncio/errors.h"
#include "asyncio/future.h"
#include "asyncio/internal/lock_cores.h"

namespace asyncio {
namespace internal {

// A copyable handle to a core (a PrimitiveCore): copies count as handles.
template <class Core>
class CoreHandle {
 public:
  CoreHandle() : core_(new Core()) {}
  template <class... A>
  explicit CoreHandle(std::in_place_t, A&&... args)
      : core_(new Core(std::forward<A>(args)...)) {}
  CoreHandle(const CoreHandle& o) noexcept : core_(o.core_) { core_->add_handle(); }
  CoreHandle& operator=(const CoreHandle& o) noexcept {
    o.core_->add_handle();
    core_->drop_handle();
    core_ = o.core_;
    return *this;
  }
  ~CoreHandle() { core_->drop_handle(); }

 protected:
  Core* core_;
};

}  // namespace internal

class Condition;

// asyncio::Lock
//
// A mutual-exclusion lock, not owned by a task: any holder of a handle may
// release it.
class Lock : private internal::CoreHandle<internal::LockCore> {
 public:
  Lock() = default;

  // Lock::acquire
  //
  // Completes when this caller holds the lock: done at once when the lock
  // is free (no allocation).
  [[nodiscard]] Future<void> acquire() const { return core_->acquire(); }
  // Lock::release
  //
  // Hands the lock to the first waiter, if any. Precondition: locked(),
  // else throws RuntimeError.
  void release() const { core_->release(); }
  bool locked() const noexcept { return core_->locked(); }

  friend bool operator==(const Lock& a, const Lock& b) { return a.core_ == b.core_; }
  friend bool operator!=(const Lock& a, const Lock& b) { return a.core_ != b.core_; }

 private:
  friend class Condition;
};

// asyncio::Event
class Event : private internal::CoreHandle<internal::EventCore> {
 public:
  Event() = default;

  // Event::wait: completes when the event is set (done at once if it is).
  [[nodiscard]] Future<void> wait() const { return core_->wait(); }
  // Event::set: sets the event and wakes every waiter.
  void set() const { core_->set(); }
  // Event::clear: unsets; later wait()s wait for the next set().
  void clear() const { core_->clear(); }
  bool is_set() const noexcept { return core_->is_set(); }
};

// asyncio::Condition
//
// A condition variable over a Lock: Condition() makes its own, and
// Condition(lock) shares `lock` (whose handles then acquire and release the
// same lock). acquire(), release() and locked() are the lock's.
class Condition : private internal::CoreHandle<internal::ConditionCore> {
 public:
  Condition() : Condition(Lock()) {}
  explicit Condition(const Lock& lock) : CoreHandle(std::in_place, lock.core_) {}

  [[nodiscard]] Future<void> acquire() const { return core_->lock()->acquire(); }
  void release() const { core_->lock()->release(); }
  bool locked() const noexcept { return core_->lock()->locked(); }

  // Condition::wait
  //
  // Releases the lock, waits until notify() or notify_all() wakes this
  // waiter, then re-acquires the lock and completes. It completes holding
  // the lock on every outcome: when cancelled, it still waits for the lock
  // before ending with CancelledError (cancel() returns true and the future
  // stays pending until then). Precondition: locked(), else throws
  // RuntimeError.
  [[nodiscard]] Future<void> wait() const { return core_->wait(); }

  // Condition::wait_for
  //
  // Calls predicate() (now, then after each wake-up) until its result
  // converts to true, wait()ing in between; completes with that final
  // result, a Future<R>, R the predicate's decayed return type. An
  // exception from the first call propagates from wait_for(); from a later
  // one, it fails the future (holding the lock, as wait() does).
  // Precondition: locked() whenever the predicate is false, else
  // RuntimeError (thrown, or failing the future after a wake-up).
  template <class Predicate>
  [[nodiscard]] auto wait_for(Predicate predicate) const;

  // Condition::notify
  //
  // Wakes the first n waiters (fewer if fewer wait; none when n <= 0).
  // Each then re-acquires the lock, which the caller still holds.
  // Precondition: locked(), else throws RuntimeError.
  void notify(int n = 1) const { core_->notify(n); }
  // Condition::notify_all: notify() for every waiter.
  void notify_all() const { core_->notify_all(); }
};

// asyncio::Semaphore
//
// A counter of permits: acquire() takes one, waiting while none is free or
// someone else waits; release() gives one back (to the first waiter, if
// any). release() may raise the count above the initial value.
class Semaphore : private internal::CoreHandle<internal::SemaphoreCore> {
 public:
  // Precondition: value >= 0, else throws ValueError.
  explicit Semaphore(int value = 1) : Semaphore(value, false) {}

  // Semaphore::acquire: completes when this caller holds a permit.
  [[nodiscard]] Future<void> acquire() const { return core_->acquire(); }
  // Semaphore::release (BoundedSemaphore: see there).
  void release() const { core_->release(); }
  // Semaphore::locked: true when acquire() would wait (no free permit, or
  // someone waits).
  bool locked() const noexcept { return core_->locked(); }

 protected:
  Semaphore(int value, bool bounded) : CoreHandle(std::in_place, value, bounded) {}
};

// asyncio::BoundedSemaphore
//
// A Semaphore whose release() throws ValueError when it would raise the
// count of free permits above the initial value.
class BoundedSemaphore : public Semaphore {
 public:
  // Precondition: value >= 0, else throws ValueError.
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, true) {}
};

// asyncio::Barrier
//
// Holds back `parties` tasks until all have called wait(), then releases
// them together; then the next round starts.
class Barrier : private internal::CoreHandle<internal::BarrierCore> {
 public:
  // Precondition: parties >= 1, else throws ValueError.
  explicit Barrier(int parties) : CoreHandle(std::in_place, parties) {}

  // Barrier::wait
  //
  // Completes with this party's arrival index (0 for the first to arrive,
  // parties() - 1 for the last, whose wait() is done at once) when the last
  // party arrives; fails with BrokenBarrierError when the barrier is reset
  // or aborted while it waits, or is broken when it is called. A party
  // cancelled while it waits leaves the barrier (n_waiting() drops; as in
  // CPython, the next arrival then takes the same index as the last one).
  [[nodiscard]] Future<int> wait() const { return core_->wait(); }
  // Barrier::reset: fails every waiter with BrokenBarrierError and returns
  // the barrier to its empty, unbroken state.
  void reset() const { core_->reset(); }
  // Barrier::abort: fails every waiter, and every later wait() until
  // reset(), with BrokenBarrierError.
  void abort() const { core_->abort(); }

  int parties() const noexcept { return core_->parties(); }
  // Barrier::n_waiting: the parties waiting now.
  int n_waiting() const noexcept { return core_->n_waiting(); }
  bool broken() const noexcept { return core_->broken(); }
};

namespace internal {

// A done Future<R> holding `value`, on the running loop.
template <class R>
Future<R> ready_value(R value) {
  auto* s = new FutureState<R>(running_loop_or_throw());
  Future<R> f = FutureAccess::adopt<R>(s);  // frees s if R's move throws
  s->set_value(std::move(value));
  return f;
}

// Condition::wait_for's loop: evaluate, or wait and evaluate again.
template <class R, class P>
Future<R> condition_wait_for(const Condition& cond, P predicate) {
  R result = predicate();
  if (result) return ready_value<R>(std::move(result));
  return cond.wait().then([cond, predicate = std::move(predicate)]() mutable {
    return condition_wait_for<R>(cond, std::move(predicate));
  });
}

// f's result as a future: a Future<T> or Task<T> as is, a plain value (or
// void) as a done future.
template <class F>
auto call_as_future(F& f) {
  using R = std::decay_t<std::invoke_result_t<F&>>;
  if constexpr (FutureLike<R>::value) {
    return Future<typename FutureLike<R>::value_t>(f());
  } else if constexpr (std::is_void_v<R>) {
    f();
    return make_ready_future();
  } else {
    return make_ready_future(f());
  }
}

}  // namespace internal

template <class Predicate>
auto Condition::wait_for(Predicate predicate) const {
  using R = std::decay_t<std::invoke_result_t<Predicate&>>;
  static_assert(std::is_constructible_v<bool, const R&>,
                "wait_for's predicate returns something that converts to bool");
  return internal::condition_wait_for<R>(*this, std::move(predicate));
}

// asyncio::with
//
// asyncio's `async with primitive: body`: Lock, Semaphore, BoundedSemaphore
// and Condition (anything with acquire() and release()). Returns Future<T>,
// T being f's value type.
template <class Primitive, class F>
[[nodiscard]] auto with(const Primitive& primitive, F&& f) {
  using Fn = std::decay_t<F>;
  return primitive.acquire().then(
      [primitive, fn = Fn(std::forward<F>(f))]() mutable {
        using Body = decltype(internal::call_as_future(fn));
        using T = typename internal::FutureLike<Body>::value_t;
        Body body;
        try {
          body = internal::call_as_future(fn);
        } catch (...) {
          primitive.release();
          throw;
        }
        return body.then_outcome([primitive](Outcome<T> o) {
          primitive.release();
          return o;
        });
      });
}

}  // namespace asyncio

#endif  // ASYNCIO_LOCKS_H_
