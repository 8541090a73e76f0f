// As Completed: asyncio.as_completed(aws) runs the awaitables concurrently
// and returns futures that complete in the order the awaitables do: the
// first yields the earliest result, and so on. Output:
//
//   C: started
//   B: started
//   A: started
//   B: finished
//   b
//   A: finished
//   a
//   C: finished
//   c
//
// CPython's as_completed schedules the coroutines from a set, so they
// start in that set's order, which happened to be c, b, a in the seed's
// run; this program passes them in that order, so that it prints what the
// seed printed (as_completed here starts callables in argument order).
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
//       return 'a'
//
//
//   async def b():
//       print(f'B: started')
//       await asyncio.sleep(1)
//       print(f'B: finished')
//       return 'b'
//
//
//   async def c():
//       print(f'C: started')
//       await asyncio.sleep(3)
//       print(f'C: finished')
//       return 'c'
//
//
//   async def main():
//       work = [a(), b(), c()]
//       for coro in asyncio.as_completed(work):
//           result = await coro
//           print(result)
//
//
//   if __name__ == '__main__':
//       asyncio.run(main())
#include <cstdio>
#include <string>
#include <vector>

#include "asyncio/asyncio.h"

asyncio::Future<std::string> a() {
  std::puts("A: started");
  return asyncio::sleep(2).then([] {
    std::puts("A: finished");
    return std::string("a");
  });
}

asyncio::Future<std::string> b() {
  std::puts("B: started");
  return asyncio::sleep(1).then([] {
    std::puts("B: finished");
    return std::string("b");
  });
}

asyncio::Future<std::string> c() {
  std::puts("C: started");
  return asyncio::sleep(3).then([] {
    std::puts("C: finished");
    return std::string("c");
  });
}

using Coroutine = asyncio::Future<std::string> (*)();

asyncio::Future<void> main_() {
  std::vector<Coroutine> work{c, b, a};  // the order CPython's set gave
  // for coro in asyncio.as_completed(work):
  return asyncio::for_each(asyncio::as_completed(work),
                           [](asyncio::Future<std::string> coro) {
                             // result = await coro; print(result)
                             return coro.then([](const std::string& result) {
                               std::puts(result.c_str());
                             });
                           });
}

int main() {
  asyncio::run(main_);  // if __name__ == '__main__': asyncio.run(main())
}
