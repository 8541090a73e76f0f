// Shielding from Cancellation: asyncio.shield(aw) protects aw from being
// cancelled: cancelling the awaiting code (or the shield's own future)
// leaves work running. Here nothing cancels main, so res is 'done'; the
// seed's program prints nothing, and neither does this one. Output: none.
//
// The seed's Python:
//
//   import asyncio
//
//   async def work():
//       return 'done'
//
//
//   async def main():
//       try:
//           res = await shield(work())
//       except CancelledError:
//           res = None
//
//
//   asyncio.run(main())
#include <optional>
#include <string>

#include "asyncio/asyncio.h"

asyncio::Future<std::string> work() {
  return asyncio::make_ready_future("done");  // return 'done'
}

asyncio::Future<void> main_() {
  return asyncio::shield(work)  // res = await shield(work())
      .then_outcome([](asyncio::Outcome<std::string> outcome) {
        std::optional<std::string> res;
        if (outcome.cancelled()) {
          res = std::nullopt;   // except CancelledError: res = None
        } else {
          res = outcome.value();
        }
        (void)res;
      });
}

int main() { asyncio::run(main_); }
