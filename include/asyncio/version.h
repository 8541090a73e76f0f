// asyncio/version.h — the library's version, the one place it is written.
//
//   #if ASYNCIO_VERSION < 1000  // 0.10.0
//   ...
//   std::puts(ASYNCIO_VERSION_STRING);  // "0.9.0"
//
// The build files read these lines: CMakeLists.txt takes its project
// version from them and MODULE.bazel repeats the string (the version_test
// checks that the two agree). CHANGELOG.md lists what each version holds.
// Versions follow semantic versioning; before 1.0 a minor version may
// change the API.
#ifndef ASYNCIO_VERSION_H_
#define ASYNCIO_VERSION_H_

#define ASYNCIO_VERSION_MAJOR 0
#define ASYNCIO_VERSION_MINOR 9
#define ASYNCIO_VERSION_PATCH 0

// "MAJOR.MINOR.PATCH".
#define ASYNCIO_VERSION_STRING "0.9.0"

// MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons.
#define ASYNCIO_VERSION                                          \
  (ASYNCIO_VERSION_MAJOR * 10000 + ASYNCIO_VERSION_MINOR * 100 + \
   ASYNCIO_VERSION_PATCH)

#endif  // ASYNCIO_VERSION_H_
