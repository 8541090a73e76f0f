// asyncio/sleep.h — sleep(delay) and sleep(delay, result).
//
//   asyncio::sleep(1.5).then([] { std::puts("1.5 s later"); });
//   asyncio::sleep(std::chrono::seconds(1), std::string("done"))
//       .then([](const std::string& r) { std::puts(r.c_str()); });  // done
//
// Contract: the future completes with `result` (nothing for the void form)
// once `delay` has passed on the running loop's clock. A delay <= 0 returns
// a future that is already done, so `sleep(0).then(f)` runs f on the next
// iteration: it yields to the loop exactly once, as asyncio.sleep(0) does.
// Cancelling the future removes its timer before cancel() returns. A NaN
// delay throws ValueError.
//
// Thread affinity: call on the loop's thread while the loop runs; throws
// RuntimeError when no loop runs in this thread. Cost: one allocation (the
// future's state is also the timer entry); O(log n) in the loop's heap.
#ifndef ASYNCIO_SLEEP_H_
#define ASYNCIO_SLEEP_H_

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"

namespace asyncio {
namespace internal {

// Where sleep(delay, result) keeps `result` until the timer fires.
template <class R>
struct SleepValue {
  std::optional<R> value;
  template <class... A>
  void emplace(A&&... a) { value.emplace(std::forward<A>(a)...); }
};
template <>
struct SleepValue<void> {};  // sleep(delay): nothing to keep

// A future whose state is also its timer entry.
template <class R>
class SleepState final : public FutureState<R>, private SleepValue<R> {
 public:
  template <class... A>
  SleepState(EventLoop* loop, std::int64_t when, A&&... value)
      : FutureState<R>(loop) {
    if constexpr (!std::is_void_v<R>) this->emplace(std::forward<A>(value)...);
    slot_.when = when;
    slot_.node = this;
    this->add_ref();  // the heap's reference
    loop->add_timer(&slot_);
  }

  // "sleep, due at 3.000 (in 1.500 s)" (loop time, seconds).
  std::string describe() const override {
    char buf[96];
    const double when = static_cast<double>(slot_.when) / 1e9;
    std::snprintf(buf, sizeof buf, "sleep, due at %.3f (in %.3f s)", when,
                  when - this->loop_->time());
    return buf;
  }

  // The timer is due (the loop moved it to the ready queue).
  void run() override {
    if (!this->done()) {
      if constexpr (std::is_void_v<R>) {
        this->set_value();
      } else {
        try {
          this->set_value(std::move(*this->value));
        } catch (...) {  // R's move constructor threw: that is the outcome
          this->set_error(std::current_exception(), false);
        }
        this->value.reset();
      }
    }
    this->release();
  }
  void discard() override {
    if (!this->done()) {
      this->set_cancelled(loop_closed_error(this->loop_));
      this->mark_retrieved();
    }
    this->release();
  }

 protected:
  void on_cancel() override {
    if (this->loop_->remove_timer(&slot_)) this->release();
  }

 private:
  TimerSlot slot_;
};

template <class R, class... A>
Future<R> make_sleep(SourceLocation where, double delay, A&&... value) {
  EventLoop* loop = running_loop_or_throw();
  std::int64_t d = EventLoop::seconds_to_ns(delay);
  if (d <= 0) {
    auto* s = new FutureState<R>(loop);
    Future<R> f = FutureAccess::adopt<R>(s);  // frees s if R throws
    s->set_value(std::forward<A>(value)...);
    return f;
  }
  auto* s = new SleepState<R>(loop, loop->now_ns() + d, std::forward<A>(value)...);
  if (debug_active()) debug_note_created(s, where);
  return FutureAccess::adopt<R>(s);
}

}  // namespace internal

// asyncio::sleep
//
// Completes after `delay` seconds (or a std::chrono duration).
inline Future<void> sleep(double delay,
                          SourceLocation where = SourceLocation::current()) {
  return internal::make_sleep<void>(where, delay);
}
template <class Rep, class Period>
Future<void> sleep(std::chrono::duration<Rep, Period> delay,
                   SourceLocation where = SourceLocation::current()) {
  return sleep(std::chrono::duration<double>(delay).count(), where);
}

// asyncio::sleep(delay, result)
//
// Completes with `result` after `delay`. sleep(1, "done") is a
// Future<std::string>.
template <class R>
Future<internal::stored_t<R>> sleep(
    double delay, R&& result, SourceLocation where = SourceLocation::current()) {
  return internal::make_sleep<internal::stored_t<R>>(where, delay,
                                                    std::forward<R>(result));
}
template <class Rep, class Period, class R>
Future<internal::stored_t<R>> sleep(
    std::chrono::duration<Rep, Period> delay, R&& result,
    SourceLocation where = SourceLocation::current()) {
  return sleep(std::chrono::duration<double>(delay).count(),
               std::forward<R>(result), where);
}

}  // namespace asyncio

#endif  // ASYNCIO_SLEEP_H_
