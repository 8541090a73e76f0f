// asyncio/locks.h — synchronisation primitives: Lock, Event, and with(),
// asyncio's `async with`.
//
//   asyncio::Lock lock;                       // a handle: copies share it
//   asyncio::with(lock, [] {                   // async with lock:
//     return update_shared_state();            //     await update...()
//   });
//
//   asyncio::Event ready;
//   ready.wait().then([] { std::puts("set"); });   // await ready.wait()
//   ready.set();
//
// Contract (CPython 3.13 asyncio.Lock / asyncio.Event).
//  * A primitive is a cheap copyable handle to one shared state; it binds
//    to the running loop at its first operation (using it from another
//    loop afterwards is a RuntimeError).
//  * Lock::acquire() returns a future that completes when the caller holds
//    the lock: done at once when the lock is free and nobody waits (no
//    allocation), else a waiter in a FIFO. Fairness: no barging. release()
//    hands the lock to the first waiter (its task resumes on the next
//    iteration); a newcomer in between waits behind it. A waiter cancelled
//    while it waits leaves the queue; a waiter that was handed the lock and
//    cancelled before its task resumed passes the lock on. release() of an
//    unlocked lock is a RuntimeError.
//  * Event::wait() completes when the event is set (at once if it is);
//    set() wakes every waiter; clear() unsets; is_set().
//  * with(primitive, f): acquires, runs f (a callable returning T or a
//    Future<T>), releases on every outcome of f (value, exception,
//    cancellation), and completes with f's outcome. If the acquire itself
//    is cancelled, f never runs and nothing is released.
//
// Deviation: after release() hands the lock to a waiter, locked() is true
// at once (CPython unlocks and lets the woken task lock it again when it
// runs, so locked() reads false in between). Acquire and wait complete
// with no value (CPython's return True).
//
// Thread affinity: loop thread only. Cost: an operation that need not
// wait makes no allocation; one that waits makes one (its future's state,
// which is also its node in the FIFO); hand-off is O(1).
#ifndef ASYNCIO_LOCKS_H_
#define ASYNCIO_LOCKS_H_

#include <type_traits>
#include <utility>

#include "asyncio/errors.h"
#include "asyncio/future.h"
#include "asyncio/internal/waiters.h"

namespace asyncio {
namespace internal {

class LockCore final : public WaiterOwner {
 public:
  Future<void> acquire() {
    EventLoop* loop = bind_loop();
    if (!locked_ && waiters_.empty()) {
      locked_ = true;
      return done_future();
    }
    auto* w = new Waiter<void>(loop, this);
    Future<void> f = FutureAccess::adopt<void>(w);
    waiters_.push_back(w);
    return f;
  }

  void release() {
    if (!locked_) throw RuntimeError("Lock is not acquired.");
    locked_ = false;
    hand_to_first();
  }

  bool locked() const noexcept { return locked_; }
  std::size_t waiters() const noexcept { return waiters_.size(); }

  void waiter_cancelled(WaiterBase* w) override {
    waiters_.unlink(w);
    w->state()->release();
  }
  void waiter_dropped(WaiterBase*) override {
    // It held the lock (handed over) and will never release it.
    locked_ = false;
    hand_to_first();
  }

 private:
  void hand_to_first() {
    WaiterBase* w = waiters_.pop_front();
    if (w == nullptr) return;
    locked_ = true;
    auto* st = static_cast<Waiter<void>*>(w);
    st->set_value();
    st->release();  // the list's reference
  }

  bool locked_ = false;
  WaiterList waiters_;
};

class EventCore final : public WaiterOwner {
 public:
  Future<void> wait() {
    EventLoop* loop = bind_loop();
    if (set_) return done_future();
    auto* w = new Waiter<void>(loop, this);
    Future<void> f = FutureAccess::adopt<void>(w);
    waiters_.push_back(w);
    return f;
  }
  void set() {
    if (set_) return;
    set_ = true;
    while (WaiterBase* w = waiters_.pop_front()) {
      auto* st = static_cast<Waiter<void>*>(w);
      st->set_value();
      st->release();
    }
  }
  void clear() noexcept { set_ = false; }
  bool is_set() const noexcept { return set_; }

  void waiter_cancelled(WaiterBase* w) override {
    waiters_.unlink(w);
    w->state()->release();
  }
  void waiter_dropped(WaiterBase*) override {}  // nothing was handed over

 private:
  bool set_ = false;
  WaiterList waiters_;
};

// A copyable handle to a reference-counted core.
template <class Core>
class CoreHandle {
 public:
  CoreHandle() : core_(new Core()) {}
  CoreHandle(const CoreHandle& o) noexcept : core_(o.core_) { core_->ref(); }
  CoreHandle& operator=(const CoreHandle& o) noexcept {
    o.core_->ref();
    core_->unref();
    core_ = o.core_;
    return *this;
  }
  ~CoreHandle() { core_->unref(); }

 protected:
  Core* core_;
};

}  // namespace internal

// asyncio::Lock
class Lock : private internal::CoreHandle<internal::LockCore> {
 public:
  Lock() = default;

  // Lock::acquire: completes when this caller holds the lock.
  [[nodiscard]] Future<void> acquire() const { return core_->acquire(); }
  // Lock::release. Precondition: locked(), else throws RuntimeError.
  void release() const { core_->release(); }
  bool locked() const noexcept { return core_->locked(); }

  friend bool operator==(const Lock& a, const Lock& b) { return a.core_ == b.core_; }
};

// asyncio::Event
class Event : private internal::CoreHandle<internal::EventCore> {
 public:
  Event() = default;

  // Event::wait: completes when the event is set.
  [[nodiscard]] Future<void> wait() const { return core_->wait(); }
  // Event::set: sets the event and wakes every waiter.
  void set() const { core_->set(); }
  void clear() const { core_->clear(); }
  bool is_set() const noexcept { return core_->is_set(); }
};

namespace internal {
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

// asyncio::with
//
// asyncio's `async with primitive: body`: Lock (and every primitive with
// acquire() and release(): Semaphore, Condition). Returns Future<T>, T
// being f's value type.
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
