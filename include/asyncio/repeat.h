// asyncio/repeat.h — loop helpers for explicit state machines.
//
// Without coroutines, `while (...) { await step(); }` is written with
// repeat(), and `for (x : items) { await f(x); }` with for_each():
//
//   int left = 3;
//   asyncio::repeat([&] {
//     return asyncio::sleep(1).then([&] {
//       std::puts("tick");
//       return --left == 0 ? asyncio::Repeat::STOP : asyncio::Repeat::CONTINUE;
//     });
//   });
//
//   asyncio::for_each(std::vector<int>{1, 2, 3}, [](int n) {
//     return asyncio::sleep(n);   // one after the other: 6 s in all
//   });
//
// Contract.
//  * repeat(f): calls f() at once, then again each time the Repeat it
//    returned (directly or through a Future<Repeat>) says CONTINUE; the
//    returned Future<void> completes when one says STOP. The next call never
//    happens inline: it runs on a later loop iteration, so an f that returns
//    a plain Repeat yields to the loop between calls and the stack stays
//    flat however many iterations run.
//  * for_each(range, f): takes the range by value and calls f(element) on
//    each element in order, waiting for the Future<void> f returns (f may
//    also return void) before the next one.
//  * An exception thrown by f, or a failed future from it, ends the loop:
//    the returned future fails with that error.
//  * The returned future is a stage (asyncio's coroutine frame): a
//    continuation or task body that returns it takes its outcome in the
//    step the loop ends (same-step forwarding, see future.h).
//  * Cancelling the returned future cancels the future the current step is
//    waiting on; between steps, no further step runs. Either way the result
//    is CancelledError (unless the step catches it).
//
// Thread affinity: loop thread only; call while a loop runs (RuntimeError
// otherwise). Ownership: the returned future's state owns f (and the range)
// until it completes. Cost: one allocation for the loop state; per step,
// whatever f allocates plus one ready-queue pass.
#ifndef ASYNCIO_REPEAT_H_
#define ASYNCIO_REPEAT_H_

#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"

namespace asyncio {

// asyncio::Repeat: what a repeat() step says about the next one.
enum class Repeat { CONTINUE, STOP };

namespace internal {

template <class F>
class RepeatState final : public StageState<void> {
 public:
  // A repeat loop is a coroutine frame (`while ...: await step()`): a
  // stage that returned it takes its outcome in the step it ends.
  RepeatState(EventLoop* loop, F&& f) : StageState<void>(loop), f_(std::move(f)) {
    this->flags_ |= FutureStateBase::kFrame;
  }

  // Calls f once and arranges for what follows.
  void step() {
    using R = std::decay_t<std::invoke_result_t<F&>>;
    try {
      if constexpr (std::is_same_v<R, Repeat>) {
        if ((*f_)() == Repeat::STOP) {
          finish();
        } else {
          this->add_ref();  // the ready queue's
          this->loop_->enqueue(this);
        }
      } else {
        static_assert(FutureLike<R>::value &&
                          std::is_same_v<typename FutureLike<R>::value_t, Repeat>,
                      "repeat's callable returns Repeat or Future<Repeat>");
        Future<Repeat> next = (*f_)();
        FutureState<Repeat>* s = FutureAccess::state(next);
        if (s == nullptr) throw_invalid_state("repeat step returned an empty future");
        s->add_ref();
        if (this->flags_ & FutureStateBase::kMustCancel) {
          if (s->cancel_with(this->error_)) {
            this->flags_ &= ~FutureStateBase::kMustCancel;
            this->error_ = nullptr;
          }
        }
        this->wait_on(s);
      }
    } catch (const CancelledError&) {
      fail(std::current_exception(), true);
    } catch (...) {
      fail(std::current_exception(), false);
    }
  }

  void run() override {
    FutureStateBase* w = this->take_waiting();
    {
      CurrentTaskScope scope(this->owner());
      if (std::exception_ptr req = this->take_cancel_request(w)) {
        this->set_cancelled(std::move(req));
        f_.reset();
      } else if (w == nullptr) {
        step();  // a step that returned a plain Repeat
      } else if (w->has_error()) {
        fail(w->take_error(), w->error_is_cancel());
      } else if (static_cast<FutureState<Repeat>*>(w)->value_ref() ==
                 Repeat::STOP) {
        finish();
      } else {
        step();
      }
    }
    this->release_owner_if_done();
    if (w) w->release();
    this->release();
  }
  void discard() override {
    f_.reset();
    this->discard_stage();
  }

 private:
  void finish() {
    this->finish_value();
    f_.reset();
  }
  void fail(std::exception_ptr e, bool is_cancel) {
    this->finish_error(std::move(e), is_cancel);
    f_.reset();
  }

  std::optional<F> f_;
};

}  // namespace internal

// asyncio::repeat
template <class F>
Future<void> repeat(F&& f) {
  using Fn = std::decay_t<F>;
  auto* st = new internal::RepeatState<Fn>(internal::running_loop_or_throw(),
                                           Fn(std::forward<F>(f)));
  Future<void> result = internal::FutureAccess::adopt<void>(st);
  st->step();
  st->release_owner_if_done();
  return result;
}

// asyncio::for_each
template <class Range, class F>
Future<void> for_each(Range range, F&& f) {
  using Fn = std::decay_t<F>;
  struct Loop {
    Range range;
    decltype(std::begin(std::declval<Range&>())) it;
    Fn fn;
  };
  auto loop = std::make_unique<Loop>(Loop{std::move(range), {}, Fn(std::forward<F>(f))});
  loop->it = std::begin(loop->range);
  return repeat([loop = std::move(loop)]() -> Future<Repeat> {
    if (loop->it == std::end(loop->range)) {
      return make_ready_future(Repeat::STOP);
    }
    auto& element = *loop->it;
    ++loop->it;
    using R = std::decay_t<decltype(loop->fn(element))>;
    if constexpr (std::is_void_v<R>) {
      loop->fn(element);
      return make_ready_future(Repeat::CONTINUE);
    } else {
      return Future<void>(loop->fn(element)).then([] {
        return Repeat::CONTINUE;
      });
    }
  });
}

}  // namespace asyncio

#endif  // ASYNCIO_REPEAT_H_
