// asyncio/shield.h — shield(): protect an awaitable from cancellation.
//
//   asyncio::shield(work)                       // work keeps running
//       .catch_error<asyncio::CancelledError>(
//           [](const asyncio::CancelledError&) { return std::string(); });
//
// Contract (asyncio.shield, CPython 3.13).
//  * shield(aw) returns an outer future that completes as the inner one
//    (aw, made a task if it is a callable) does: same value, same
//    exception; an inner cancellation cancels the outer (message kept).
//  * Cancelling the outer future (directly, or by cancelling a task that
//    waits on it) cancels only the outer: the inner keeps running, and its
//    outcome stays observable through the inner future or task itself. An
//    exception the inner raises after that is reported as never retrieved
//    at most once: by the inner future, if nobody retrieves it there.
//  * When the inner is already done, shield returns a future that shares
//    its state (as asyncio returns the inner itself).
//
// Thread affinity: loop thread only. Ownership: the outer future keeps a
// reference to the inner until the outer is destroyed; the loop keeps a
// task alive while it runs. Cost: one allocation (the outer state and its
// one child slot); the inner's completion costs one ready-queue pass.
#ifndef ASYNCIO_SHIELD_H_
#define ASYNCIO_SHIELD_H_

#include <exception>
#include <type_traits>
#include <utility>

#include "asyncio/future.h"
#include "asyncio/internal/combinator.h"
#include "asyncio/task.h"

namespace asyncio {
namespace internal {

template <class T>
class ShieldState final : public CombinatorState<T> {
 public:
  explicit ShieldState(EventLoop* loop) : CombinatorState<T>(loop) {}
  std::string describe() const override { return "shield"; }

  void on_child_done(std::size_t) override {
    auto* inner = static_cast<FutureState<T>*>(this->slot(0).child());
    if (this->done()) {  // the outer was cancelled
      if (!inner->cancelled()) inner->mark_retrieved();
      return;
    }
    if (inner->has_error()) {
      this->set_error(inner->take_error(), inner->error_is_cancel());
    } else if constexpr (std::is_void_v<T>) {
      this->set_value();
    } else {
      try {
        this->set_value(inner->transfer_value());
      } catch (...) {  // a move-only value another consumer took
        this->set_error(std::current_exception(), false);
      }
    }
  }

 protected:
  void on_cancel_request(const std::exception_ptr& exc) override {
    this->detach(0);  // the inner is left alone
    this->set_cancelled(exc);
  }
};

}  // namespace internal

// asyncio::shield
//
// aw: a Future<T>, a Task<T> or a callable (made a task). Returns
// Future<T>.
template <class A>
[[nodiscard]] auto shield(A&& aw) {
  using T = internal::awaitable_value_t<A>;
  Future<T> inner = ensure_future(std::forward<A>(aw));
  if (inner.done()) return inner;
  internal::FutureState<T>* in = internal::FutureAccess::state(inner);
  auto* st = new internal::ShieldState<T>(in->loop());
  Future<T> outer = internal::FutureAccess::adopt<T>(st);
  st->init_slots(1);
  st->attach(0, in);
  return outer;
}

}  // namespace asyncio

#endif  // ASYNCIO_SHIELD_H_
