// Sleeping: asyncio.sleep(delay, result) completes with `result` once
// `delay` seconds have passed. main awaits a one-second sleep that yields
// 'done' and prints it. Output:
//
//   done
//
// The seed's Python:
//
//   import asyncio
//
//
//   async def main():
//       result = await asyncio.sleep(1, 'done')
//       print(result)
//
//
//   asyncio.run(main())
//   # done
#include <cstdio>
#include <string>

#include "asyncio/asyncio.h"

asyncio::Future<void> main_() {
  // result = await asyncio.sleep(1, 'done')
  return asyncio::sleep(1, "done")
      .then([](const std::string& result) {
        std::puts(result.c_str());  // print(result)
      });
}

int main() { asyncio::run(main_); }
