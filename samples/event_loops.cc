// Event loops: before asyncio.run() (Python 3.7) a program got an event loop
// and ran its main coroutine with run_until_complete(). Here the loop is an
// explicit asyncio::EventLoop, which runs main_ (made a task) until it is
// done; main_ gathers a, b and c, which run concurrently. Output:
//
//   A: started
//   B: started
//   C: started
//   B: finished
//   A: finished
//   C: finished
//
// The seed's Python:
//
//   import asyncio
//
//
//   async def a():
//       print(f'A: started')
//       await asyncio.sleep(2)
//       print(f'A: finished')
//
//
//   async def b():
//       print(f'B: started')
//       await asyncio.sleep(1)
//       print(f'B: finished')
//
//
//   async def c():
//       print(f'C: started')
//       await asyncio.sleep(3)
//       print(f'C: finished')
//
//
//   async def main():
//       await asyncio.gather(
//           a(),
//           b(),
//           c(),
//       )
//
//
//   if __name__ == '__main__':
//       loop = asyncio.get_event_loop()
//       loop.run_until_complete(main())
#include <cstdio>
#include <tuple>
#include <variant>

#include "asyncio/asyncio.h"

asyncio::Future<void> a() {
  std::puts("A: started");
  return asyncio::sleep(2).then([] { std::puts("A: finished"); });
}

asyncio::Future<void> b() {
  std::puts("B: started");
  return asyncio::sleep(1).then([] { std::puts("B: finished"); });
}

asyncio::Future<void> c() {
  std::puts("C: started");
  return asyncio::sleep(3).then([] { std::puts("C: finished"); });
}

asyncio::Future<void> main_() {
  // await asyncio.gather(a(), b(), c()); void results come back as
  // std::monostate, which main_ ignores.
  return asyncio::gather(a, b, c).then(
      [](const std::tuple<std::monostate, std::monostate, std::monostate>&) {});
}

int main() {
  asyncio::EventLoop loop;          // loop = asyncio.get_event_loop()
  loop.run_until_complete(main_);   // loop.run_until_complete(main())
}
