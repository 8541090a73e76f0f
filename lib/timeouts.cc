// Timeout scopes: CPython 3.13's Timeout object (asyncio/timeouts.py) over
// the loop's timer heap, and the Timeout handle.
#include "asyncio/timeouts.h"

#include <cassert>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/task.h"

namespace asyncio {
namespace internal {

FutureStateBase* scope_task_or_throw(const char* what) {
  if (tls_current_task == nullptr) throw RuntimeError(what);
  return tls_current_task;
}

namespace {

const char* phase_name(TimeoutScope::Phase p) {
  switch (p) {
    case TimeoutScope::Phase::kEntered:
      return "active";
    case TimeoutScope::Phase::kExpiring:
      return "expiring";
    case TimeoutScope::Phase::kExpired:
      return "expired";
    case TimeoutScope::Phase::kExited:
      return "finished";
  }
  return "unknown";
}

}  // namespace

TimeoutScope::TimeoutScope(FutureStateBase* self, FutureStateBase* task)
    : self_(self), task_(task), cancelling_at_entry_(task->task_core()->cancelling) {
  task_->add_ref();
}

TimeoutScope::~TimeoutScope() {
  assert(!in_use_);  // the node's reference keeps the state (and this) alive
  release_task();
}

void TimeoutScope::release_task() noexcept {
  if (task_ != nullptr) {
    FutureStateBase* t = task_;
    task_ = nullptr;
    t->release();
  }
}

void TimeoutScope::reschedule(std::optional<double> when) {
  if (phase_ != Phase::kEntered) {
    throw RuntimeError(std::string("Cannot change state of ") + phase_name(phase_) +
                       " Timeout");
  }
  // +infinity is a deadline that never comes (CPython's call_at(inf) is
  // never due): when() reports it, no timer is armed.
  const bool never = when && std::isinf(*when) && *when > 0;
  std::int64_t when_ns = 0;
  if (when && !never) when_ns = EventLoop::seconds_to_ns(*when);  // NaN: ValueError
  disarm();
  has_when_ = when.has_value();
  timed_ = has_when_ && !never;
  when_ = when.value_or(0);
  when_ns_ = when_ns;
  if (timed_) arm(when_ns_);
}

// Precondition: disarm() ran since the node was last armed, so a node still
// in use is in the ready queue (not in the heap).
void TimeoutScope::arm(std::int64_t when_ns) {
  EventLoop* loop = self_->loop();
  const bool due = when_ns <= loop->now_ns();
  if (in_use_) {
    // Queued already: it fires when it runs if due now; otherwise it puts
    // itself in the heap then (run()).
    armed_ = due;
    return;
  }
  self_->add_ref();  // the heap's or the queue's
  in_use_ = true;
  armed_ = true;
  if (due) {
    loop->enqueue(this);  // CPython: loop.call_soon(self._on_timeout)
  } else {
    slot_.when = when_ns;
    slot_.node = this;
    loop->add_timer(&slot_);
  }
}

void TimeoutScope::disarm() noexcept {
  armed_ = false;
  if (in_use_ && self_->loop()->remove_timer(&slot_)) {
    in_use_ = false;
    self_->release();  // the heap's reference (never the last: the caller holds one)
  }
}

void TimeoutScope::run() {
  in_use_ = false;
  if (armed_) {
    armed_ = false;
    if (phase_ == Phase::kEntered) on_timeout();
  } else if (phase_ == Phase::kEntered && timed_) {
    arm(when_ns_);  // rescheduled to a later deadline while queued
  }
  self_->release();  // the queue's reference (may destroy this scope)
}

void TimeoutScope::discard() {
  in_use_ = false;
  armed_ = false;
  self_->release();
}

void TimeoutScope::on_timeout() {
  // CPython cancels first and then marks the scope expiring; marking it
  // first is the same here (nothing runs in between) and keeps the scope
  // right should the cancel ever complete the body synchronously.
  phase_ = Phase::kExpiring;
  task_->cancel(std::string());
}

std::exception_ptr TimeoutScope::exit(bool failed, bool is_cancel) {
  disarm();
  std::exception_ptr replaced;
  if (phase_ == Phase::kExpiring) {
    phase_ = Phase::kExpired;
    // CPython 3.13: uncancel() first, whatever the outcome; only a scope
    // that sees no newer cancel request turns CancelledError into
    // TimeoutError.
    const int left = AnyTask(task_).uncancel();
    if (left <= cancelling_at_entry_ && failed && is_cancel)
      replaced = std::make_exception_ptr(TimeoutError());
  } else if (phase_ == Phase::kEntered) {
    phase_ = Phase::kExited;
  }
  release_task();
  return replaced;
}

void TimeoutScope::close() noexcept {
  disarm();
  if (phase_ == Phase::kEntered) phase_ = Phase::kExited;
  release_task();
}

}  // namespace internal

// --- Timeout ----------------------------------------------------------------

Timeout::Timeout(internal::TimeoutScope* scope) noexcept : scope_(scope) {
  if (scope_) scope_->self()->add_ref();
}
Timeout::Timeout(const Timeout& other) noexcept : Timeout(other.scope_) {}
Timeout::Timeout(Timeout&& other) noexcept : scope_(other.scope_) {
  other.scope_ = nullptr;
}
Timeout& Timeout::operator=(const Timeout& other) noexcept {
  if (other.scope_) other.scope_->self()->add_ref();
  if (scope_) scope_->self()->release();
  scope_ = other.scope_;
  return *this;
}
Timeout& Timeout::operator=(Timeout&& other) noexcept {
  if (this != &other) {
    if (scope_) scope_->self()->release();
    scope_ = other.scope_;
    other.scope_ = nullptr;
  }
  return *this;
}
Timeout::~Timeout() {
  if (scope_) scope_->self()->release();
}

internal::TimeoutScope* Timeout::checked() const {
  if (scope_ == nullptr) throw InvalidStateError("empty Timeout");
  return scope_;
}

std::optional<double> Timeout::when() const { return checked()->when(); }
void Timeout::reschedule(std::optional<double> when) const {
  checked()->reschedule(when);
}
bool Timeout::expired() const { return checked()->expired(); }

}  // namespace asyncio
