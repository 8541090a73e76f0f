// asyncio/outcome.h — Outcome<T>: how a future ended.
//
// An Outcome<T> holds either a value (nothing for T = void) or an exception,
// and knows whether that exception is a cancellation. It is what
// Future::then_outcome() hands to its continuation, and a continuation may
// return one to complete its future without throwing:
//
//   fut.then_outcome([](asyncio::Outcome<int> o) -> asyncio::Outcome<int> {
//     if (o.cancelled()) return 0;   // treat cancellation as zero
//     return o;                      // pass value or error through
//   });
//
// value() returns the value or rethrows the exception. Passing an Outcome on
// (returning it) never rethrows: the same std::exception_ptr moves along.
//
// Thread-safety: a plain value type; not synchronised.
#ifndef ASYNCIO_OUTCOME_H_
#define ASYNCIO_OUTCOME_H_

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "asyncio/errors.h"

namespace asyncio {

namespace internal {
// True when `e` holds an asyncio::CancelledError. Costs a rethrow; the core
// never calls it on a hot path (futures record cancellation in their state).
bool is_cancelled_error(const std::exception_ptr& e);
// Returns e; throws InvalidStateError when e is null.
std::exception_ptr non_null_error(std::exception_ptr e);
}  // namespace internal

// asyncio::Outcome<T>
//
// A value or an exception. Default-constructed it holds a value-initialised T
// (for void: success). Copyable when T is.
template <class T>
class Outcome {
 public:
  Outcome() : value_(std::in_place) {}
  Outcome(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  // Precondition: error is not null, else throws InvalidStateError.
  Outcome(std::exception_ptr error)                // NOLINT
      : error_(internal::non_null_error(std::move(error))),
        cancelled_(internal::is_cancelled_error(error_)) {}
  // `cancelled` says whether `error` is a CancelledError (the core knows).
  Outcome(std::exception_ptr error, bool cancelled)
      : error_(internal::non_null_error(std::move(error))),
        cancelled_(cancelled) {}

  bool has_value() const noexcept { return !error_; }
  bool has_exception() const noexcept { return static_cast<bool>(error_); }
  bool cancelled() const noexcept { return cancelled_; }
  const std::exception_ptr& exception() const noexcept { return error_; }

  // Outcome<T>::value()
  //
  // The value, or rethrows the exception.
  const T& value() const& {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  T& value() & {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  T&& value() && {
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
  std::exception_ptr error_;
  bool cancelled_ = false;
};

template <>
class Outcome<void> {
 public:
  Outcome() = default;
  Outcome(std::exception_ptr error)  // NOLINT
      : error_(internal::non_null_error(std::move(error))),
        cancelled_(internal::is_cancelled_error(error_)) {}
  Outcome(std::exception_ptr error, bool cancelled)
      : error_(internal::non_null_error(std::move(error))),
        cancelled_(cancelled) {}

  bool has_value() const noexcept { return !error_; }
  bool has_exception() const noexcept { return static_cast<bool>(error_); }
  bool cancelled() const noexcept { return cancelled_; }
  const std::exception_ptr& exception() const noexcept { return error_; }
  void value() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
  bool cancelled_ = false;
};

}  // namespace asyncio

#endif  // ASYNCIO_OUTCOME_H_
