#include "asyncio/errors.h"

#include <utility>

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

ExceptionGroup::ExceptionGroup(const std::string& message,
                               std::vector<std::exception_ptr> exceptions)
    : std::runtime_error(message + " (" + std::to_string(exceptions.size()) +
                         " sub-exception" +
                         (exceptions.size() == 1 ? "" : "s") + ")"),
      exceptions_(std::move(exceptions)) {}

}  // namespace asyncio
