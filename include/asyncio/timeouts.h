// asyncio/timeouts.h — timeout() and timeout_at(): a deadline on a block of
// a task's code (asyncio.timeout / asyncio.timeout_at, CPython 3.13).
//
// Python's
//
//   async with asyncio.timeout(10) as cm:
//       await long_running()
//
// is written
//
//   asyncio::timeout(10, [](asyncio::Timeout cm) { return long_running(); })
//       .catch_error<asyncio::TimeoutError>([](const asyncio::TimeoutError&) {
//         std::puts("too slow");
//       });
//
// where the returned future is returned into the task's chain (awaited by
// the task), as the `async with` block is part of the coroutine.
//
// Contract.
//  * timeout(delay, body) must be called while a task's code runs (the body
//    of a task, or a continuation created while the task's code ran): the
//    scope belongs to that task, current_task(). Elsewhere it throws
//    RuntimeError ("Timeout should be used inside a task"), before the body
//    is called.
//  * Entering arms the deadline (loop.time() + delay; timeout_at takes the
//    loop time itself), then calls body() — or body(Timeout) — at once,
//    synchronously. The body returns T, Future<T>, Task<T> or Outcome<T>,
//    or throws; the returned Future<T> completes with the body's outcome,
//    when the body's future completes (in the same step when that future is
//    a then-chain, as `return await` would: the scope is a frame).
//  * When the deadline passes while the scope is open, the scope calls
//    cancel() on its task (CPython: self._task.cancel()). That cancellation
//    walks up from the task to whatever the task awaits: the body's pending
//    future, so the CancelledError comes back down through the body. On the
//    way out the scope calls task.uncancel() and, if the count is then no
//    greater than it was at entry and the body ended with CancelledError,
//    completes with asyncio::TimeoutError instead. Otherwise — a cancel
//    from outside (also one in the same iteration as the deadline, in
//    either order), or an enclosing scope's — the outcome passes unchanged:
//    only the scope whose own deadline caused the cancellation converts it.
//    When nested scopes expire in the same iteration, the outermost one
//    raises TimeoutError and the inner ones pass CancelledError on. The
//    task's cancelling() count is the same after the scope as before it,
//    unless someone else cancelled the task meanwhile.
//  * A body that swallows the cancellation (catches CancelledError and
//    returns a value) makes the scope complete with that value; expired()
//    still says true.
//  * A deadline at or before loop.time() when set (entry or reschedule)
//    fires on the next iteration (CPython: loop.call_soon), unless the body
//    returns a done future or a value: the scope then exits at once,
//    unexpired. std::nullopt means no deadline; so does +infinity (when()
//    then says infinity). A NaN is a ValueError.
//
// Precondition (not checked): the returned future is awaited by the task
// that entered the scope, directly or through a chain, while the scope is
// open (CPython's lexical `async with` guarantees this). A deadline firing
// while that task awaits something else cancels that instead.
//
// Thread affinity: loop thread only. Ownership: `body` is called once,
// synchronously, and not kept; the returned future keeps the body's future
// alive until it completes. A Timeout handle keeps the scope's state alive.
// Cost: one allocation (the scope's state, which is also its timer entry);
// arming is O(log n) in the loop's timer heap; exit is O(log n).
//
// Where this differs from CPython on purpose:
//  * The scope is a function taking the body, not a context manager; it is
//    entered when called (no CREATED state: reschedule() before entry
//    cannot happen).
//  * The TimeoutError has no __cause__ (C++ exceptions do not chain); and
//    when the body turned the cancellation into another exception, that
//    exception passes unchanged (CPython 3.13 inserts a TimeoutError into
//    its __context__ chain).
//  * A body that throws synchronously is treated as a body whose future
//    failed: the exception is the scope's outcome (the returned future
//    fails; timeout() itself does not throw).
#ifndef ASYNCIO_TIMEOUTS_H_
#define ASYNCIO_TIMEOUTS_H_

#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/internal/timeout_state.h"

namespace asyncio {

namespace internal {
struct TimeoutAccess;
}  // namespace internal

// asyncio::Timeout
//
// A handle to one timeout scope (CPython's Timeout object, `cm` in `async
// with asyncio.timeout(d) as cm`), given to the body; copies share the
// scope. Usable after the scope ended (when() and expired() keep
// answering). A default-constructed Timeout is empty and its calls throw
// InvalidStateError.
//
// Thread affinity: loop thread only. Ownership: keeps the scope's state
// alive (not the body). Cost: a reference count; no allocation.
class Timeout {
 public:
  Timeout() noexcept = default;
  Timeout(const Timeout& other) noexcept;
  Timeout(Timeout&& other) noexcept;
  Timeout& operator=(const Timeout& other) noexcept;
  Timeout& operator=(Timeout&& other) noexcept;
  ~Timeout();

  bool valid() const noexcept { return scope_ != nullptr; }

  // Timeout::when
  //
  // The deadline in loop time (seconds, as EventLoop::time()), or nullopt
  // when there is none.
  std::optional<double> when() const;

  // Timeout::reschedule
  //
  // Moves the deadline to loop time `when`; std::nullopt (or +infinity)
  // disables it; a time at or before loop.time() fires on the next
  // iteration.
  // Precondition: the scope is open and has not expired, else throws
  // RuntimeError ("Cannot change state of expiring|expired|finished
  // Timeout"). A NaN time throws ValueError.
  void reschedule(std::optional<double> when) const;

  // Timeout::expired
  //
  // True once the deadline fired while the scope was open (whether or not
  // the scope then raised TimeoutError).
  bool expired() const;

 private:
  friend struct internal::TimeoutAccess;
  explicit Timeout(internal::TimeoutScope* scope) noexcept;
  internal::TimeoutScope* checked() const;

  internal::TimeoutScope* scope_ = nullptr;
};

// asyncio::timeout
//
// Runs body() — or body(Timeout) — under a deadline `delay` seconds from
// now (a double, a std::chrono duration, or std::nullopt for none).
// Returns Future<T> for a body returning T, Future<T>, Task<T> or
// Outcome<T>. Throws RuntimeError outside a task, ValueError for a NaN
// delay (both before calling the body).
template <class F>
[[nodiscard]] auto timeout(std::optional<double> delay, F&& body);
template <class Rep, class Period, class F>
[[nodiscard]] auto timeout(std::chrono::duration<Rep, Period> delay, F&& body);

// asyncio::timeout_at
//
// As timeout(), with the deadline in loop time (EventLoop::time()), or
// std::nullopt for none.
template <class F>
[[nodiscard]] auto timeout_at(std::optional<double> when, F&& body);

// --- template bodies -------------------------------------------------------

namespace internal {

struct TimeoutAccess {
  static Timeout make(TimeoutScope* scope) noexcept { return Timeout(scope); }
};

template <class F, bool kTakesHandle = std::is_invocable_v<F&, Timeout&>>
struct TimeoutBody {
  static_assert(std::is_invocable_v<F&>,
                "timeout's body takes nothing or asyncio::Timeout");
  using type = continuation_value_t<std::invoke_result_t<F&>>;
};
template <class F>
struct TimeoutBody<F, true> {
  using type = continuation_value_t<std::invoke_result_t<F&, Timeout&>>;
};

// `when` is loop time; `loop` runs in this thread.
template <class F>
auto enter_timeout(EventLoop* loop, std::optional<double> when, F& body) {
  using T = typename TimeoutBody<F>::type;
  FutureStateBase* task =
      scope_task_or_throw("Timeout should be used inside a task");
  auto* st = new TimeoutState<T>(loop, task);
  Future<T> result = FutureAccess::adopt<T>(st);  // frees st if we throw
  st->scope().reschedule(when);                   // may throw ValueError
  if constexpr (std::is_invocable_v<F&, Timeout&>) {
    Timeout handle = TimeoutAccess::make(&st->scope());
    st->enter(body, handle);
  } else {
    st->enter(body);
  }
  return result;
}

}  // namespace internal

template <class F>
auto timeout(std::optional<double> delay, F&& body) {
  EventLoop* loop = internal::running_loop_or_throw();
  std::optional<double> when;
  if (delay) when = loop->time() + *delay;
  return internal::enter_timeout(loop, when, body);
}

template <class Rep, class Period, class F>
auto timeout(std::chrono::duration<Rep, Period> delay, F&& body) {
  return timeout(std::optional<double>(std::chrono::duration<double>(delay).count()),
                 std::forward<F>(body));
}

template <class F>
auto timeout_at(std::optional<double> when, F&& body) {
  return internal::enter_timeout(internal::running_loop_or_throw(), when, body);
}

}  // namespace asyncio

#endif  // ASYNCIO_TIMEOUTS_H_
