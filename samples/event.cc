// Event (Synchronization Primitives): an asyncio::Event notifies every task
// waiting on it that something happened. main spawns a listener task that
// waits for the event, sleeps one second, sets the event, and waits until
// the listener has processed it. Output:
//
//   Waiting for event
//   Event processed
//
// The seed's Python:
//
//   import asyncio
//
//
//   async def listener(event):
//       print(f'Waiting for event')
//       await event.wait()
//       print(f'Event processed')
//
//
//   async def main():
//       myevent = asyncio.Event()
//
//       # Spawn a Task to wait until 'event' is set.
//       handler = asyncio.create_task(listener(myevent))
//
//       # Sleep for 1 second and set the event.
//       await asyncio.sleep(1)
//       myevent.set()
//
//       # Wait until processing is complete
//       await handler
//
//
//   asyncio.run(main())
//   # Waiting for event
//   # Event processed
#include <cstdio>

#include "asyncio/asyncio.h"

asyncio::Future<void> listener(asyncio::Event event) {
  std::puts("Waiting for event");  // print(f'Waiting for event')
  return event.wait()              // await event.wait()
      .then([] { std::puts("Event processed"); });  // print(f'Event processed')
}

asyncio::Future<void> main_() {
  asyncio::Event myevent;  // myevent = asyncio.Event()

  // Spawn a Task to wait until 'event' is set.
  asyncio::Task<void> handler =
      asyncio::create_task([myevent] { return listener(myevent); });

  // Sleep for 1 second and set the event.
  return asyncio::sleep(1)
      .then([myevent] { myevent.set(); })
      // Wait until processing is complete
      .then([handler] { return handler; });
}

int main() { asyncio::run(main_); }
