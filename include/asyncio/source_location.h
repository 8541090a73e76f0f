// asyncio/source_location.h — SourceLocation: where a future, task or
// callback was created, for debug-mode reports (asyncio/debug.h).
//
//   void f(asyncio::SourceLocation where = asyncio::SourceLocation::current());
//   // where.file / where.line name f's caller
//
// Functions that create futures, tasks and callbacks (then(), Promise,
// create_task, sleep, call_soon, ...) take a defaulted SourceLocation as
// their last parameter, so the compiler fills in the caller's file and line
// (GCC and Clang's __builtin_FILE/__builtin_LINE, C++20's
// std::source_location in C++17). The loop keeps it only in debug mode; with
// debug mode off it costs two words passed and dropped.
//
// Thread affinity: a plain value. Lifetime: `file` points to a string
// literal (static storage).
#ifndef ASYNCIO_SOURCE_LOCATION_H_
#define ASYNCIO_SOURCE_LOCATION_H_

#include <string>

namespace asyncio {

// asyncio::SourceLocation
//
// A file and line; empty (file == nullptr) when unknown.
struct SourceLocation {
  const char* file = nullptr;
  int line = 0;

  // SourceLocation::current: the caller's location when used as a default
  // argument.
  static constexpr SourceLocation current(
      const char* file = __builtin_FILE(),
      int line = __builtin_LINE()) noexcept {
    return SourceLocation{file, line};
  }

  bool known() const noexcept { return file != nullptr; }
  // "file:line", or "" when unknown.
  std::string str() const {
    if (file == nullptr) return std::string();
    return std::string(file) + ":" + std::to_string(line);
  }
};

}  // namespace asyncio

#endif  // ASYNCIO_SOURCE_LOCATION_H_
