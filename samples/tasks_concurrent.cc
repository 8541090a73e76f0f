// Tasks, concurrently: three tasks created one after the other start in that
// order on the next loop iteration and then sleep at the same time, so they
// finish in the order their sleeps end (B after 1 s, A after 2 s, C after
// 3 s) and the program takes about 3 s, not 6. Output:
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
//       t1 = asyncio.create_task(a())
//       t2 = asyncio.create_task(b())
//       t3 = asyncio.create_task(c())
//       await t1
//       await t2
//       await t3
//
//
//   if __name__ == '__main__':
//       asyncio.run(main())
//
//   # A: started
//   # B: started
//   # C: started
//   # B: finished
//   # A: finished
//   # C: finished
#include <cstdio>

#include "asyncio/asyncio.h"

asyncio::Future<void> a() {
  std::puts("A: started");
  return asyncio::sleep(2).then([] {  // await asyncio.sleep(2)
    std::puts("A: finished");
  });
}

asyncio::Future<void> b() {
  std::puts("B: started");
  return asyncio::sleep(1).then([] {  // await asyncio.sleep(1)
    std::puts("B: finished");
  });
}

asyncio::Future<void> c() {
  std::puts("C: started");
  return asyncio::sleep(3).then([] {  // await asyncio.sleep(3)
    std::puts("C: finished");
  });
}

asyncio::Future<void> main_() {
  asyncio::Task<void> t1 = asyncio::create_task(a);
  asyncio::Task<void> t2 = asyncio::create_task(b);
  asyncio::Task<void> t3 = asyncio::create_task(c);
  return t1                           // await t1
      .then([t2] { return t2; })      // await t2
      .then([t3] { return t3; });     // await t3
}

int main() {
  asyncio::run(main_);  // if __name__ == '__main__': asyncio.run(main())
}
