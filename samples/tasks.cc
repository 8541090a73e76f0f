// Tasks: asyncio.create_task(coro) wraps a coroutine in a Task and schedules
// it on the running loop; awaiting the task waits for its result. Here main
// schedules work() as a task, awaits it and prints its result. Output:
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
//       task = asyncio.create_task(work())
//       result = await task
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
  // create_task takes the coroutine function (work), not its result: the
  // task calls it on a later loop iteration.
  asyncio::Task<std::string> task = asyncio::create_task(work);
  return task.then([](const std::string& result) {  // result = await task
    std::puts(result.c_str());                      // print(result)
  });
}

int main() { asyncio::run(main_); }
