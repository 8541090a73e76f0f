// asyncio/errors.h — the exceptions the library throws and carries.
//
// Every error travels as a std::exception_ptr inside a future
// and comes out of result(), Outcome::value() or run() as one of these types.
//
//   CancelledError      the awaited work was cancelled; carries the message
//                       given to cancel(msg). Like Python's CancelledError it
//                       is not a std::runtime_error, so `catch (const
//                       std::runtime_error&)` does not swallow cancellation.
//   TimeoutError        a deadline passed (wait_for, timeouts).
//   InvalidStateError   misuse: result() of a pending future, set_result()
//                       on a done one, a value that was already moved out.
//   RuntimeError        misuse of the loop: no running loop, loop closed,
//                       loop already running, run() inside a running loop.
//   ValueError          a bad argument (asyncio's ValueError). Raised for:
//                       a NaN delay or time (call_later, call_at, sleep);
//                       a future of another loop given to
//                       run_until_complete or a combinator; the bad
//                       arguments wait.h lists (wait, wait_for,
//                       as_completed). It derives from
//                       std::invalid_argument.
//   BrokenPromise       a Promise was destroyed before it set its future.
//   QueueEmpty, QueueFull, QueueShutDown, IncompleteReadError,
//   LimitOverrunError, BrokenBarrierError, ExceptionGroup: used by queues,
//   streams, locks and task groups.
//
// Thread-safety: these are plain value types; any thread may use them.
#ifndef ASYNCIO_ERRORS_H_
#define ASYNCIO_ERRORS_H_

#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio {

// asyncio::CancelledError
//
// The outcome of cancelled work. message() is the msg given to cancel(msg),
// empty when none was given.
class CancelledError : public std::exception {
 public:
  CancelledError() = default;
  explicit CancelledError(std::string message) : message_(std::move(message)) {}
  const std::string& message() const noexcept { return message_; }
  const char* what() const noexcept override;

 private:
  std::string message_;
};

// asyncio::TimeoutError
class TimeoutError : public std::runtime_error {
 public:
  TimeoutError() : std::runtime_error("timed out") {}
  explicit TimeoutError(const std::string& what) : std::runtime_error(what) {}
};

// asyncio::InvalidStateError
class InvalidStateError : public std::logic_error {
 public:
  explicit InvalidStateError(const std::string& what) : std::logic_error(what) {}
};

// asyncio::RuntimeError
class RuntimeError : public std::runtime_error {
 public:
  explicit RuntimeError(const std::string& what) : std::runtime_error(what) {}
};

// asyncio::ValueError
//
// A bad argument (the cases are listed in the file comment).
class ValueError : public std::invalid_argument {
 public:
  explicit ValueError(const std::string& what) : std::invalid_argument(what) {}
};

// asyncio::BrokenPromise
class BrokenPromise : public std::runtime_error {
 public:
  BrokenPromise()
      : std::runtime_error("promise destroyed before setting its future") {}
};

// asyncio::QueueEmpty
class QueueEmpty : public std::runtime_error {
 public:
  QueueEmpty() : std::runtime_error("queue is empty") {}
};

// asyncio::QueueFull
class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("queue is full") {}
};

// asyncio::QueueShutDown
class QueueShutDown : public std::runtime_error {
 public:
  QueueShutDown() : std::runtime_error("queue is shut down") {}
};

// asyncio::IncompleteReadError
//
// EOF came before the expected bytes. partial() holds what was read;
// expected() is the requested count, or nullopt when reading to a separator.
class IncompleteReadError : public std::runtime_error {
 public:
  IncompleteReadError(std::string partial, std::optional<std::size_t> expected);
  const std::string& partial() const noexcept { return partial_; }
  std::optional<std::size_t> expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::optional<std::size_t> expected_;
};

// asyncio::LimitOverrunError
//
// A separator was not found within the buffer limit; consumed() is the
// number of bytes to consume before trying again.
class LimitOverrunError : public std::runtime_error {
 public:
  LimitOverrunError(const std::string& what, std::size_t consumed)
      : std::runtime_error(what), consumed_(consumed) {}
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

// asyncio::BrokenBarrierError
class BrokenBarrierError : public std::runtime_error {
 public:
  BrokenBarrierError() : std::runtime_error("barrier is broken") {}
};

// asyncio::ExceptionGroup
//
// Several failures reported together (TaskGroup). exceptions() keeps them in
// the order they happened.
class ExceptionGroup : public std::runtime_error {
 public:
  ExceptionGroup(const std::string& message,
                 std::vector<std::exception_ptr> exceptions);
  const std::vector<std::exception_ptr>& exceptions() const noexcept {
    return exceptions_;
  }

 private:
  std::vector<std::exception_ptr> exceptions_;
};

}  // namespace asyncio

#endif  // ASYNCIO_ERRORS_H_
