// Mutex Lock (Synchronization Primitives): an asyncio::Lock guarantees
// exclusive access to a shared resource. `async with lock:` is
// asyncio::with(lock, f): it acquires the lock, runs f, and releases the
// lock whatever f's outcome. Here the shared state is a counter that main
// updates while it holds the lock. The seed's snippet prints nothing, and
// neither does this program. Output: none.
//
// The seed's Python:
//
//   lock = asyncio.Lock()
//
//   async with lock:
//       # access shared state
#include "asyncio/asyncio.h"

int shared_state = 0;

asyncio::Future<void> main_() {
  asyncio::Lock lock;              // lock = asyncio.Lock()
  return asyncio::with(lock, [] {  // async with lock:
    ++shared_state;                //     # access shared state
  });
}

int main() { asyncio::run(main_); }
