// asyncio/internal/future_state.h — the non-template core of every future.
//
// Not part of the public API; included by asyncio/future.h.
//
// A future's shared state is a FutureStateBase (compiled once, in
// lib/future_state.cc) plus, in FutureState<T>, the storage for a T.
// Every state is also a ReadyNode so that continuation stages and tasks can
// sit in a callback list and then in the loop's ready queue with no extra
// allocation: completing a future splices its whole callback list onto the
// ready queue in O(1), keeping registration order.
//
// State machine (State):
//
//     kPending ──set_result()────▶ kResult
//        │  └────set_exception()──▶ kException
//        └───────cancel()─────────▶ kCancelled
//
// Only kPending has transitions; completing a done state is an internal bug
// (assert) and, through Promise, an InvalidStateError.
//
// Ownership: intrusive, non-atomic reference count (futures are loop-affine).
// A node in a callback list holds a reference to the state it waits on; the
// ready queue holds one reference to each queued node.
//
// Forwarding. A then-stage (then, then_outcome, catch_error, finally) and a
// repeat() loop are "frames": they play the part of an asyncio coroutine
// frame, while a Promise's future, sleep() and a Task play the part of an
// asyncio Future. When a continuation or a task body returns a frame, the
// stage or task that waits on it is a *forwarding* waiter: when the frame
// completes, the waiter takes its outcome in the same step (as `await
// coro()` hands the return value to the awaiting frame at once), instead of
// on the next iteration. Only outcomes move: the waiter's run() in this
// phase runs no user code, and every done-callback and continuation is
// still scheduled through the ready queue. Forwarding is iterative: the
// loop keeps a queue of forwarding waiters and drains it from the outermost
// completion (EventLoop::forward), so a nesting of any depth completes with
// a flat stack. Awaiting a leaf or a Task wakes the waiter one iteration
// later, as in asyncio.
#ifndef ASYNCIO_INTERNAL_FUTURE_STATE_H_
#define ASYNCIO_INTERNAL_FUTURE_STATE_H_

#include <atomic>
#include <cassert>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/functional/function_ref.h"
#include "asyncio/errors.h"
#include "asyncio/source_location.h"

namespace asyncio {

class EventLoop;

namespace internal {

// A unit of work in the loop's ready queue, or a waiter in a callback list.
// The loop calls run() once per scheduling; run() consumes the reference the
// queue held. discard() replaces run() when the loop is closed: it must not
// run user code, and it consumes the reference too.
class ReadyNode {
 public:
  ReadyNode() = default;
  ReadyNode(const ReadyNode&) = delete;
  ReadyNode& operator=(const ReadyNode&) = delete;

  virtual void run() = 0;
  virtual void discard() = 0;
  // Non-zero for done-callbacks, which can be removed by id.
  virtual std::uint64_t callback_id() const { return 0; }
  // True for a stage or task that waits on a then-stage it was handed and
  // takes its outcome in the same step (see "Forwarding" above). Asked only
  // of the waiters of a state that has such a waiter.
  virtual bool forwards() const { return false; }
  // What this node runs, for debug mode's slow-callback report ("callback
  // created at file:line", "Task-3 created at ..."). Only called in debug
  // mode, before run().
  virtual std::string describe_step() const;

  ReadyNode* next_ = nullptr;

 protected:
  ~ReadyNode() = default;
};

// Intrusive singly-linked FIFO of ReadyNodes.
struct NodeList {
  ReadyNode* head = nullptr;
  ReadyNode* tail = nullptr;

  bool empty() const { return head == nullptr; }
  void push(ReadyNode* n) {
    n->next_ = nullptr;
    if (tail) {
      tail->next_ = n;
    } else {
      head = n;
    }
    tail = n;
  }
  // Moves every node of `other` to the back of this list.
  void splice(NodeList& other) {
    if (other.head == nullptr) return;
    if (tail) {
      tail->next_ = other.head;
    } else {
      head = other.head;
    }
    tail = other.tail;
    other.head = other.tail = nullptr;
  }
  ReadyNode* take_all() {
    ReadyNode* h = head;
    head = tail = nullptr;
    return h;
  }
};

enum class State : std::uint8_t { kPending, kResult, kException, kCancelled };

class TaskCore;

class FutureStateBase : public ReadyNode {
 public:
  explicit FutureStateBase(EventLoop* loop) : loop_(loop) {}

  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) destroy();
  }
  std::uint32_t refs() const noexcept { return refs_; }

  State state() const noexcept { return state_; }
  bool done() const noexcept { return state_ != State::kPending; }
  bool cancelled() const noexcept { return state_ == State::kCancelled; }
  // True when the state ended with a CancelledError, whether by cancel() or
  // by a continuation or producer that raised one.
  bool error_is_cancel() const noexcept {
    return state_ == State::kCancelled || (flags_ & kErrorIsCancel) != 0;
  }
  bool has_error() const noexcept {
    return state_ == State::kException || state_ == State::kCancelled;
  }
  EventLoop* loop() const noexcept { return loop_; }

  // The stored exception (for kException and kCancelled); marks it
  // retrieved, so it is not reported when the state dies.
  const std::exception_ptr& take_error() noexcept {
    flags_ |= kRetrieved;
    return error_;
  }
  void mark_retrieved() noexcept { flags_ |= kRetrieved; }

  // Producer side. Precondition: !done().
  void set_exception(std::exception_ptr e);  // checks whether e is cancellation
  void set_error(std::exception_ptr e, bool is_cancel);
  void set_cancelled(std::exception_ptr e);

  // FutureStateBase::cancel
  //
  // asyncio's Future.cancel(): false when done. Otherwise walks up the chain
  // of pending stages (iteratively: a chain of any length keeps the stack
  // flat) to whatever is pending at the top, cancels it, and returns true.
  // The CancelledError then flows down through the loop.
  bool cancel(const std::string& msg);
  bool cancel_with(const std::exception_ptr& exc);
  // Drops a cancel request that this task's cancel() left, not yet
  // delivered, on a stage it awaits (Task.uncancel() reaching zero).
  void clear_cancel_request() noexcept;
  // A stage that waited on this state, now done with a result, was
  // cancelled before it could run and takes the cancellation instead of
  // the result (asyncio: the awaiting task was cancelled after it was woken
  // and before it resumed). Waiter states of queues and locks override it
  // to pass on what they were handed (an item, the lock, a permit).
  virtual void on_result_dropped() {}
  // What this state waits on now (stages and tasks), else nullptr.
  virtual FutureStateBase* awaiting() const noexcept { return nullptr; }

  // Consumer side. `node` must already hold a reference to this state (the
  // reference moves with it to the ready queue when this state completes).
  // On a done state the node goes straight to the ready queue.
  void add_callback(ReadyNode* node);
  // Unlinks `node` if it is still waiting here (the caller gets back the
  // reference it held); true when it was.
  bool remove_callback(ReadyNode* node);
  // Unlinks and discards the done-callback with this id; returns 0 or 1.
  std::size_t remove_callback_id(std::uint64_t id);

  // A then-stage or repeat loop (see "Forwarding").
  bool is_frame() const noexcept { return (flags_ & kFrame) != 0; }
  bool forwards() const override { return (flags_ & kForwardWait) != 0; }
  // A forwarding waiter joined this frame's callback list.
  void note_forward_waiter() noexcept { flags_ |= kHasForward; }

  // A scratch mark for the combinators' duplicate check: true when this
  // call set it (it was clear). Clear it again before returning to the loop.
  bool mark_seen() noexcept {
    if (flags_ & kSeen) return false;
    flags_ |= kSeen;
    return true;
  }
  void clear_seen() noexcept { flags_ &= ~kSeen; }

  // Completes with `e`, a CancelledError, as an exception: cancelled() is
  // false, yet every consumer sees the cancellation (asyncio's
  // set_exception(CancelledError()), as gather does).
  void set_cancel_exception(std::exception_ptr e);

  // Type-erased task access (AnyTask); nullptr for plain futures.
  virtual TaskCore* task_core() noexcept { return nullptr; }
  // How the exception handler names this future ("Future", "Task-3");
  // a waiting operation says what it waits for ("sleep", "Queue.get").
  virtual std::string describe() const;
  // The futures a combinator (gather, wait, shield, ...) waits on now, for
  // dump_tasks(); nothing for other states.
  virtual void for_each_awaited(
      absl::FunctionRef<void(FutureStateBase*)> fn) const {
    (void)fn;
  }
  // Where this future was created: known only for futures created while
  // their loop was in debug mode (kept in the loop's debug table, not here).
  SourceLocation site() const;
  bool has_site() const noexcept { return (flags_ & kHasSite) != 0; }
  void set_has_site() noexcept { flags_ |= kHasSite; }
  // describe() and, when known, " created at file:line".
  std::string describe_with_site() const;
  std::string describe_step() const override { return describe_with_site(); }
  // A task whose first step has run.
  bool started() const noexcept { return (flags_ & kStarted) != 0; }

  // Leaf states are never queued; nodes and timer-backed states override.
  void run() override;
  void discard() override;

 protected:
  enum Flag : std::uint16_t {
    kRetrieved = 1,      // the exception was seen by someone
    kErrorIsCancel = 2,  // kException holding a CancelledError
    kMustCancel = 4,     // pending node: cancel requested; error_ holds it
    kValueTaken = 8,     // a move-only value was moved out
    kPhaseInner = 16,    // node: waiting on a continuation's inner future
    kStarted = 32,       // task: body has run
    kInWalk = 64,        // on the path of a cancel walk now (cycle guard)
    kFrame = 128,        // a then-stage or repeat loop: waiters may forward
    kHasForward = 256,   // some waiter in the callback list forwards
    kForwardWait = 512,  // this stage or task forwards from what it awaits
    kSeen = 1024,        // combinator scratch mark (duplicate arguments)
    kHasSite = 2048,     // debug mode recorded the creation site (loop table)
    kHoldsException = 4096,  // state_ is kException (for destroy()'s one test)
  };

  virtual ~FutureStateBase();

  // One step of the cancel walk. A leaf cancels itself and returns nullptr;
  // a stage that waits on a pending future returns that future; a stage
  // whose awaited future is already done records kMustCancel.
  virtual FutureStateBase* cancel_step(const std::exception_ptr& exc);
  // Producer hook, run synchronously by a leaf's cancel_step after the state
  // became cancelled (releases timers, waiter slots).
  virtual void on_cancel() {}
  // The cancel walk came back to this state (an await cycle): stop waiting
  // and end cancelled. Only stages can be on a cycle.
  virtual void cancel_cycle(const std::exception_ptr& exc) {}

  // For stages: the cancel step of something that waits on `waiting`.
  FutureStateBase* stage_cancel_step(FutureStateBase* waiting,
                                     const std::exception_ptr& exc);

  // Marks the result stored and schedules the callbacks.
  void set_result_state();

  std::uint32_t refs_ = 1;
  State state_ = State::kPending;
  std::uint16_t flags_ = 0;
  EventLoop* loop_;
  std::exception_ptr error_;
  // Callbacks in registration order, as a circular list through the last
  // node (one pointer instead of two: tail->next_ is the head).
  ReadyNode* callbacks_tail_ = nullptr;

 private:
  void destroy() noexcept;
  void destroy_slow() noexcept;
  void schedule_callbacks();
  ReadyNode* unlink_callback_if(absl::FunctionRef<bool(ReadyNode*)> match);
};

// The task whose code is running now (set while a task's body or any stage
// created under that task runs). Loop thread only.
extern thread_local FutureStateBase* tls_current_task;

class CurrentTaskScope {
 public:
  explicit CurrentTaskScope(FutureStateBase* task) noexcept
      : saved_(tls_current_task) {
    tls_current_task = task;
  }
  ~CurrentTaskScope() { tls_current_task = saved_; }
  CurrentTaskScope(const CurrentTaskScope&) = delete;
  CurrentTaskScope& operator=(const CurrentTaskScope&) = delete;

 private:
  FutureStateBase* saved_;
};

// Debug mode (asyncio/debug.h). g_debug_loops counts the loops with debug
// mode on, so that template code pays one relaxed load and a predictable
// branch when none is: `if (debug_active()) ...`. The hooks check the
// loop's own flag.
extern std::atomic<int> g_debug_loops;
inline bool debug_active() noexcept {
  return g_debug_loops.load(std::memory_order_relaxed) != 0;
}
// Records where `s` was created, when its loop is in debug mode.
void debug_note_created(FutureStateBase* s, SourceLocation where);
// A new then-stage (not yet waiting, one reference): the wrong-thread check
// (on failure the stage is released, then RuntimeError), then its site.
void debug_stage_created(FutureStateBase* s, SourceLocation where,
                         const char* what);
// RuntimeError when `loop` is in debug mode and runs in another thread
// (asyncio's _check_thread); `what` names the operation.
void debug_check_thread(EventLoop* loop, const char* what);

// Loop access for template code (keeps event_loop.h out of future.h).
EventLoop* running_loop_or_throw();
void enqueue(EventLoop* loop, ReadyNode* node);

[[noreturn]] void throw_invalid_state(const char* what);

// FutureState<T>: the base plus storage for one T.
// The type result() returns: const T&, or void.
template <class T>
struct ResultRef {
  using type = const T&;
};
template <>
struct ResultRef<void> {
  using type = void;
};

template <class T>
class FutureState : public FutureStateBase {
 public:
  using FutureStateBase::FutureStateBase;

  template <class... A>
  void set_value(A&&... args) {
    assert(!done());
    ::new (static_cast<void*>(&storage_)) T(std::forward<A>(args)...);
    set_result_state();
  }

  // Precondition: state() == kResult.
  const T& value_ref() const {
    if (flags_ & kValueTaken)
      throw_invalid_state("the move-only result was already moved out");
    return *std::launder(reinterpret_cast<const T*>(&storage_));
  }
  T& value_mut() { return *std::launder(reinterpret_cast<T*>(&storage_)); }

  // The value for one consumer: moved when this consumer holds the only
  // reference or T cannot be copied (then later consumers get
  // InvalidStateError), copied otherwise.
  T transfer_value() {
    (void)value_ref();  // throws when already taken
    if constexpr (std::is_copy_constructible_v<T>) {
      if (refs_ != 1) return value_mut();
      return std::move(value_mut());
    } else {
      if (refs_ != 1) flags_ |= kValueTaken;
      return std::move(value_mut());
    }
  }
  bool sole_owner() const noexcept { return refs_ == 1; }
  bool value_taken() const noexcept { return (flags_ & kValueTaken) != 0; }

  // The value for a reader that keeps its handle (Future::outcome()): a
  // copy, or for a move-only T the value itself, which later reads then
  // cannot see.
  T read_value_for_handle() {
    (void)value_ref();  // throws when already taken
    if constexpr (std::is_copy_constructible_v<T>) {
      return value_mut();
    } else {
      flags_ |= kValueTaken;
      return std::move(value_mut());
    }
  }

 protected:
  ~FutureState() override {
    if (state_ == State::kResult) value_mut().~T();
  }

 private:
  std::aligned_storage_t<sizeof(T), alignof(T)> storage_;
};

template <>
class FutureState<void> : public FutureStateBase {
 public:
  using FutureStateBase::FutureStateBase;
  void set_value() {
    assert(!done());
    set_result_state();
  }
  void value_ref() const {}
  void transfer_value() {}
  bool sole_owner() const noexcept { return refs_ == 1; }

 protected:
  ~FutureState() override = default;
};

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_FUTURE_STATE_H_
