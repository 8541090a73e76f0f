// asyncio/gather.h — gather(): run awaitables concurrently, collect results.
//
//   asyncio::Future<void> main_() {
//     return asyncio::gather(a, b, c)              // callables: tasks, in order
//         .then([](const std::tuple<std::string, std::string, std::string>& r) {
//           std::cout << std::get<0>(r) << "\n";
//         });
//   }
//
//   std::vector<asyncio::Future<int>> fs = ...;
//   asyncio::gather(fs).then([](const std::vector<int>& values) { ... });
//
//   asyncio::gather(asyncio::return_exceptions, a, b)
//       .then([](std::tuple<asyncio::Outcome<int>, asyncio::Outcome<void>> r) {
//         if (std::get<0>(r).has_exception()) ...
//       });
//
// Contract (asyncio.gather, CPython 3.13).
//  * Arguments are futures, tasks or callables ("coroutines"); callables are
//    wrapped in tasks in argument order (ensure_future). Every argument must
//    belong to one loop (else ValueError); callables need a running loop.
//  * Variadic form: the result is a std::tuple of the children's values in
//    argument order; a child of type void contributes std::monostate (the
//    empty placeholder, asyncio's None). Vector form (a std::vector of
//    futures, tasks or callables of one value type T): a std::vector of
//    values in argument order (std::monostate for void).
//  * The first exception of a child fails the gather at once (on the
//    iteration after the child failed); the other children keep running,
//    and exceptions they raise later are not reported as never retrieved.
//  * A child that is cancelled (not through the gather) counts as a
//    CancelledError exception: the gather then fails with that
//    CancelledError (its message kept) while gather.cancelled() stays
//    false, as in CPython; consumers see the cancellation.
//  * cancel(msg) on the gather cancels every child still pending; the
//    gather then ends with CancelledError (an exception, cancelled() false,
//    as CPython) once a child reports its cancellation, or once every child
//    is done if they all swallowed it. cancel() returns true even when no
//    child could be cancelled any more (CPython returns false then).
//  * return_exceptions form: each child's Outcome (value or exception,
//    cancellation included) in argument order; the gather never fails
//    because of a child, but cancelling the gather still ends it with
//    CancelledError.
//  * An empty gather completes at once with an empty tuple or vector. The
//    same future passed twice is awaited once; its result appears at each
//    of its positions (a move-only result only at the first, the others
//    then fail the gather with InvalidStateError).
//
// Thread affinity: loop thread only. Ownership: the gather keeps a
// reference to every child until it is destroyed; the children keep
// running whatever happens to the gather (only cancel() stops them).
// Cost: three allocations — the gather state, its array of child slots (one
// slot, 40 bytes, per distinct child) and the argument-to-slot map — plus
// the tasks made for callables; a child's completion costs one ready-queue
// pass.
#ifndef ASYNCIO_GATHER_H_
#define ASYNCIO_GATHER_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/internal/combinator.h"
#include "asyncio/outcome.h"
#include "asyncio/task.h"

namespace asyncio {

// asyncio::ReturnExceptions / asyncio::return_exceptions
//
// Tag selecting gather's return_exceptions=True form.
struct ReturnExceptions {
  explicit ReturnExceptions() = default;
};
inline constexpr ReturnExceptions return_exceptions{};

namespace internal {

// What a child of type T contributes to gather's result.
template <class T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;


// The value of a done child for gather's result (a copy when others hold
// the child, else moved out).
template <class T>
gather_value_t<T> gather_take_value(FutureStateBase* child) {
  if constexpr (std::is_void_v<T>) {
    return std::monostate{};
  } else {
    auto* s = static_cast<FutureState<T>*>(child);
    if (s->has_error()) std::rethrow_exception(s->take_error());
    return s->transfer_value();
  }
}

template <class T>
Outcome<T> gather_take_outcome(FutureStateBase* child) {
  auto* s = static_cast<FutureState<T>*>(child);
  if (s->has_error()) return Outcome<T>(s->take_error(), s->error_is_cancel());
  if constexpr (std::is_void_v<T>) {
    return Outcome<T>();
  } else {
    if (s->value_taken()) return Outcome<T>(value_taken_error(), false);
    return Outcome<T>(s->transfer_value());
  }
}

// The state of one gather: counts finished children, fails or completes
// the outer future as asyncio's _GatheringFuture does.
template <class R>
class GatherState : public CombinatorState<R> {
 public:
  GatherState(EventLoop* loop, bool return_exceptions)
      : CombinatorState<R>(loop), return_exceptions_(return_exceptions) {}
  std::string describe() const override { return "gather"; }

  // Position `pos` of the arguments stands for `child` (already converted
  // with ensure_future and holding no reference for us yet). Call in
  // argument order, after init_slots(number of arguments).
  void add_child(std::size_t pos, FutureStateBase* child) {
    check_same_loop(child, this->loop_);
    if (child->mark_seen()) {
      pos_slot_[pos] = static_cast<std::uint32_t>(nattached_);
      this->attach(nattached_++, child);
    } else {
      // A duplicate: the slot of its first position.
      for (std::size_t i = 0; i < nattached_; ++i) {
        if (this->slot(i).child() == child) {
          pos_slot_[pos] = static_cast<std::uint32_t>(i);
          break;
        }
      }
    }
  }
  // After the last add_child(): clears the scratch marks.
  void added_all() {
    for (std::size_t i = 0; i < nattached_; ++i) this->slot(i).child()->clear_seen();
  }
  void clear_marks_on_error() noexcept { added_all(); }

  void reserve_positions(std::size_t n) { pos_slot_.assign(n, 0); }
  FutureStateBase* child_at(std::size_t pos) {
    return this->slot(pos_slot_[pos]).child();
  }

  void on_child_done(std::size_t i) override {
    ++nfinished_;
    FutureStateBase* c = this->slot(i).child();
    if (this->done()) {
      if (!c->cancelled()) c->mark_retrieved();  // asyncio: fut.exception()
      return;
    }
    if (!return_exceptions_ && c->has_error()) {
      if (c->error_is_cancel()) {
        this->set_cancel_exception(c->take_error());
      } else {
        this->set_error(c->take_error(), false);
      }
      return;
    }
    if (nfinished_ < nattached_) return;
    if (cancel_requested_) {
      // Cancelling gather ends it cancelled whatever the children did.
      std::exception_ptr e = c->error_is_cancel()
                                 ? c->take_error()
                                 : std::make_exception_ptr(CancelledError());
      this->set_cancel_exception(std::move(e));
      return;
    }
    try {
      R result = build();
      this->set_value(std::move(result));
    } catch (...) {  // a move-only value read twice, or a throwing copy
      this->set_error(std::current_exception(), false);
    }
  }

 protected:
  virtual R build() = 0;

  void on_cancel_request(const std::exception_ptr& exc) override {
    bool any = false;
    for (std::size_t i = 0; i < nattached_; ++i) {
      FutureStateBase* c = this->slot(i).child();
      if (!c->done() && c->cancel_with(exc)) any = true;
    }
    if (any) cancel_requested_ = true;
  }

  bool return_exceptions_;

 private:
  std::vector<std::uint32_t> pos_slot_;
  std::size_t nattached_ = 0;
  std::size_t nfinished_ = 0;
  bool cancel_requested_ = false;
};

template <bool kOutcomes, class... T>
class TupleGather final : public GatherState<std::conditional_t<
                              kOutcomes, std::tuple<Outcome<T>...>,
                              std::tuple<gather_value_t<T>...>>> {
 public:
  using Result = std::conditional_t<kOutcomes, std::tuple<Outcome<T>...>,
                                    std::tuple<gather_value_t<T>...>>;
  explicit TupleGather(EventLoop* loop)
      : GatherState<Result>(loop, kOutcomes) {}

 protected:
  Result build() override {
    return build_at(std::index_sequence_for<T...>());
  }

 private:
  template <std::size_t... I>
  Result build_at(std::index_sequence<I...>) {
    // Braced initialisation reads the children left to right.
    if constexpr (kOutcomes) {
      return Result{gather_take_outcome<T>(this->child_at(I))...};
    } else {
      return Result{gather_take_value<T>(this->child_at(I))...};
    }
  }
};

template <bool kOutcomes, class T>
class VectorGather final
    : public GatherState<std::conditional_t<
          kOutcomes, std::vector<Outcome<T>>, std::vector<gather_value_t<T>>>> {
 public:
  using Result = std::conditional_t<kOutcomes, std::vector<Outcome<T>>,
                                    std::vector<gather_value_t<T>>>;
  VectorGather(EventLoop* loop, std::size_t n)
      : GatherState<Result>(loop, kOutcomes), n_(n) {}

 protected:
  Result build() override {
    Result r;
    r.reserve(n_);
    for (std::size_t i = 0; i < n_; ++i) {
      if constexpr (kOutcomes) {
        r.push_back(gather_take_outcome<T>(this->child_at(i)));
      } else {
        r.push_back(gather_take_value<T>(this->child_at(i)));
      }
    }
    return r;
  }

 private:
  std::size_t n_;
};

// The loop of the first future among the arguments, else the running loop.
template <class A>
EventLoop* awaitable_loop(const A& aw) {
  if constexpr (FutureLike<std::decay_t<A>>::value) {
    return aw.valid() ? &aw.get_loop() : nullptr;
  } else {
    return nullptr;
  }
}

template <class R>
constexpr bool kMayBeEmpty = true;  // std::vector
template <class... T>
constexpr bool kMayBeEmpty<std::tuple<T...>> = sizeof...(T) == 0;

template <class State, class Fill>
auto start_gather(State* st, std::size_t n, Fill&& fill) {
  using R = typename State::Result;
  Future<R> result = FutureAccess::adopt<R>(st);  // frees st if we throw
  st->reserve_positions(n);
  st->init_slots(n);
  try {
    fill(st);
  } catch (...) {
    st->clear_marks_on_error();
    // The children already watched keep running; the gather fails.
    st->set_error(std::current_exception(), false);
    st->mark_retrieved();
    throw;
  }
  st->added_all();
  // Only a vector or the empty tuple can have no children (R{} is not
  // built for tuples whose values have no default constructor).
  if constexpr (kMayBeEmpty<R>) {
    if (n == 0) st->set_value(R{});
  }
  return result;
}

template <bool kOutcomes, class... A>
auto gather_impl(A&&... aws) {
  using State = TupleGather<kOutcomes, awaitable_value_t<A>...>;
  EventLoop* loop = nullptr;
  ((loop = loop ? loop : awaitable_loop(aws)), ...);
  if (loop == nullptr) loop = running_loop_or_throw();
  auto* st = new State(loop);
  return start_gather(st, sizeof...(A), [&]([[maybe_unused]] State* s) {
    [[maybe_unused]] std::size_t pos = 0;
    // A fold over the comma operator runs left to right: callables become
    // tasks in argument order.
    ((s->add_child(pos++, FutureAccess::state(ensure_future(std::forward<A>(aws))))),
     ...);
  });
}

template <bool kOutcomes, class A>
auto gather_vector_impl(std::vector<A> aws) {
  using T = awaitable_value_t<A>;
  using State = VectorGather<kOutcomes, T>;
  EventLoop* loop = nullptr;
  for (const A& a : aws) {
    if ((loop = awaitable_loop(a)) != nullptr) break;
  }
  if (loop == nullptr) loop = running_loop_or_throw();
  auto* st = new State(loop, aws.size());
  return start_gather(st, aws.size(), [&](State* s) {
    for (std::size_t i = 0; i < aws.size(); ++i) {
      Future<T> f = ensure_future(std::move(aws[i]));
      s->add_child(i, FutureAccess::state(f));
    }
  });
}

}  // namespace internal

// asyncio::gather (variadic)
//
// Future<std::tuple<V...>>, V = the child's value type (std::monostate for
// void). Each argument is a Future<T>, a Task<T> or a callable.
template <class... A,
          class = std::enable_if_t<(internal::kIsAwaitable<A> && ...)>>
[[nodiscard]] auto gather(A&&... aws) {
  return internal::gather_impl<false>(std::forward<A>(aws)...);
}

// asyncio::gather (return_exceptions=True, variadic)
//
// Future<std::tuple<Outcome<T>...>>.
template <class... A,
          class = std::enable_if_t<(internal::kIsAwaitable<A> && ...)>>
[[nodiscard]] auto gather(ReturnExceptions, A&&... aws) {
  return internal::gather_impl<true>(std::forward<A>(aws)...);
}

// asyncio::gather (a vector of futures, tasks or callables of one type T)
//
// Future<std::vector<V>>, V = T (std::monostate for void).
template <class A>
[[nodiscard]] auto gather(std::vector<A> aws) {
  return internal::gather_vector_impl<false>(std::move(aws));
}

// asyncio::gather (return_exceptions=True, vector)
//
// Future<std::vector<Outcome<T>>>.
template <class A>
[[nodiscard]] auto gather(ReturnExceptions, std::vector<A> aws) {
  return internal::gather_vector_impl<true>(std::move(aws));
}

}  // namespace asyncio

#endif  // ASYNCIO_GATHER_H_
