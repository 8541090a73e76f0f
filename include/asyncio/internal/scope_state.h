// asyncio/internal/scope_state.h — the state behind an `async with` scope
// (timeout(), timeout_at(), task_group()).
// Not part of the public API; included by asyncio/timeouts.h and
// asyncio/task_group.h.
//
// A scope is entered by a call made while a task's code runs: the scope's
// state is created, the scope is set up (timer armed, group opened), and the
// body is called at once, synchronously, as the body of `async with` runs in
// the same step as __aenter__. The body returns a value or a future; the
// scope's state waits on that future as a then-stage waits on the future its
// continuation returned (it is a StageState: the cancel walk passes through
// it to the body's pending future, and a cancel that arrives after the
// body's future completed but before the scope saw it becomes the body's
// outcome, as a task's _must_cancel does). When the body's outcome is known,
// the scope's exit logic runs (__aexit__): on_body_done().
//
// A scope is a frame: a body returning a then-chain hands its outcome to the
// scope in the step that produced it, and the scope's own waiters take its
// outcome in the step it completes (same-step forwarding, future_state.h).
// The exit logic run from a forwarding step runs no user code; it may cancel
// tasks (their producers' cancel hooks run, as in any cancel()).
//
// State machine (on top of FutureStateBase's):
//
//   entered ──body returned a pending future──▶ waiting ──it completed──▶ exit
//      └──────body returned a value, threw, or a done future──────────────▶ exit
//
// exit is on_body_done(), called exactly once unless the loop is closed
// first (then discard() ends the scope cancelled, running no code).
#ifndef ASYNCIO_INTERNAL_SCOPE_STATE_H_
#define ASYNCIO_INTERNAL_SCOPE_STATE_H_

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/outcome.h"

namespace asyncio {
namespace internal {

// The task whose code runs now, for a scope being entered; throws
// RuntimeError(`what`) outside a task (asyncio: "Timeout should be used
// inside a task").
FutureStateBase* scope_task_or_throw(const char* what);

// The outcome of the done state `s` as one consumer takes it (a move-only
// value is moved out; a value another consumer took, or a throwing copy,
// becomes the error).
template <class T>
Outcome<T> take_outcome(FutureStateBase* s) {
  auto* st = static_cast<FutureState<T>*>(s);
  if (st->has_error()) return Outcome<T>(st->take_error(), st->error_is_cancel());
  if constexpr (std::is_void_v<T>) {
    return Outcome<T>();
  } else {
    if (st->value_taken()) return Outcome<T>(value_taken_error(), false);
    try {
      return Outcome<T>(st->transfer_value());
    } catch (...) {  // T's copy or move threw: that is the outcome
      return Outcome<T>(std::current_exception(), false);
    }
  }
}

template <class T>
class ScopeState : public StageState<T> {
 public:
  // Belongs to the task running now (StageState's owner).
  explicit ScopeState(EventLoop* loop) : StageState<T>(loop) {
    this->flags_ |= FutureStateBase::kFrame;
  }

  // ScopeState::enter
  //
  // Calls body(args...) now and waits on the future it returns; a value,
  // a done future or an exception goes to on_body_done() at once. This is
  // the one place a scope body's exceptions are caught.
  template <class F, class... A>
  void enter(F& body, A&... args) {
    using R = std::decay_t<std::invoke_result_t<F&, A&...>>;
    std::optional<Outcome<T>> ready;
    FutureState<T>* pending = nullptr;
    try {
      if constexpr (std::is_void_v<R>) {
        body(args...);
        ready.emplace();
      } else if constexpr (FutureLike<R>::value) {
        R r = body(args...);
        FutureState<T>* in = FutureAccess::state(static_cast<const Future<T>&>(r));
        if (in == nullptr) throw_invalid_state("a scope's body returned an empty future");
        in->add_ref();
        pending = in;
      } else if constexpr (IsOutcome<R>::value) {
        ready.emplace(body(args...));
      } else {
        ready.emplace(Outcome<T>(body(args...)));
      }
    } catch (const CancelledError&) {
      ready.emplace(std::current_exception(), true);
    } catch (...) {
      ready.emplace(std::current_exception(), false);
    }
    if (pending != nullptr) {
      await_body(pending);
    } else {
      on_body_done(std::move(*ready));
    }
    this->release_owner_if_done();
  }

  // The body's future completed (or forwarded its outcome).
  void run() override {
    FutureStateBase* w = this->take_waiting();
    if (w != nullptr && !this->done()) {
      std::exception_ptr req = this->take_cancel_request(w);
      on_body_done(req ? Outcome<T>(std::move(req), true) : take_outcome<T>(w));
    } else if (w != nullptr) {
      w->mark_retrieved();  // the scope already ended (the loop closed)
    }
    if (w != nullptr) w->release();
    this->release_owner_if_done();
    this->release();
  }

  void discard() override { this->discard_stage(); }

 protected:
  // The body's outcome (the scope's __aexit__): exactly once.
  virtual void on_body_done(Outcome<T> body) = 0;

  // Completes this state with `o` (a value is moved in; T's move
  // constructor throwing becomes the outcome).
  void finish_with(Outcome<T>&& o) {
    if (o.has_exception()) {
      this->finish_error(o.exception(), o.cancelled());
    } else if constexpr (std::is_void_v<T>) {
      this->finish_value();
    } else {
      this->resolve_call([&o]() -> T { return std::move(o).value(); });
    }
  }

 private:
  // `in` holds a reference for this state.
  void await_body(FutureState<T>* in) {
    if (in->loop() != this->loop_) {
      in->release();
      on_body_done(Outcome<T>(std::make_exception_ptr(RuntimeError(
                                  "awaited a future attached to a different loop")),
                              false));
      return;
    }
    if (in->done()) {
      // As `await` on a done future: no suspension, the scope exits now.
      Outcome<T> o = take_outcome<T>(in);
      in->release();
      on_body_done(std::move(o));
      return;
    }
    if (in->is_frame()) {
      this->flags_ |= FutureStateBase::kForwardWait;
      in->note_forward_waiter();
    }
    this->wait_on(in);
  }
};

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_SCOPE_STATE_H_
