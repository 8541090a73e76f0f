// Wait: asyncio.wait(aws) runs the awaitables concurrently and waits until
// the condition given by return_when holds (all of them complete, by
// default); it returns the done and the pending ones and never raises
// TimeoutError. Here the one task is done. Output:
//
//   work is done
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
//       done, pending = await asyncio.wait({task})
//
//       if task in done:
//           print('work is done')
//
//   asyncio.run(main())
//   # work is done
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "asyncio/asyncio.h"

asyncio::Future<std::string> work() {
  return asyncio::make_ready_future("done");  // return 'done'
}

asyncio::Future<void> main_() {
  asyncio::Task<std::string> task = asyncio::create_task(work);
  // done, pending = await asyncio.wait({task})
  return asyncio::wait(std::vector<asyncio::Task<std::string>>{task})
      .then([task](const asyncio::WaitResult<std::string>& r) {
        // if task in done:
        if (std::find(r.done.begin(), r.done.end(), task) != r.done.end()) {
          std::puts("work is done");
        }
      });
}

int main() { asyncio::run(main_); }
