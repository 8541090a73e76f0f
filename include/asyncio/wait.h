// asyncio/wait.h — wait(), wait_for() and as_completed(): waiting on several
// awaitables until a condition or a deadline, and on one with a deadline.
//
//   // done, pending = await asyncio.wait(tasks, timeout=5,
//   //                                    return_when=FIRST_COMPLETED)
//   asyncio::wait(tasks, 5.0, asyncio::ReturnWhen::FIRST_COMPLETED)
//       .then([](const asyncio::WaitResult<int>& r) {
//         for (const asyncio::Future<int>& f : r.pending) f.cancel();
//       });
//
//   // await asyncio.wait_for(work(), timeout=1.0)
//   asyncio::wait_for(work, 1.0)
//       .catch_error<asyncio::TimeoutError>(
//           [](const asyncio::TimeoutError&) { return std::string("late"); });
//
//   // for f in asyncio.as_completed(aws): print(await f)
//   asyncio::for_each(asyncio::as_completed(aws), [](asyncio::Future<int> f) {
//     return f.then([](int v) { std::cout << v << "\n"; });
//   });
//
// Arguments. An awaitable is a Future<T>, a Task<T> or a callable (a
// "coroutine" returning T, Future<T> or Task<T>); wait() and as_completed()
// take a std::vector of one such type. Futures and tasks are watched as
// they are; callables become tasks in argument order (ensure_future) on the
// running loop. The same future given twice is watched once (asyncio turns
// the argument into a set). Timeouts are seconds (a double) or a
// std::chrono::duration; std::nullopt, or +infinity, means no deadline.
//
// Contract (CPython 3.13's asyncio.wait, wait_for and as_completed, with the
// deviations listed below).
//  * wait(aws, timeout, when) completes with a WaitResult: `done` and
//    `pending` hold every distinct child, each in argument order, split by
//    done() at the moment the wait completes: when the first child
//    completes (FIRST_COMPLETED), when a child fails with an exception or
//    all are done (FIRST_EXCEPTION; a cancelled child is not an exception),
//    when all are done (ALL_COMPLETED, the default), or when the timeout
//    passes, whichever is first. A child that is already done counts as
//    done. A timeout never fails the wait and never cancels a child.
//    cancel(msg) on the wait (or on a task waiting on it) ends it cancelled
//    at once and leaves the children running. wait() never reads the
//    children's outcomes: an exception in a done child is the caller's to
//    retrieve.
//  * wait_for(aw, timeout) completes as aw does (same value, same
//    exception; a cancelled aw cancels it). When the timeout passes first,
//    it cancels aw, waits until aw has finished (its cleanup may take
//    time), then fails with TimeoutError — unless aw swallowed the
//    cancellation and returned a value (that value is the result) or
//    raised another exception (that exception is the error). A timeout
//    <= 0 does the same at once for an aw that is not done (a callable's
//    body then never runs). An aw that is already done gives its outcome
//    whatever the timeout: wait_for returns a future sharing its state, as
//    awaiting a done future does not suspend.
//  * cancel(msg) on wait_for's future (directly, or by cancelling a task
//    that waits on it) cancels aw, waits until aw has finished, and then
//    ends cancelled with msg — whether aw ended cancelled or swallowed the
//    cancellation and returned a value — or fails with aw's exception when
//    aw raised another one. If aw is already done when the cancel arrives,
//    wait_for ends cancelled at once and aw's outcome is dropped (CPython's
//    task would throw the pending cancellation into the coroutine too). An
//    outside cancel always wins over the timeout, in whichever order they
//    arrive, even while the timeout's cancellation is still finishing (the
//    cancel then reaches aw again): the end is CancelledError, never
//    TimeoutError.
//  * as_completed(aws, timeout) returns one future per distinct child, at
//    once. The i-th completes with the outcome (value, exception or
//    cancellation) of the i-th child to complete; children already done
//    come first, in argument order. When the timeout passes, the outputs
//    not yet claimed by a completed child fail with TimeoutError; the
//    children are not cancelled and keep running. An output the caller
//    cancels is skipped: the next child to complete goes to the next output.
//    An empty vector gives an empty vector.
//
// Ordering inside one loop iteration. A child's completion reaches the
// combinator through the ready queue (one iteration later, as asyncio's
// done-callbacks do); the deadline is a loop timer; an outside cancel is a
// call. When the deadline falls due, a child that has already completed —
// even in that same iteration, its report still queued — counts as
// completed: wait lists it in `done`, wait_for delivers its result and
// as_completed keeps an output for it. wait_for removes its timer as soon as
// its child completes or a cancel arrives; wait and as_completed as soon as
// they are finished.
//
// Errors (thrown by the call itself, before any callable is started):
//   ValueError         wait() of an empty vector (as_completed() of one is
//                      empty); a ReturnWhen outside the enum; a NaN timeout;
//                      a future of another loop than the running one (or,
//                      with no loop running, than the other futures).
//   InvalidStateError  an empty (default-constructed) Future or Task.
//   RuntimeError       a callable with no running loop; a closed loop.
//
// Deliberate differences from CPython 3.13 (for the README):
//  * wait() throws its ValueError itself rather than when awaited, and
//    accepts callables (made tasks) where CPython's wait() refuses bare
//    coroutines with TypeError.
//  * WaitResult keeps `done` and `pending` as vectors in argument order;
//    Python returns sets. Duplicates appear once, at their first position.
//  * wait(FIRST_EXCEPTION) does not mark the failed child's exception
//    retrieved (CPython's check happens to, except for the last child).
//  * wait_for: a result that is ready when the deadline falls due in the
//    same iteration is delivered. CPython's timeout() cancels the task
//    anyway, and the ready result is dropped for a TimeoutError.
//  * wait_for: after an outside cancel, a child that swallows the
//    cancellation and returns a value still leaves wait_for cancelled, as
//    in CPython 3.11; CPython 3.12+ returns that value to the cancelled
//    task. Cancelled by the caller, wait_for ends with the caller's
//    message.
//  * wait_for runs a callable in a task of its own (ensure_future); CPython
//    3.12+ awaits a coroutine inside the caller's task.
//  * as_completed() returns a std::vector of futures that resolve eagerly
//    in completion order, instead of an iterator of coroutines. An output
//    that failed with TimeoutError is never reported as "never retrieved"
//    (a Python coroutine that is not awaited raises nothing).
//  * as_completed() starts callables in argument order (CPython iterates a
//    set), and a child that completed in the iteration the deadline falls
//    due is delivered instead of timing out.
//  * A NaN timeout is a ValueError; a timeout of +infinity is no timeout.
//  * Given only futures and tasks, the three work without a running loop
//    (on the futures' loop), as gather does; CPython's need one.
//
// Thread affinity: loop thread only. Ownership: each combinator keeps a
// reference to every child until it is destroyed; a child keeps the
// combinator alive while the combinator still waits on it. Dropping the
// returned future(s) cancels nothing. Tasks made from callables are kept
// alive by the loop until they finish.
//
// Cost. wait_for: one allocation (the state, which is also the timer entry
// and holds the child's slot) plus what the child costs. wait: one
// allocation for the state and, for two or more distinct children, one for
// their slots (40 bytes each), plus the two result vectors when it
// completes. as_completed: the same, plus one allocation per output future
// and two vectors (the outputs the hub keeps, the ones returned). A child's
// completion costs one ready-queue pass; a deadline is one entry in the
// loop's timer heap (O(log n)), removed when no longer needed.
#ifndef ASYNCIO_WAIT_H_
#define ASYNCIO_WAIT_H_

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/internal/combinator.h"
#include "asyncio/task.h"

namespace asyncio {

// asyncio::ReturnWhen
//
// When wait() completes (asyncio's return_when constants).
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };

// asyncio::FIRST_COMPLETED / FIRST_EXCEPTION / ALL_COMPLETED
//
// The same values under asyncio's module-level names.
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

// asyncio::WaitResult<T>
//
// What wait() completes with: Python's (done, pending) pair of sets, as two
// vectors that keep argument order. Each Future<T> shares its child's
// state (compare with == to find a task).
template <class T>
struct WaitResult {
  std::vector<Future<T>> done;
  std::vector<Future<T>> pending;
};

// asyncio::wait
//
// Completes when `when` holds or the timeout passes (see the contract).
// A is Future<T>, Task<T> or a callable; the result is
// Future<WaitResult<T>>. Throws as listed under "Errors".
template <class A>
[[nodiscard]] Future<WaitResult<internal::awaitable_value_t<A>>> wait(
    std::vector<A> aws, ReturnWhen when = ReturnWhen::ALL_COMPLETED);
template <class A>
[[nodiscard]] Future<WaitResult<internal::awaitable_value_t<A>>> wait(
    std::vector<A> aws, double timeout_seconds,
    ReturnWhen when = ReturnWhen::ALL_COMPLETED);
template <class A>
[[nodiscard]] Future<WaitResult<internal::awaitable_value_t<A>>> wait(
    std::vector<A> aws, std::optional<double> timeout_seconds,
    ReturnWhen when = ReturnWhen::ALL_COMPLETED);
template <class A, class Rep, class Period>
[[nodiscard]] Future<WaitResult<internal::awaitable_value_t<A>>> wait(
    std::vector<A> aws, std::chrono::duration<Rep, Period> timeout,
    ReturnWhen when = ReturnWhen::ALL_COMPLETED);

// asyncio::wait_for
//
// Completes as `aw` does, or fails with TimeoutError after cancelling `aw`
// and waiting for it to finish (see the contract). wait_for(aw,
// std::nullopt) waits without a deadline. Returns Future<T> (a combinator,
// not a task). Throws as listed under "Errors".
template <class A, class = std::enable_if_t<internal::kIsAwaitable<A>>>
[[nodiscard]] Future<internal::awaitable_value_t<A>> wait_for(
    A&& aw, double timeout_seconds);
template <class A, class = std::enable_if_t<internal::kIsAwaitable<A>>>
[[nodiscard]] Future<internal::awaitable_value_t<A>> wait_for(
    A&& aw, std::optional<double> timeout_seconds);
template <class A, class Rep, class Period,
          class = std::enable_if_t<internal::kIsAwaitable<A>>>
[[nodiscard]] Future<internal::awaitable_value_t<A>> wait_for(
    A&& aw, std::chrono::duration<Rep, Period> timeout);

// asyncio::as_completed
//
// One future per distinct child, completing in the children's completion
// order; on timeout the unclaimed ones fail with TimeoutError (see the
// contract). Throws as listed under "Errors".
template <class A>
[[nodiscard]] std::vector<Future<internal::awaitable_value_t<A>>> as_completed(
    std::vector<A> aws);
template <class A>
[[nodiscard]] std::vector<Future<internal::awaitable_value_t<A>>> as_completed(
    std::vector<A> aws, double timeout_seconds);
template <class A>
[[nodiscard]] std::vector<Future<internal::awaitable_value_t<A>>> as_completed(
    std::vector<A> aws, std::optional<double> timeout_seconds);
template <class A, class Rep, class Period>
[[nodiscard]] std::vector<Future<internal::awaitable_value_t<A>>> as_completed(
    std::vector<A> aws, std::chrono::duration<Rep, Period> timeout);

// --- Implementation ----------------------------------------------------------

namespace internal {

// The timeout in nanoseconds; nullopt for no deadline (none given, or
// +infinity). Throws ValueError for NaN.
inline std::optional<std::int64_t> timeout_ns(std::optional<double> seconds) {
  if (!seconds) return std::nullopt;
  const std::int64_t ns = EventLoop::seconds_to_ns(*seconds);  // NaN throws
  if (std::isinf(*seconds) && *seconds > 0) return std::nullopt;
  return ns;
}

// `ns` from now on `loop`'s clock, saturating (a huge timeout never wraps).
inline std::int64_t deadline_after(EventLoop* loop, std::int64_t ns) {
  const std::int64_t now = loop->now_ns();
  if (ns > 0 && now > std::numeric_limits<std::int64_t>::max() - ns)
    return std::numeric_limits<std::int64_t>::max();
  return now + ns;
}

inline void check_loop_open(EventLoop* loop) {
  if (loop->is_closed()) throw RuntimeError("Event loop is closed");
}

// The loop a vector of awaitables runs on: the running loop when there is
// one, else that of the futures; every future must belong to it (else
// ValueError) and be non-empty (else InvalidStateError). Callables need a
// running loop (else RuntimeError). nullptr for an empty vector with no
// running loop.
template <class A>
EventLoop* loop_of(const std::vector<A>& aws) {
  EventLoop* loop = running_loop();
  if constexpr (FutureLike<std::decay_t<A>>::value) {
    for (const A& a : aws) {
      if (!a.valid()) throw_invalid_state("empty Future");
      EventLoop* l = &a.get_loop();
      if (loop == nullptr) {
        loop = l;
      } else if (l != loop) {
        throw ValueError(
            "The future belongs to a different loop than the one specified "
            "as the loop argument");
      }
    }
  } else {
    if (!aws.empty() && loop == nullptr) loop = running_loop_or_throw();
  }
  return loop;
}

// Gives `to` the outcome of the done future `from`, as awaiting it would:
// the same exception (a cancellation stays one, cancelled() included), or
// the value (moved out when nobody else holds `from`).
template <class T>
void complete_from(FutureState<T>* to, FutureState<T>* from) {
  switch (from->state()) {
    case State::kCancelled:
      to->set_cancelled(from->take_error());
      return;
    case State::kException:
      if (from->error_is_cancel()) {
        to->set_cancel_exception(from->take_error());
      } else {
        to->set_error(from->take_error(), false);
      }
      return;
    default:
      break;
  }
  if constexpr (std::is_void_v<T>) {
    to->set_value();
  } else {
    try {
      to->set_value(from->transfer_value());
    } catch (...) {  // a move-only value another consumer took, or T threw
      to->set_error(std::current_exception(), false);
    }
  }
}

// A combinator with a deadline. The state is its own timer entry: its
// run() is the timer firing and its discard() the timer dropped by a closed
// loop, so a deadline costs no allocation. The heap holds one reference to
// the state while the timer is in it.
template <class R>
class TimedCombinator : public CombinatorState<R> {
 public:
  explicit TimedCombinator(EventLoop* loop) : CombinatorState<R>(loop) {}

  // Schedules the deadline at loop time `when` (nanoseconds).
  void arm_deadline(std::int64_t when) {
    deadline_.when = when;
    deadline_.node = this;
    this->add_ref();  // the heap's
    this->loop_->add_timer(&deadline_);
  }

  // The timer is due (the loop moved it to the ready queue).
  void run() final {
    on_deadline();
    this->release();  // the heap's reference
  }
  // The loop is closed with the timer still pending.
  void discard() final {
    this->on_loop_closed();
    this->release();
  }

 protected:
  // The deadline passed. The combinator may be finished already.
  virtual void on_deadline() = 0;

  // Takes the timer out of the heap if it is still there. The caller holds
  // another reference (the heap's is dropped here).
  void disarm_deadline() {
    if (this->loop_->remove_timer(&deadline_)) this->release();
  }

  // Stops watching every child that has not reported yet.
  void detach_all() {
    for (std::size_t i = 0; i < this->nslots(); ++i) this->detach(i);
  }

  void on_loop_closed() override {
    detach_all();
    CombinatorState<R>::on_loop_closed();
  }

 private:
  TimerSlot deadline_;
};

// Watches the distinct children of a vector (in argument order), with the
// duplicate check gather uses. Derived: the combinator's state.
template <class Base>
class ChildSet : public Base {
 public:
  using Base::Base;

  // Position by position, after init_slots(number of arguments).
  void add_child(FutureStateBase* child) {
    if (child->mark_seen()) this->attach(nchildren_++, child);
  }
  // After the last add_child() (or when filling failed).
  void clear_marks() noexcept {
    for (std::size_t i = 0; i < nchildren_; ++i) this->slot(i).child()->clear_seen();
  }
  std::size_t nchildren() const noexcept { return nchildren_; }

 private:
  std::size_t nchildren_ = 0;
};

// Converts each awaitable with ensure_future and hands it to st->add_child,
// in argument order. If that throws, the state ends failed (its error
// retrieved: nobody will see the future) and the exception propagates;
// children already watched keep running.
template <class State, class A>
void watch_children(State* st, std::vector<A>& aws) {
  using T = awaitable_value_t<A>;
  st->init_slots(aws.size());
  try {
    for (A& a : aws) {
      Future<T> f = ensure_future(std::move(a));
      st->add_child(FutureAccess::state(f));
    }
  } catch (...) {
    st->clear_marks();
    st->fail_setup(std::current_exception());
    throw;
  }
  st->clear_marks();
}

// --- wait ---------------------------------------------------------------------

template <class T>
class WaitState final : public ChildSet<TimedCombinator<WaitResult<T>>> {
 public:
  WaitState(EventLoop* loop, ReturnWhen when)
      : ChildSet<TimedCombinator<WaitResult<T>>>(loop), when_(when) {}
  std::string describe() const override { return "wait"; }

  // After watch_children(): counts what must report.
  void start(std::optional<std::int64_t> deadline) {
    remaining_ = this->nchildren();
    if (deadline) this->arm_deadline(*deadline);
  }
  void fail_setup(std::exception_ptr e) {
    this->detach_all();
    this->set_error(std::move(e), false);
    this->mark_retrieved();
  }

  void on_child_done(std::size_t i) override {
    if (this->done()) return;  // finished, cancelled or failed to start
    --remaining_;
    FutureStateBase* c = this->slot(i).child();
    if (remaining_ == 0 || when_ == ReturnWhen::FIRST_COMPLETED ||
        (when_ == ReturnWhen::FIRST_EXCEPTION &&
         c->state() == State::kException)) {
      finish();
    }
  }

 protected:
  void on_deadline() override {
    if (!this->done()) finish();
  }

  // asyncio: the waiter is cancelled; the children are left alone.
  void on_cancel_request(const std::exception_ptr& exc) override {
    this->disarm_deadline();
    this->detach_all();
    this->set_cancelled(exc);
  }

 private:
  void finish() {
    this->disarm_deadline();
    this->detach_all();
    try {
      WaitResult<T> r;
      for (std::size_t i = 0; i < this->nchildren(); ++i) {
        auto* c = static_cast<FutureState<T>*>(this->slot(i).child());
        (c->done() ? r.done : r.pending).push_back(FutureAccess::share(c));
      }
      this->set_value(std::move(r));
    } catch (...) {  // std::bad_alloc
      this->set_error(std::current_exception(), false);
    }
  }

  ReturnWhen when_;
  std::size_t remaining_ = 0;
};

template <class A>
Future<WaitResult<awaitable_value_t<A>>> wait_impl(
    std::vector<A> aws, std::optional<double> timeout, ReturnWhen when) {
  using T = awaitable_value_t<A>;
  if (aws.empty()) throw ValueError("Set of Tasks/Futures is empty.");
  if (when != ReturnWhen::FIRST_COMPLETED &&
      when != ReturnWhen::FIRST_EXCEPTION && when != ReturnWhen::ALL_COMPLETED)
    throw ValueError("Invalid return_when value");
  const std::optional<std::int64_t> ns = timeout_ns(timeout);
  EventLoop* loop = loop_of(aws);
  check_loop_open(loop);
  auto* st = new WaitState<T>(loop, when);
  Future<WaitResult<T>> result = FutureAccess::adopt<WaitResult<T>>(st);
  watch_children(st, aws);
  st->start(ns ? std::optional<std::int64_t>(deadline_after(loop, *ns))
               : std::nullopt);
  return result;
}

// --- wait_for -----------------------------------------------------------------

template <class T>
class WaitForState final : public TimedCombinator<T> {
 public:
  std::string describe() const override { return "wait_for"; }
  WaitForState(EventLoop* loop, FutureState<T>* child)
      : TimedCombinator<T>(loop) {
    this->init_slots(1);
    this->attach(0, child);
  }

  // A timeout <= 0 on a pending child: cancel it now and time out when it
  // has finished.
  void expire_now() { time_out(); }

  void on_child_done(std::size_t) override {
    this->disarm_deadline();
    FutureState<T>* c = child();
    if (this->done()) {
      // Ended by an outside cancel while the child's report was queued, or
      // by the loop closing: the child's outcome is dropped (asyncio
      // retrieves it).
      if (!c->cancelled()) c->mark_retrieved();
      return;
    }
    if (cancel_requested_) {
      std::exception_ptr req = std::move(cancel_request_);
      cancel_request_ = nullptr;
      if (c->state() == State::kException && !c->error_is_cancel()) {
        this->set_error(c->take_error(), false);  // its cleanup failed
      } else {
        // Cancelled, or the child swallowed the cancellation: either way
        // the caller's cancel (and its message) is the outcome.
        if (c->has_error()) c->mark_retrieved();
        this->set_cancelled(std::move(req));
      }
      return;
    }
    if (timed_out_ && c->error_is_cancel()) {
      c->mark_retrieved();
      this->set_error(std::make_exception_ptr(TimeoutError()), false);
      return;
    }
    complete_from<T>(this, c);
  }

 protected:
  void on_deadline() override {
    // Finished, or an outside cancel came first (it wins), or the child's
    // outcome is already there (its report is queued): nothing to do.
    if (this->done() || cancel_requested_ || timed_out_ || child()->done())
      return;
    time_out();
  }

  void on_cancel_request(const std::exception_ptr& exc) override {
    cancel_requested_ = true;
    this->disarm_deadline();
    FutureState<T>* c = child();
    if (c->done()) {
      // Its outcome is ready but not delivered yet: the cancel wins, as the
      // pending cancellation of a task that is about to resume does.
      this->set_cancelled(exc);
      return;
    }
    cancel_request_ = exc;
    c->cancel_with(exc);  // ends us when the child has finished
  }

 private:
  FutureState<T>* child() {
    return static_cast<FutureState<T>*>(this->slot(0).child());
  }
  void time_out() {
    timed_out_ = true;
    child()->cancel_with(std::make_exception_ptr(CancelledError()));
  }

  std::exception_ptr cancel_request_;  // the outside cancel's error
  bool cancel_requested_ = false;      // an outside cancel arrived
  bool timed_out_ = false;             // the deadline cancelled the child
};

template <class A>
Future<awaitable_value_t<A>> wait_for_impl(A&& aw,
                                           std::optional<double> timeout) {
  using T = awaitable_value_t<A>;
  const std::optional<std::int64_t> ns = timeout_ns(timeout);  // before aw starts
  if constexpr (FutureLike<std::decay_t<A>>::value) {
    if (aw.valid()) {
      EventLoop* running = running_loop();
      if (running != nullptr && &aw.get_loop() != running)
        throw ValueError(
            "The future belongs to a different loop than the one specified "
            "as the loop argument");
    }
  }
  Future<T> inner = ensure_future(std::forward<A>(aw));
  FutureState<T>* in = FutureAccess::state(inner);
  if (in->done()) return inner;  // awaiting a done future does not suspend
  EventLoop* loop = in->loop();
  check_loop_open(loop);
  auto* st = new WaitForState<T>(loop, in);
  Future<T> outer = FutureAccess::adopt<T>(st);
  if (timeout && *timeout <= 0) {
    st->expire_now();
  } else if (ns) {
    st->arm_deadline(deadline_after(loop, *ns));
  }
  return outer;
}

// --- as_completed -------------------------------------------------------------

// The hub behind as_completed's outputs. Its own future is never handed
// out; the outputs are plain futures it completes in completion order.
template <class T>
class AsCompletedState final : public ChildSet<TimedCombinator<void>> {
 public:
  explicit AsCompletedState(EventLoop* loop)
      : ChildSet<TimedCombinator<void>>(loop) {}
  std::string describe() const override { return "as_completed"; }

  // After watch_children(): one output per distinct child.
  std::vector<Future<T>> start(std::optional<std::int64_t> deadline) {
    const std::size_t n = this->nchildren();
    outputs_.reserve(n);
    std::vector<Future<T>> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto* o = new FutureState<T>(this->loop_);
      outputs_.push_back(o);  // the hub's reference (reserved: no throw)
      out.push_back(FutureAccess::share(o));
    }
    unreported_ = n;
    if (deadline) this->arm_deadline(*deadline);
    return out;
  }
  void fail_setup(std::exception_ptr) {
    this->detach_all();
    unreported_ = 0;
  }

  void on_child_done(std::size_t i) override {
    if (unreported_ == 0) return;  // setup failed, or the loop closed
    --unreported_;
    deliver(static_cast<FutureState<T>*>(this->slot(i).child()));
    if (unreported_ == 0) this->disarm_deadline();
  }

 protected:
  ~AsCompletedState() override {
    for (FutureState<T>* o : outputs_) o->release();
  }

  // Children already done (their reports are queued) keep an output each;
  // the others stop being watched and their outputs time out.
  void on_deadline() override {
    if (unreported_ == 0) return;
    std::size_t queued = 0;
    for (std::size_t i = 0; i < this->nchildren(); ++i) {
      if (!this->slot(i).attached()) continue;
      if (this->slot(i).child()->done()) {
        ++queued;
      } else if (this->detach(i)) {
        --unreported_;
      }
    }
    std::exception_ptr timeout = std::make_exception_ptr(TimeoutError());
    for (std::size_t j = next_; j < outputs_.size(); ++j) {
      FutureState<T>* o = outputs_[j];
      if (o->done()) continue;
      if (queued > 0) {
        --queued;
        continue;
      }
      o->set_error(timeout, false);
      o->mark_retrieved();  // as an unawaited coroutine raises nothing
    }
  }

  // Nobody holds the hub's own future.
  void on_cancel_request(const std::exception_ptr&) override {}

  void on_loop_closed() override {
    unreported_ = 0;
    for (FutureState<T>* o : outputs_) {
      if (!o->done()) {
        o->set_cancelled(loop_closed_error(this->loop_));
        o->mark_retrieved();
      }
    }
    TimedCombinator<void>::on_loop_closed();
  }

 private:
  // The next output still pending takes c's outcome. Outputs the caller
  // cancelled are skipped; with none left, c's outcome stays with c.
  void deliver(FutureState<T>* c) {
    while (next_ < outputs_.size() && outputs_[next_]->done()) ++next_;
    if (next_ == outputs_.size()) return;
    complete_from<T>(outputs_[next_++], c);
  }

  std::vector<FutureState<T>*> outputs_;
  std::size_t next_ = 0;        // outputs before it are done
  std::size_t unreported_ = 0;  // children whose outcome is still to come
};

template <class A>
std::vector<Future<awaitable_value_t<A>>> as_completed_impl(
    std::vector<A> aws, std::optional<double> timeout) {
  using T = awaitable_value_t<A>;
  const std::optional<std::int64_t> ns = timeout_ns(timeout);
  EventLoop* loop = loop_of(aws);
  if (aws.empty()) return {};
  check_loop_open(loop);
  auto* st = new AsCompletedState<T>(loop);
  Future<void> hub = FutureAccess::adopt<void>(st);  // ours until we return
  watch_children(st, aws);
  return st->start(ns ? std::optional<std::int64_t>(deadline_after(loop, *ns))
                      : std::nullopt);
}

}  // namespace internal

template <class A>
Future<WaitResult<internal::awaitable_value_t<A>>> wait(std::vector<A> aws,
                                                        ReturnWhen when) {
  return internal::wait_impl(std::move(aws), std::nullopt, when);
}
template <class A>
Future<WaitResult<internal::awaitable_value_t<A>>> wait(
    std::vector<A> aws, double timeout_seconds, ReturnWhen when) {
  return internal::wait_impl(std::move(aws), timeout_seconds, when);
}
template <class A>
Future<WaitResult<internal::awaitable_value_t<A>>> wait(
    std::vector<A> aws, std::optional<double> timeout_seconds,
    ReturnWhen when) {
  return internal::wait_impl(std::move(aws), timeout_seconds, when);
}
template <class A, class Rep, class Period>
Future<WaitResult<internal::awaitable_value_t<A>>> wait(
    std::vector<A> aws, std::chrono::duration<Rep, Period> timeout,
    ReturnWhen when) {
  return internal::wait_impl(
      std::move(aws), std::chrono::duration<double>(timeout).count(), when);
}

template <class A, class>
Future<internal::awaitable_value_t<A>> wait_for(A&& aw,
                                                double timeout_seconds) {
  return internal::wait_for_impl(std::forward<A>(aw), timeout_seconds);
}
template <class A, class>
Future<internal::awaitable_value_t<A>> wait_for(
    A&& aw, std::optional<double> timeout_seconds) {
  return internal::wait_for_impl(std::forward<A>(aw), timeout_seconds);
}
template <class A, class Rep, class Period, class>
Future<internal::awaitable_value_t<A>> wait_for(
    A&& aw, std::chrono::duration<Rep, Period> timeout) {
  return internal::wait_for_impl(
      std::forward<A>(aw), std::chrono::duration<double>(timeout).count());
}

template <class A>
std::vector<Future<internal::awaitable_value_t<A>>> as_completed(
    std::vector<A> aws) {
  return internal::as_completed_impl(std::move(aws), std::nullopt);
}
template <class A>
std::vector<Future<internal::awaitable_value_t<A>>> as_completed(
    std::vector<A> aws, double timeout_seconds) {
  return internal::as_completed_impl(std::move(aws), timeout_seconds);
}
template <class A>
std::vector<Future<internal::awaitable_value_t<A>>> as_completed(
    std::vector<A> aws, std::optional<double> timeout_seconds) {
  return internal::as_completed_impl(std::move(aws), timeout_seconds);
}
template <class A, class Rep, class Period>
std::vector<Future<internal::awaitable_value_t<A>>> as_completed(
    std::vector<A> aws, std::chrono::duration<Rep, Period> timeout) {
  return internal::as_completed_impl(
      std::move(aws), std::chrono::duration<double>(timeout).count());
}

}  // namespace asyncio

#endif  // ASYNCIO_WAIT_H_
