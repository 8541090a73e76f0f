#include "asyncio/errors.h"

#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace asyncio {

const char* CancelledError::what() const noexcept {
  return message_.empty() ? "CancelledError" : message_.c_str();
}

IncompleteReadError::IncompleteReadError(std::string partial,
                                         std::optional<std::size_t> expected)
    : std::runtime_error(
          std::to_string(partial.size()) + " bytes read on a total of " +
          (expected ? std::to_string(*expected) : std::string("undefined")) +
          " expected bytes"),
      partial_(std::move(partial)),
      expected_(expected) {}

OSError::OSError(int code, const std::string& strerror)
    : std::runtime_error("[Errno " + std::to_string(code) + "] " + strerror),
      code_(code),
      strerror_(strerror) {}

std::exception_ptr make_os_error(int code, const std::string& context) {
  char buf[256];
  // GNU strerror_r returns the message (maybe not in buf).
  std::string text = ::strerror_r(code, buf, sizeof buf);
  if (!context.empty()) text = context + ": " + text;
  switch (code) {
    case ECONNREFUSED:
      return std::make_exception_ptr(ConnectionRefusedError(code, text));
    case ECONNRESET:
      return std::make_exception_ptr(ConnectionResetError(code, text));
    case ECONNABORTED:
      return std::make_exception_ptr(ConnectionAbortedError(code, text));
    case EPIPE:
    case ESHUTDOWN:
      return std::make_exception_ptr(BrokenPipeError(code, text));
    default:
      return std::make_exception_ptr(OSError(code, text));
  }
}

ExceptionGroup::ExceptionGroup(const std::string& message,
                               std::vector<std::exception_ptr> exceptions)
    : std::runtime_error(message + " (" + std::to_string(exceptions.size()) +
                         " sub-exception" +
                         (exceptions.size() == 1 ? "" : "s") + ")"),
      message_(message),
      exceptions_(std::move(exceptions)) {}

namespace {

using Exceptions = std::vector<std::exception_ptr>;

// Python's BaseExceptionGroup.split, one element at a time: `e` goes to
// `matched` when it matches as a whole, else a nested group is split in
// turn (its parts keep its message), else a leaf goes to `rest`.
void split_one(const std::exception_ptr& e, bool (*match)(const std::exception_ptr&),
               Exceptions& matched, Exceptions& rest) {
  if (match(e)) {
    matched.push_back(e);
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const ExceptionGroup& group) {
    Exceptions m;
    Exceptions r;
    for (const std::exception_ptr& x : group.exceptions()) split_one(x, match, m, r);
    if (!m.empty())
      matched.push_back(std::make_exception_ptr(ExceptionGroup(group.message(), std::move(m))));
    if (!r.empty())
      rest.push_back(std::make_exception_ptr(ExceptionGroup(group.message(), std::move(r))));
  } catch (...) {
    rest.push_back(e);  // a leaf that does not match
  }
}

bool contains_one(const std::exception_ptr& e,
                  bool (*match)(const std::exception_ptr&)) {
  if (match(e)) return true;
  try {
    std::rethrow_exception(e);
  } catch (const ExceptionGroup& group) {
    for (const std::exception_ptr& x : group.exceptions()) {
      if (contains_one(x, match)) return true;
    }
    return false;
  } catch (...) {
    return false;  // a leaf that does not match
  }
}

}  // namespace

bool ExceptionGroup::contains_if(Match match) const {
  if (match(std::make_exception_ptr(*this))) return true;
  for (const std::exception_ptr& x : exceptions_) {
    if (contains_one(x, match)) return true;
  }
  return false;
}

std::pair<std::optional<ExceptionGroup>, std::optional<ExceptionGroup>>
ExceptionGroup::split_if(Match match) const {
  if (match(std::make_exception_ptr(*this))) return {*this, std::nullopt};
  Exceptions m;
  Exceptions r;
  for (const std::exception_ptr& x : exceptions_) split_one(x, match, m, r);
  std::optional<ExceptionGroup> matched;
  std::optional<ExceptionGroup> rest;
  if (!m.empty()) matched.emplace(message_, std::move(m));
  if (!r.empty()) rest.emplace(message_, std::move(r));
  return {std::move(matched), std::move(rest)};
}

}  // namespace asyncio
