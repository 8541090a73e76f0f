// Running Program: asyncio.run(main()) creates an event loop, runs the
// coroutine main to completion and closes the loop. Here main waits one
// second, then prints "hello". Output:
//
//   hello
//
// The seed's Python:
//
//   import asyncio
//
//
//   async def main():
//       await asyncio.sleep(1)
//       print('hello')
//
//
//   asyncio.run(main())
#include <cstdio>

#include "asyncio/asyncio.h"

// `async def main()`: C++ reserves the name main, so the coroutine is main_.
asyncio::Future<void> main_() {
  return asyncio::sleep(1).then([] {  // await asyncio.sleep(1)
    std::puts("hello");               // print('hello')
  });
}

int main() { asyncio::run(main_); }
