// Semaphore (Synchronization Primitives): an asyncio::Semaphore(10) lets at
// most ten holders at a time work with a shared resource; acquire() waits
// while none of the ten permits is free. `async with sem:` is
// asyncio::with(sem, f): it takes a permit, runs f, and gives the permit
// back whatever f's outcome. Here the shared resource is a counter of its
// uses. The seed's snippet prints nothing, and neither does this program.
// Output: none.
//
// The seed's Python:
//
//   sem = asyncio.Semaphore(10)
//
//   async with sem:
//       # work with shared resource
#include "asyncio/asyncio.h"

int shared_resource_uses = 0;

asyncio::Future<void> main_() {
  asyncio::Semaphore sem(10);     // sem = asyncio.Semaphore(10)
  return asyncio::with(sem, [] {  // async with sem:
    ++shared_resource_uses;       //     # work with shared resource
  });
}

int main() { asyncio::run(main_); }
