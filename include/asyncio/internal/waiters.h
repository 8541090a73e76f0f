// asyncio/internal/waiters.h — the waiting operations of queues and
// synchronisation primitives. Not part of the public API.
//
// A waiter is the state of the future a waiting operation returns (a get
// on an empty queue, an acquire of a held lock): one allocation, which is
// also the node of the primitive's intrusive FIFO of waiters. Operations
// that need not wait return a done future and make no waiter.
//
// Hand-off. When the primitive can satisfy the first waiter (an item was
// put, the lock was released), it unlinks the waiter and completes it at
// once with what it hands over (the item; for a lock, the lock itself):
// the waiting task resumes on the next iteration, as an asyncio task woken
// by its future does.
//
// Cancellation, both cases asyncio's primitives handle:
//  * a waiter cancelled while it waits (its future pending) unlinks itself
//    (WaiterOwner::waiter_cancelled) and never blocks those behind it;
//  * a waiter whose task was cancelled after the hand-off and before it
//    resumed takes the cancellation instead of the result; then
//    WaiterOwner::waiter_dropped passes on what it was handed (the item
//    goes back to the queue's head, the lock to the next waiter).
//
// Ownership. The primitive's list holds one reference to each linked
// waiter; a waiter holds one reference to the primitive's shared core
// (WaiterOwner), so the hooks can reach it when the user has dropped every
// handle. Thread affinity: loop thread only.
#ifndef ASYNCIO_INTERNAL_WAITERS_H_
#define ASYNCIO_INTERNAL_WAITERS_H_

#include <cassert>
#include <cstdint>
#include <string>
#include <utility>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"

namespace asyncio {
namespace internal {

class WaiterBase;

// The shared core of a primitive: reference counted, told about its
// waiters' cancellations. The primitive's public handle holds a reference.
class WaiterOwner {
 public:
  // Reference count (named apart from the primitives' acquire/release).
  void ref() noexcept { ++refs_; }
  void unref() noexcept {
    if (--refs_ == 0) delete this;
  }

  // A linked waiter was cancelled while it waited: unlink it from its list
  // and release the list's reference (never the last: the cancel holds
  // one), then let whoever it blocked go on.
  virtual void waiter_cancelled(WaiterBase* w) = 0;
  // A waiter that was handed something was cancelled before its task
  // resumed: pass that on.
  virtual void waiter_dropped(WaiterBase* w) = 0;
  // What a waiter of this primitive waits for ("Lock.acquire",
  // "Queue.get"), for dump_tasks().
  virtual std::string describe_waiter(const WaiterBase* w) const {
    (void)w;
    return "waiter";
  }

  // The loop this primitive is bound to: the running loop at its first use
  // (asyncio binds a primitive to a loop the same way). Using it from
  // another loop later is a RuntimeError.
  EventLoop* bind_loop() {
    EventLoop* running = running_loop_or_throw();
    if (loop_ == nullptr) {
      loop_ = running;
    } else if (loop_ != running) {
      throw RuntimeError("is bound to a different event loop");
    }
    return loop_;
  }
  EventLoop* loop() const noexcept { return loop_; }

  // A done Future<void>, shared by every operation that did not wait: no
  // allocation per operation (the state is made once).
  Future<void> done_future() {
    if (done_ == nullptr) {
      done_ = new FutureState<void>(loop_);
      done_->set_value();
    }
    return FutureAccess::share<void>(done_);
  }

 protected:
  virtual ~WaiterOwner() {
    if (done_ != nullptr) done_->release();
  }

 private:
  std::uint32_t refs_ = 1;
  EventLoop* loop_ = nullptr;
  FutureState<void>* done_ = nullptr;
};

// The non-template part of a waiter: its links and its owner.
class WaiterBase {
 public:
  WaiterBase* prev_waiter = nullptr;
  WaiterBase* next_waiter = nullptr;
  bool linked = false;
  // Free for the primitive (e.g. a Condition's notified flag, a Barrier's
  // arrival index).
  std::uint64_t tag = 0;

  virtual FutureStateBase* state() noexcept = 0;

 protected:
  ~WaiterBase() = default;
};

// An intrusive FIFO of waiters. Holds one reference to each linked waiter's
// state.
class WaiterList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  WaiterBase* front() const noexcept { return head_; }
  std::size_t size() const noexcept { return size_; }

  void push_back(WaiterBase* w) {
    assert(!w->linked);
    w->state()->add_ref();
    w->prev_waiter = tail_;
    w->next_waiter = nullptr;
    if (tail_) {
      tail_->next_waiter = w;
    } else {
      head_ = w;
    }
    tail_ = w;
    w->linked = true;
    ++size_;
  }

  // Unlinks `w`; the caller takes over the list's reference to its state.
  void unlink(WaiterBase* w) {
    assert(w->linked);
    if (w->prev_waiter) {
      w->prev_waiter->next_waiter = w->next_waiter;
    } else {
      head_ = w->next_waiter;
    }
    if (w->next_waiter) {
      w->next_waiter->prev_waiter = w->prev_waiter;
    } else {
      tail_ = w->prev_waiter;
    }
    w->prev_waiter = w->next_waiter = nullptr;
    w->linked = false;
    --size_;
  }

  // Unlinks and returns the first waiter (the caller owns its reference).
  WaiterBase* pop_front() {
    WaiterBase* w = head_;
    if (w) unlink(w);
    return w;
  }

 private:
  WaiterBase* head_ = nullptr;
  WaiterBase* tail_ = nullptr;
  std::size_t size_ = 0;
};

struct NoPayload {};

// Waiter<T, Payload>: the future state of one waiting operation, completed
// with a T (nothing for void) when the primitive hands it what it waited
// for. `payload` is what the operation carries while it waits (a put's
// item).
template <class T, class Payload = NoPayload>
class Waiter final : public FutureState<T>, public WaiterBase {
 public:
  Payload payload;

  Waiter(EventLoop* loop, WaiterOwner* owner) : FutureState<T>(loop), owner_(owner) {
    owner_->ref();
  }

  FutureStateBase* state() noexcept override { return this; }
  WaiterOwner* owner() const noexcept { return owner_; }
  std::string describe() const override {
    return owner_->describe_waiter(this);
  }

  // The handed-over value, to move back out in waiter_dropped (a result
  // the waiting task never read). Not for void.
  template <class U = T>
  U& handed_value() {
    return this->value_mut();
  }
  // Moves the handed-over value out to pass it on (waiter_dropped); later
  // reads of this future then get InvalidStateError, not a moved-from
  // value. Precondition: the state holds its value (!value_taken()).
  template <class U = T>
  U take_handed_value() {
    this->flags_ |= FutureStateBase::kValueTaken;
    return std::move(this->value_mut());
  }

 protected:
  ~Waiter() override { owner_->unref(); }

  void on_cancel() override {
    if (linked) {
      owner_->waiter_cancelled(this);
    }
  }
  void on_result_dropped() override {
    if (!dropped_) {
      dropped_ = true;
      owner_->waiter_dropped(this);
    }
  }

 private:
  WaiterOwner* owner_;
  bool dropped_ = false;
};

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_WAITERS_H_
