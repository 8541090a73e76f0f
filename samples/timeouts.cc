// Timeouts: asyncio.wait_for(aw, timeout) waits for aw at most `timeout`
// seconds; when the time is up it cancels aw, waits for the cancellation to
// finish and raises TimeoutError. work() would sleep an hour; after one
// second main catches the TimeoutError. Output:
//
//   timeout!
//
// The seed's Python:
//
//   import asyncio
//
//   HOUR = 3600
//
//
//   async def work():
//       await asyncio.sleep(HOUR)
//       return 'done'
//
//
//   async def main():
//       try:
//           await asyncio.wait_for(work(), timeout=1.0)
//       except asyncio.TimeoutError:
//           print('timeout!')
//
//   asyncio.run(main())
//   # timeout!
#include <cstdio>
#include <string>

#include "asyncio/asyncio.h"

constexpr double HOUR = 3600;

asyncio::Future<std::string> work() {
  return asyncio::sleep(HOUR).then([] {  // await asyncio.sleep(HOUR)
    return std::string("done");          // return 'done'
  });
}

asyncio::Future<void> main_() {
  return asyncio::wait_for(work, 1.0)  // await asyncio.wait_for(work(), timeout=1.0)
      .then([](const std::string&) {})
      .catch_error<asyncio::TimeoutError>(
          [](const asyncio::TimeoutError&) {  // except asyncio.TimeoutError:
            std::puts("timeout!");            //     print('timeout!')
          });
}

int main() { asyncio::run(main_); }
