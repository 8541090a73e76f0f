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
//                       loop already running, run() inside a running loop;
//                       timeout() or task_group() outside a task; a task
//                       added to a finished or shutting-down TaskGroup.
//   ValueError          a bad argument (asyncio's ValueError). Raised for:
//                       a NaN delay or time (call_later, call_at, sleep);
//                       a future of another loop given to
//                       run_until_complete or a combinator; the bad
//                       arguments wait.h lists (wait, wait_for,
//                       as_completed). It derives from
//                       std::invalid_argument.
//   BrokenPromise       a Promise was destroyed before it set its future.
//   OSError             a system call failed (streams.h): code() is the
//                       errno value, strerror() the readable text, what()
//                       "[Errno N] text" as Python prints it. Subclasses
//                       as Python's: ConnectionError (ConnectionRefusedError,
//                       ConnectionResetError, ConnectionAbortedError,
//                       BrokenPipeError), and GaiError (socket.gaierror: a
//                       host name that cannot be resolved; code() is the
//                       getaddrinfo EAI_* value).
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
#include <utility>
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

// asyncio::OSError
//
// A failed system call. code() is the errno value (for GaiError, the
// EAI_* value getaddrinfo returned); strerror() the readable message;
// what() is "[Errno code] strerror", as Python's str(OSError).
class OSError : public std::runtime_error {
 public:
  OSError(int code, const std::string& strerror);
  int code() const noexcept { return code_; }
  const std::string& strerror() const noexcept { return strerror_; }

 private:
  int code_;
  std::string strerror_;
};

// asyncio::ConnectionError and its subclasses (Python's hierarchy).
class ConnectionError : public OSError {
 public:
  using OSError::OSError;
};
class ConnectionRefusedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionResetError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionAbortedError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};
class BrokenPipeError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// asyncio::GaiError (Python's socket.gaierror)
class GaiError : public OSError {
 public:
  using OSError::OSError;
};

// asyncio::make_os_error
//
// The exception Python raises for errno `code`: ConnectionRefusedError for
// ECONNREFUSED, ConnectionResetError for ECONNRESET, ConnectionAbortedError
// for ECONNABORTED, BrokenPipeError for EPIPE and ESHUTDOWN, else OSError.
// `message` defaults to strerror(code); when `context` is given the
// message is "context: strerror(code)".
std::exception_ptr make_os_error(int code, const std::string& context = std::string());

// asyncio::BrokenBarrierError
class BrokenBarrierError : public std::runtime_error {
 public:
  BrokenBarrierError() : std::runtime_error("barrier is broken") {}
};

// asyncio::ExceptionGroup
//
// Several failures reported together (Python's ExceptionGroup; task_group()
// ends with one). exceptions() keeps them in the order they happened; an
// element may itself be a nested ExceptionGroup. what() is "message (N
// sub-exceptions)", as Python's str(); message() is the message alone.
//
// Matching by type, as Python's `except*`, ExceptionGroup.subgroup() and
// ExceptionGroup.split() with a type: E matches this group itself (E =
// ExceptionGroup or one of its bases, such as std::exception: then
// everything matches), or a leaf exception of type E (or derived) at any
// depth. A nested group that matches E as a whole is kept whole.
//
//   catch (const asyncio::ExceptionGroup& eg) {
//     if (eg.contains<std::out_of_range>()) ...
//     auto [ranges, rest] = eg.split<std::out_of_range>();
//     if (rest) throw *rest;           // what was not handled
//   }
//
// Cost: each test rethrows the std::exception_ptr once (leaves and nested
// groups); split() copies pointers, never the exceptions themselves.
class ExceptionGroup : public std::runtime_error {
 public:
  ExceptionGroup(const std::string& message,
                 std::vector<std::exception_ptr> exceptions);

  const std::string& message() const noexcept { return message_; }
  const std::vector<std::exception_ptr>& exceptions() const noexcept {
    return exceptions_;
  }

  // ExceptionGroup::contains<E>
  //
  // True when subgroup<E>() would return a group: this group is an E, or an
  // exception of type E is in it at any depth.
  template <class E>
  bool contains() const {
    return contains_if(&is_a<E>);
  }

  // ExceptionGroup::subgroup<E>
  //
  // A group of the same message and nesting holding only what matches E,
  // or nullopt when nothing does (Python's eg.subgroup(E)).
  template <class E>
  std::optional<ExceptionGroup> subgroup() const {
    return split_if(&is_a<E>).first;
  }

  // ExceptionGroup::split<E>
  //
  // {what matches E, the rest}, each with this group's message and nesting,
  // or nullopt when empty (Python's eg.split(E)).
  template <class E>
  std::pair<std::optional<ExceptionGroup>, std::optional<ExceptionGroup>>
  split() const {
    return split_if(&is_a<E>);
  }

 private:
  using Match = bool (*)(const std::exception_ptr&);

  template <class E>
  static bool is_a(const std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const E&) {
      return true;
    } catch (...) {
      return false;  // any other type: no match
    }
  }

  bool contains_if(Match match) const;
  std::pair<std::optional<ExceptionGroup>, std::optional<ExceptionGroup>>
  split_if(Match match) const;

  std::string message_;
  std::vector<std::exception_ptr> exceptions_;
};

}  // namespace asyncio

#endif  // ASYNCIO_ERRORS_H_
