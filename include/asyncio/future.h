// asyncio/future.h — Future<T> and Promise<T>: asyncio's Future, in C++17.
//
// A Future<T> is a cheap copyable handle to one shared state that completes
// once: with a value, with an exception, or cancelled. Any number of
// continuations, done-callbacks and awaiting tasks may attach to it, as in
// asyncio, where several tasks awaiting one task is common. T may be void,
// a copyable type or a move-only type.
//
//   asyncio::Promise<int> p;                  // on the running loop
//   asyncio::Future<int> f = p.get_future();
//   asyncio::Future<std::string> g = f
//       .then([](int n) { return n * 2; })                // Future<int>
//       .then([](int n) { return asyncio::sleep(0.1, n); }) // flattened
//       .then([](int n) { return std::to_string(n); })
//       .catch_error<std::out_of_range>([](const std::out_of_range&) {
//         return std::string("?");
//       });
//   p.set_result(21);                          // g becomes "42"
//
// Contract.
//  * Continuations (then, then_outcome, catch_error, finally) and
//    done-callbacks never run inline: when the future completes — or at once,
//    if it is already done — they are put on the loop's ready queue in
//    registration order and run on a later loop iteration (asyncio's
//    call_soon). A chain of any length therefore never grows the stack.
//  * A continuation that throws fails the future then() returned; one that
//    throws CancelledError cancels it. A continuation may return a plain
//    value, a Future<U> or Task<U> (flattened: the returned future completes
//    when that one does — at once if it is already done, as awaiting a done
//    future does not suspend in asyncio), or an Outcome<U> (completes with
//    it, no rethrow).
//  * Same-step forwarding. A stage made by then(), then_outcome(),
//    catch_error() or finally() (or a repeat() loop) plays the part of an
//    asyncio coroutine frame; a Promise's future, sleep() and a Task play
//    the part of an asyncio Future. When a continuation (or a task's body)
//    returns a stage, the outcome passes up to the waiting stage (or task)
//    in the same step that produced it, through any number of levels, with
//    a flat stack — as `return await coro()` does. Returning a Promise's
//    future, a sleep or a Task wakes the waiter one iteration after it
//    completes, as awaiting a Future does in asyncio. Only the outcome
//    moves: every continuation and done-callback still runs from the ready
//    queue.
//  * Errors skip value handlers: then(f) on a failed future does not call f
//    and passes the same std::exception_ptr on (never rethrown per stage).
//  * cancel(msg) on a pending future returned by then() cancels whatever
//    stage of the chain is pending now (the upstream future or the inner
//    future a continuation returned), walking up iteratively; the
//    CancelledError (message kept) then flows down, skipping value handlers,
//    until a handler catches it. When the awaited future is already done,
//    the stage itself completes cancelled instead of running its value
//    handler. cancel() on a done future returns false.
//  * An exception nobody retrieved (result(), exception(), a continuation,
//    an awaiting task) is reported through the loop's exception handler
//    when the last handle to the future goes away.
//
// Values and several consumers. A continuation may take the value as
// `const T&` (every consumer sees the same object), or by value / `T&&`.
// By value, a copyable T is copied — or moved when that continuation holds
// the only reference. A move-only T is moved out to the first consumer that
// takes it by value (or passes it on: catch_error, finally, a task); after
// that, consumers that read it get InvalidStateError. Give a move-only value
// to several consumers by taking it as `const T&`, or by wrapping it in a
// shared_ptr.
//
// Thread affinity: loop thread only. A future belongs to the loop it was
// created on and must not be completed or awaited from another thread (use
// EventLoop::call_soon_threadsafe). Futures must not outlive their loop.
//
// Ownership: a continuation's callable and its captures are owned by the
// stage until it has run, then destroyed. A stage keeps its upstream future
// alive until it has consumed it. Dropping every handle to a pending future
// does not cancel it: its producer still completes it and its continuations
// still run.
//
// Debug mode (asyncio/debug.h): then(), then_outcome(), catch_error(),
// finally() and Promise take a defaulted SourceLocation last, so the loop
// can name the caller's file and line in its reports; set_result(),
// set_exception(), cancel(), then() and add_done_callback() raise
// RuntimeError when called from a thread other than the running loop's.
// With debug mode off this costs one untaken branch per stage.
//
// Cost: then() makes one allocation (the stage, which is also the next
// future's state and the ready-queue node); scheduling is one push and one
// pop on an intrusive queue. No std::function, no atomics.
#ifndef ASYNCIO_FUTURE_H_
#define ASYNCIO_FUTURE_H_

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "asyncio/errors.h"
#include "asyncio/internal/future_state.h"
#include "asyncio/outcome.h"
#include "asyncio/source_location.h"

namespace asyncio {

class EventLoop;
template <class T>
class Future;
template <class T>
class Promise;
template <class T>
class Task;

namespace internal {
struct FutureAccess;
template <class T>
class PromiseState;
}  // namespace internal

// asyncio::Future<T>
//
// A handle to a shared future state; copies share it. A default-constructed
// Future is empty (valid() == false) and every other call on it throws
// InvalidStateError.
template <class T>
class [[nodiscard]] Future {
 public:
  using value_type = T;

  Future() noexcept = default;
  Future(const Future& other) noexcept;
  Future(Future&& other) noexcept;
  Future& operator=(const Future& other) noexcept;
  Future& operator=(Future&& other) noexcept;
  ~Future();

  bool valid() const noexcept { return state_ != nullptr; }

  // Future<T>::done / cancelled
  bool done() const;
  bool cancelled() const;

  // Future<T>::result
  //
  // The value; rethrows the exception; throws CancelledError when
  // cancelled. Precondition: done(), else throws InvalidStateError.
  // For void, returns nothing (but still throws).
  typename internal::ResultRef<T>::type result() const;

  // Future<T>::exception
  //
  // The exception, or nullptr when the future has a value. Throws
  // CancelledError when cancelled. Precondition: done(), else throws
  // InvalidStateError.
  std::exception_ptr exception() const;

  // Future<T>::outcome
  //
  // The outcome as a value (moves a move-only value out, see above).
  // Precondition: done(), else throws InvalidStateError.
  Outcome<T> outcome() const;

  // Future<T>::cancel
  //
  // Requests cancellation (see the contract above). Returns false when the
  // future is already done, true otherwise.
  bool cancel(const std::string& msg = std::string()) const;

  // Future<T>::add_done_callback
  //
  // Schedules `cb` (callable as cb(Future<T>) or cb()) when the future is
  // done, through the ready queue; on a done future it is scheduled now.
  // Returns an id for remove_done_callback().
  template <class F>
  std::uint64_t add_done_callback(F&& cb) const;

  // Future<T>::remove_done_callback
  //
  // Removes the callback with this id if it was not scheduled yet. Returns
  // the number removed (0 or 1).
  std::size_t remove_done_callback(std::uint64_t id) const;

  // Future<T>::get_loop
  EventLoop& get_loop() const;

  // operator== / operator!= (Future<T>)
  //
  // Identity, not value: true when both handles share one state. A Task<T>
  // compares equal to the Future<T> it converts to (so
  // `std::find(r.done.begin(), r.done.end(), task)` finds a task in wait()'s
  // result); two empty futures are equal. Never touches the state.
  friend bool operator==(const Future& a, const Future& b) noexcept {
    return a.state_ == b.state_;
  }
  friend bool operator!=(const Future& a, const Future& b) noexcept {
    return a.state_ != b.state_;
  }

  // Future<T>::then
  //
  // f takes the value (nothing for void) and returns U, Future<U>, Task<U>
  // or Outcome<U>; then() returns Future<U>. Errors and cancellation pass
  // through without calling f.
  template <class F>
  auto then(F&& f, SourceLocation where = SourceLocation::current()) const;

  // Future<T>::then_outcome
  //
  // f takes Outcome<T> and runs on every outcome, cancellation included.
  template <class F>
  auto then_outcome(F&& f,
                    SourceLocation where = SourceLocation::current()) const;

  // Future<T>::catch_error<E>
  //
  // On an exception of type E (or derived), calls f(const E&), which
  // returns T, Future<T> or Outcome<T>; other outcomes pass through.
  // catch_error<CancelledError> catches cancellation.
  template <class E, class F>
  Future<T> catch_error(F&& f,
                        SourceLocation where = SourceLocation::current()) const;

  // Future<T>::finally
  //
  // Calls f() on every outcome; f returns void or a future to wait for.
  // The original outcome then passes through, unless f failed, in which
  // case its error does.
  template <class F>
  Future<T> finally(F&& f,
                    SourceLocation where = SourceLocation::current()) const;

 private:
  friend struct internal::FutureAccess;
  template <class U>
  friend class Future;
  template <class U>
  friend class Promise;
  template <class U>
  friend class Task;

  explicit Future(internal::FutureState<T>* adopted) noexcept
      : state_(adopted) {}
  internal::FutureState<T>* checked() const;

  internal::FutureState<T>* state_ = nullptr;
};

// asyncio::Promise<T>
//
// The producer side of a future (asyncio's set_result/set_exception). Move
// only: exactly one producer. Destroying a Promise whose future is still
// pending fails that future with BrokenPromise.
//
// A cancel hook (set_cancel_hook) runs synchronously inside the future's
// cancel(), after the future became cancelled and before cancel() returns:
// the place to release a timer, an I/O watch or a waiter slot.
//
// Thread affinity: loop thread only.
template <class T>
class Promise {
 public:
  // Promise on the running loop. Throws RuntimeError when no loop runs in
  // this thread.
  // NOLINTNEXTLINE: also the default constructor
  Promise(SourceLocation where = SourceLocation::current());
  // Promise on `loop` (which need not be running).
  explicit Promise(EventLoop& loop,
                   SourceLocation where = SourceLocation::current());
  Promise(Promise&& other) noexcept;
  Promise& operator=(Promise&& other) noexcept;
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  ~Promise();

  // Promise<T>::get_future
  //
  // Any number of calls; every future shares the one state.
  Future<T> get_future() const;

  // Promise<T>::set_result
  //
  // Precondition: the future is not done (a cancelled one is done), else
  // throws InvalidStateError.
  template <class... A>
  void set_result(A&&... value);

  // Promise<T>::set_exception
  //
  // Precondition: the future is not done, else throws InvalidStateError.
  void set_exception(std::exception_ptr e);
  template <class E, class = std::enable_if_t<
                         !std::is_same_v<std::decay_t<E>, std::exception_ptr>>>
  void set_exception(E&& e) {
    set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }

  // Promise<T>::set_cancel_hook
  //
  // Replaces the hook. The hook is destroyed when it has run or the future
  // completed otherwise.
  void set_cancel_hook(absl::AnyInvocable<void()> hook);

  bool done() const;
  bool cancelled() const;
  bool valid() const noexcept { return state_ != nullptr; }

 private:
  internal::PromiseState<T>* checked() const;
  internal::PromiseState<T>* state_ = nullptr;
};

namespace internal {
// The type a future stores for a value of type T: T decayed, except that
// string literals and C strings become std::string (asyncio's str).
template <class T>
using stored_t = std::conditional_t<
    std::is_same_v<std::decay_t<T>, const char*> ||
        std::is_same_v<std::decay_t<T>, char*>,
    std::string, std::decay_t<T>>;
}  // namespace internal

// asyncio::make_ready_future
//
// A future that already holds `value` (nothing for void), on the running
// loop or on `loop`. Continuations on it still run on the next iteration.
// make_ready_future("done") is a Future<std::string>.
template <class T>
Future<internal::stored_t<T>> make_ready_future(T&& value);
template <class T>
Future<internal::stored_t<T>> make_ready_future(EventLoop& loop, T&& value);
Future<void> make_ready_future();
Future<void> make_ready_future(EventLoop& loop);

// asyncio::make_exception_future<T>
//
// A future that already failed with `e`.
template <class T>
Future<T> make_exception_future(std::exception_ptr e);
template <class T>
Future<T> make_exception_future(EventLoop& loop, std::exception_ptr e);

}  // namespace asyncio

#include "asyncio/internal/future-inl.h"

#endif  // ASYNCIO_FUTURE_H_
