// Condition object (Synchronization Primitives): an asyncio::Condition lets
// a task wait, holding the condition's lock, until another task notifies
// it. cond.wait() releases the lock while it waits and takes it back before
// it completes. `async with cond:` is asyncio::with(cond, f). On its own the
// seed's snippet would wait forever, so a notifier task (the only addition)
// takes the lock and calls notify(); main's wait then completes and with()
// releases the lock. The seed's snippet prints nothing, and neither does
// this program. Output: none.
//
// The seed's Python:
//
//   cond = asyncio.Condition()
//
//   async with cond:
//       await cond.wait()
//
// The whole program, in Python:
//
//   async def main():
//       cond = asyncio.Condition()
//
//       async def notifier():
//           async with cond:
//               cond.notify()
//
//       task = asyncio.create_task(notifier())
//       async with cond:
//           await cond.wait()
//       await task
//
//   asyncio.run(main())
#include "asyncio/asyncio.h"

asyncio::Future<void> main_() {
  asyncio::Condition cond;  // cond = asyncio.Condition()

  // task = asyncio.create_task(notifier())
  asyncio::Task<void> task = asyncio::create_task([cond] {
    return asyncio::with(cond, [cond] {  // async with cond:
      cond.notify();                     //     cond.notify()
    });
  });

  return asyncio::with(cond, [cond] {  // async with cond:
           return cond.wait();         //     await cond.wait()
         })
      .then([task] { return task; });  // await task
}

int main() { asyncio::run(main_); }
