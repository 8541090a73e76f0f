// Coroutines: a coroutine function (`async def work()`) returns a coroutine
// object that runs when awaited. In C++17 a coroutine is a function that
// returns an asyncio::Future; `await work()` is `work().then(...)`. main
// awaits work(), which returns 'done', and prints it. Output:
//
//   done
//
// The seed's Python:
//
//   import asyncio
//
//
//   async def work():
//       return 'done'
//
//
//   async def main():
//       result = await work()
//       print(result)
//
//
//   asyncio.run(main())
//   # done
#include <cstdio>
#include <string>

#include "asyncio/asyncio.h"

asyncio::Future<std::string> work() {
  return asyncio::make_ready_future("done");  // return 'done'
}

asyncio::Future<void> main_() {
  return work().then([](const std::string& result) {  // result = await work()
    std::puts(result.c_str());                        // print(result)
  });
}

int main() { asyncio::run(main_); }
