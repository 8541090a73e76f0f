// Rationale / Running Tasks Concurrently: asyncio.gather(a(), b(), c()) runs
// the three coroutines concurrently (each becomes a task, started in
// argument order) and collects their results in argument order, whatever
// order they finish in. The sleeps overlap: about 3 s in all, not 6.
// Output:
//
//   A: started
//   B: started
//   C: started
//   B: finished
//   A: finished
//   C: finished
//   Result: ['a', 'b', 'c']
//
// The seed's Python:
//
//   import asyncio
//
//
//   async def a():
//       print('A: started')
//       await asyncio.sleep(2)
//       print('A: finished')
//       return 'a'
//
//   async def b():
//       print('B: started')
//       await asyncio.sleep(1)
//       print('B: finished')
//       return 'b'
//
//   async def c():
//       print('C: started')
//       await asyncio.sleep(3)
//       print('C: finished')
//       return 'c'
//
//
//   async def main():
//       result = await asyncio.gather(
//           a(),
//           b(),
//           c(),
//       )
//       print(f'Result: {result}')
//
//
//   if __name__ ==  '__main__':
//       asyncio.run(main())
#include <cstdio>
#include <string>
#include <tuple>

#include "asyncio/asyncio.h"

asyncio::Future<std::string> a() {
  std::puts("A: started");
  return asyncio::sleep(2).then([] {  // await asyncio.sleep(2)
    std::puts("A: finished");
    return std::string("a");          // return 'a'
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

asyncio::Future<void> main_() {
  // Pass the coroutine functions, not their results: gather makes each a
  // task, in argument order.
  return asyncio::gather(a, b, c)  // result = await asyncio.gather(a(), b(), c())
      .then([](const std::tuple<std::string, std::string, std::string>& result) {
        // print(f'Result: {result}')
        std::printf("Result: ['%s', '%s', '%s']\n", std::get<0>(result).c_str(),
                    std::get<1>(result).c_str(), std::get<2>(result).c_str());
      });
}

int main() {
  asyncio::run(main_);  // if __name__ == '__main__': asyncio.run(main())
  return 0;
}
