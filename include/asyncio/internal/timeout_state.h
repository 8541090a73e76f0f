// asyncio/internal/timeout_state.h — the state behind timeout() and
// timeout_at(). Not part of the public API; included by asyncio/timeouts.h.
//
// TimeoutScope is the non-template part (lib/timeouts.cc): CPython 3.13's
// Timeout object. It is also its own timer entry: a ReadyNode that sits in
// the loop's timer heap for a deadline in the future, or straight in the
// ready queue for one that is already due (CPython's loop.call_soon), and
// calls on_timeout() when it runs armed. TimeoutState<T> is the scope's
// future: a ScopeState waiting on the body's future, whose exit logic asks
// the TimeoutScope whether the body's CancelledError becomes TimeoutError.
//
// Scope phases (CPython's _State; CREATED does not exist here: the scope is
// entered when it is made):
//
//   kEntered ──deadline──▶ kExpiring ──exit──▶ kExpired
//      └───────────────────exit──────────────▶ kExited
//
// reschedule() is allowed in kEntered only (else RuntimeError, as CPython).
//
// The timer node's reference: while it is in the heap or the ready queue it
// holds one reference to the scope's state. `armed_` says whether it fires
// when it runs: disarming a node that is already in the ready queue (a due
// timer, or a past deadline) only clears it; if a new deadline in the
// future was set meanwhile, the node puts itself back in the heap when it
// runs.
#ifndef ASYNCIO_INTERNAL_TIMEOUT_STATE_H_
#define ASYNCIO_INTERNAL_TIMEOUT_STATE_H_

#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/internal/scope_state.h"
#include "asyncio/outcome.h"

namespace asyncio {
namespace internal {

class TimeoutScope final : public ReadyNode {
 public:
  enum class Phase : std::uint8_t { kEntered, kExpiring, kExpired, kExited };

  // Enters the scope in `task` (a reference is kept until the exit) on
  // behalf of the state `self`; records task.cancelling(). No deadline yet.
  TimeoutScope(FutureStateBase* self, FutureStateBase* task);
  ~TimeoutScope();
  TimeoutScope(const TimeoutScope&) = delete;
  TimeoutScope& operator=(const TimeoutScope&) = delete;

  FutureStateBase* self() const noexcept { return self_; }
  std::optional<double> when() const noexcept {
    return has_when_ ? std::optional<double>(when_) : std::nullopt;
  }
  bool expired() const noexcept {
    return phase_ == Phase::kExpiring || phase_ == Phase::kExpired;
  }

  // Timeout.reschedule(): kEntered only, else RuntimeError; a NaN time is a
  // ValueError (nothing changes then).
  void reschedule(std::optional<double> when);

  // Timeout.__aexit__: disarms, restores the task's cancel count, and
  // returns the TimeoutError that replaces the body's outcome, or nullptr
  // when that outcome passes unchanged.
  std::exception_ptr exit(bool failed, bool is_cancel);

  // The loop closed before the exit: disarm and let the task go.
  void close() noexcept;

  // The timer node.
  void run() override;
  void discard() override;

 private:
  void arm(std::int64_t when_ns);
  void disarm() noexcept;
  void on_timeout();
  void release_task() noexcept;

  FutureStateBase* self_;
  FutureStateBase* task_;
  int cancelling_at_entry_;
  Phase phase_ = Phase::kEntered;
  bool has_when_ = false;
  bool timed_ = false;   // has a deadline that can come (not +infinity)
  bool in_use_ = false;  // in the heap or the ready queue (holds a reference)
  bool armed_ = false;   // fires when it runs
  double when_ = 0;
  std::int64_t when_ns_ = 0;
  TimerSlot slot_;
};

// TimeoutState<T>: the future timeout() returns.
template <class T>
class TimeoutState final : public ScopeState<T> {
 public:
  TimeoutState(EventLoop* loop, FutureStateBase* task)
      : ScopeState<T>(loop), scope_(this, task) {}

  TimeoutScope& scope() noexcept { return scope_; }

  void discard() override {
    scope_.close();
    ScopeState<T>::discard();
  }

 protected:
  // A cancel walk came back here (an await cycle): the state ends
  // cancelled without its exit; the scope is closed all the same.
  void cancel_cycle(const std::exception_ptr& exc) override {
    ScopeState<T>::cancel_cycle(exc);
    scope_.close();
  }

  void on_body_done(Outcome<T> body) override {
    if (std::exception_ptr e = scope_.exit(body.has_exception(), body.cancelled())) {
      this->finish_error(std::move(e), false);
      return;
    }
    this->finish_with(std::move(body));
  }

 private:
  TimeoutScope scope_;
};

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_TIMEOUT_STATE_H_
