// Running in Threads: asyncio.to_thread(func) runs a blocking function in a
// worker thread (the loop's default executor) and returns a future of its
// result, so the loop keeps running meanwhile. Here the two-second blocking
// work() runs in a thread while main also sleeps one second: gathered, the
// two overlap and main finishes after about 2 s, not 3. Output (times are
// the wall clock's):
//
//   Started main at 02:42:45
//   Work started 02:42:45
//   Work done at 02:42:47
//   Finished main at 02:42:47
//
// The seed's Python:
//
//   import asyncio
//   import time
//
//
//   def work():
//       print(f'Work started {time.strftime("%X")}')
//       time.sleep(2)  # Blocking
//       print(f'Work done at {time.strftime("%X")}')
//
//
//   async def main():
//       print(f'Started main at {time.strftime("%X")}')
//
//       await asyncio.gather(
//           asyncio.to_thread(work),
//           asyncio.sleep(1))
//
//       print(f'Finished main at {time.strftime("%X")}')
//
//
//   asyncio.run(main())
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <tuple>
#include <variant>

#include "asyncio/asyncio.h"

// time.strftime("%X")
std::string now_x() {
  std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%X", &local);
  return buf;
}

void work() {
  std::printf("Work started %s\n", now_x().c_str());
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // Blocking
  std::printf("Work done at %s\n", now_x().c_str());
  std::fflush(stdout);
}

asyncio::Future<void> main_() {
  std::printf("Started main at %s\n", now_x().c_str());
  std::fflush(stdout);
  return asyncio::gather(asyncio::to_thread(work), asyncio::sleep(1))
      .then([](const std::tuple<std::monostate, std::monostate>&) {
        std::printf("Finished main at %s\n", now_x().c_str());
      });
}

int main() { asyncio::run(main_); }
