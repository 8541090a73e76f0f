// jobs: a single-file program built against an installed asyncio for C++17
// (through CMake's find_package or through pkg-config; README.md gives the
// commands, and CMakeLists.txt beside this file is the CMake way).
//
// Eight jobs of different lengths run as tasks, but a Semaphore lets only
// three run at once; each job records how many were running with it. main
// gathers the jobs' results (a std::vector, in job order) and prints them.
// Output (about 0.1 s):
//
//   job 0: 10 ms
//   ...
//   job 7: 17 ms
//   8 jobs, at most 3 at once (asyncio 0.9.0)
#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "asyncio/asyncio.h"

namespace {

struct Stats {
  int running = 0;
  int most = 0;
};

asyncio::Future<int> job(int n, asyncio::Semaphore slots,
                         std::shared_ptr<Stats> stats) {
  int ms = 10 + n;
  return asyncio::with(slots, [ms, stats] {  // async with slots:
    stats->most = std::max(stats->most, ++stats->running);
    return asyncio::sleep(ms / 1000.0).then([ms, stats] {
      --stats->running;
      return ms;
    });
  });
}

asyncio::Future<void> main_() {
  asyncio::Semaphore slots(3);
  auto stats = std::make_shared<Stats>();
  std::vector<asyncio::Task<int>> jobs;
  for (int n = 0; n < 8; ++n)
    jobs.push_back(asyncio::create_task([n, slots, stats] { return job(n, slots, stats); }));
  return asyncio::gather(jobs).then([stats](const std::vector<int>& ms) {
    for (std::size_t n = 0; n < ms.size(); ++n)
      std::printf("job %zu: %d ms\n", n, ms[n]);
    std::printf("%zu jobs, at most %d at once (asyncio %s)\n", ms.size(),
                stats->most, ASYNCIO_VERSION_STRING);
  });
}

}  // namespace

int main() {
  asyncio::run(main_);
  return 0;
}
