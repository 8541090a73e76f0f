// asyncio/internal/combinator.h — the shared machinery of the combinators
// (gather, wait, wait_for, as_completed, shield, TaskGroup).
// Not part of the public API.
//
// A combinator is one shared state (CombinatorState<T>, which is also the
// future it returns) plus one ChildSlot per child it watches. A one-child
// combinator (shield, wait_for) keeps its slot inside the state, so it is
// one allocation; more slots take one array (no allocation per child). A
// slot is the child's done-callback: it sits in the child's callback list,
// then in the ready queue, and calls the combinator's on_child_done(i) on
// the loop iteration after the child completed (asyncio's
// add_done_callback). No polling.
//
// Cancellation. Cancelling the combinator's future does not complete it:
// the cancel walk calls on_cancel_request(exc), where the combinator
// cancels what it must (its children, its timer) and later completes
// itself (cancelled, or with whatever its children's answers mean). This
// is asyncio's _GatheringFuture.cancel() and wait_for's "wait for the
// cancellation to finish".
//
// Ownership. Each slot keeps a reference to its child for the combinator's
// whole life. A slot waiting in a child's callback list (or queued) keeps a
// reference to the combinator state. When the loop is closed, a discarded
// slot calls on_loop_closed(), which by default ends the combinator
// cancelled (as a stage would), running no user code.
#ifndef ASYNCIO_INTERNAL_COMBINATOR_H_
#define ASYNCIO_INTERNAL_COMBINATOR_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"

namespace asyncio {
namespace internal {

class CombinatorBase;

// One watched child: a done-callback node embedded in the combinator.
class ChildSlot final : public ReadyNode {
 public:
  ChildSlot() = default;
  ~ChildSlot() {
    if (child_ != nullptr) child_->release();
  }

  void run() override;
  void discard() override;

  FutureStateBase* child() const noexcept { return child_; }
  // Still in the child's callback list (or queued to report).
  bool attached() const noexcept { return attached_; }

 private:
  friend class CombinatorBase;
  CombinatorBase* owner_ = nullptr;
  FutureStateBase* child_ = nullptr;
  std::uint32_t index_ = 0;
  bool attached_ = false;
};

// The non-template part: slots, their bookkeeping and the cancel hook.
class CombinatorBase {
 public:
  // The state this combinator completes (the future it returned).
  virtual FutureStateBase* self() noexcept = 0;

  // Child i completed; called on the iteration after it did. Runs only
  // while the combinator may still care (it may be done already: then it
  // only marks the child's exception retrieved, as asyncio does).
  virtual void on_child_done(std::size_t i) = 0;

  // A slot's report was discarded because the loop is closed: nothing will
  // answer any more. Must run no user code. CombinatorState ends the
  // combinator cancelled; a combinator that owns more (as_completed's
  // outputs) ends that too.
  virtual void on_loop_closed() = 0;

  // Slots: sized once, before any is attached. One slot is kept inline.
  void init_slots(std::size_t n) {
    if (n <= 1) {
      slots_ = &inline_slot_;
    } else {
      heap_slots_.reset(new ChildSlot[n]);
      slots_ = heap_slots_.get();
    }
    nslots_ = n;
  }
  std::size_t nslots() const noexcept { return nslots_; }
  ChildSlot& slot(std::size_t i) noexcept { return slots_[i]; }

  // Slot i watches `child` (one reference to it is taken for the slot).
  void attach(std::size_t i, FutureStateBase* child) {
    ChildSlot& s = slots_[i];
    s.owner_ = this;
    s.child_ = child;
    s.index_ = static_cast<std::uint32_t>(i);
    child->add_ref();
    s.attached_ = true;
    self()->add_ref();  // the callback list's reference (to this state)
    child->add_callback(&s);
  }

  // Stops watching child i (asyncio's remove_done_callback), if it has not
  // reported yet. Returns true when the slot was detached.
  bool detach(std::size_t i) {
    ChildSlot& s = slots_[i];
    if (!s.attached_ || s.child_->done()) return false;
    if (!s.child_->remove_callback(&s)) return false;
    s.attached_ = false;
    self()->release();  // the list's reference; never the last (caller holds)
    return true;
  }

  virtual ~CombinatorBase() = default;

 private:
  friend class ChildSlot;
  ChildSlot inline_slot_;  // the only slot of a one-child combinator
  std::unique_ptr<ChildSlot[]> heap_slots_;
  ChildSlot* slots_ = nullptr;
  std::size_t nslots_ = 0;
};

// CombinatorState<T>: the future a combinator returns.
template <class T>
class CombinatorState : public FutureState<T>, public CombinatorBase {
 public:
  explicit CombinatorState(EventLoop* loop) : FutureState<T>(loop) {}

  FutureStateBase* self() noexcept final { return this; }
  std::string describe() const override { return "combinator"; }

  // The children this combinator still watches (dump_tasks()).
  void for_each_awaited(
      absl::FunctionRef<void(FutureStateBase*)> fn) const override {
    for (std::size_t i = 0; i < this->nslots(); ++i) {
      const ChildSlot& s = const_cast<CombinatorState*>(this)->slot(i);
      if (s.attached() && s.child() != nullptr) fn(s.child());
    }
  }

  // Completes with the loop-closed cancellation when the loop discarded a
  // slot (the loop is closed: nothing will answer any more).
  void on_loop_closed() override {
    if (!this->done()) {
      this->set_cancelled(loop_closed_error(this->loop_));
      this->mark_retrieved();
    }
  }

 protected:
  // cancel() on this future (directly, or by the walk of a task waiting on
  // it): the combinator decides what to cancel and when it completes.
  virtual void on_cancel_request(const std::exception_ptr& exc) = 0;

  FutureStateBase* cancel_step(const std::exception_ptr& exc) override {
    on_cancel_request(exc);
    return nullptr;  // the walk ends here; children were cancelled apart
  }
};

inline void ChildSlot::run() {
  CombinatorBase* owner = owner_;
  FutureStateBase* self = owner->self();
  attached_ = false;
  owner->on_child_done(index_);
  self->release();  // the reference the list (then the queue) held
}

inline void ChildSlot::discard() {
  CombinatorBase* owner = owner_;
  FutureStateBase* self = owner->self();
  attached_ = false;
  child_->mark_retrieved();  // the combinator was its consumer
  owner->on_loop_closed();
  self->release();
}

// An argument a combinator accepts: a Future<T>, a Task<T> or a callable.
template <class A>
inline constexpr bool kIsAwaitable =
    FutureLike<std::decay_t<A>>::value || std::is_invocable_v<std::decay_t<A>&>;

// A ValueError unless `f` belongs to `loop` (asyncio: futures tied to
// different event loops).
void check_same_loop(FutureStateBase* f, EventLoop* loop);

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_COMBINATOR_H_
