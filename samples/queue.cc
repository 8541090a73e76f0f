// Queue: an asyncio.Queue spreads a workload over three worker tasks. main
// puts 20 random sleep times (uniform between 0.05 and 1.0 s) into an
// unbounded queue and starts three workers; each worker takes the next
// sleep out of the queue, sleeps for it, marks it done (task_done) and
// prints a line. main waits with join() until every item is done, cancels
// the workers, and prints how long the three took in parallel beside the
// sum of the sleeps. Output (the times depend on the random sleeps):
//
//   worker-0 has slept for 0.26 seconds
//   worker-0 has slept for 0.41 seconds
//   worker-1 has slept for 0.89 seconds
//   ...                                    (20 worker lines)
//   ====
//   3 workers slept in parallel for 3.74 seconds
//   total expected sleep time: 10.79 seconds
//
// The random generator (std::mt19937_64) is seeded from --seed=N, else from
// the environment variable ASYNCIO_SAMPLE_SEED, else at random. A fixed
// seed gives the same sleeps every run (with one standard library).
//
// The seed's Python:
//
//   import asyncio
//   import random
//   import time
//
//
//   async def worker(name, queue):
//       while True:
//           # Get a "work item" out of the queue.
//           sleep_for = await queue.get()
//
//           # Sleep for the "sleep_for" seconds.
//           await asyncio.sleep(sleep_for)
//
//           # Notify the queue that the "work item" has been processed.
//           queue.task_done()
//
//           print(f'{name} has slept for {sleep_for:.2f} seconds')
//
//
//   async def main():
//       # Create a queue that we will use to store our "workload".
//       queue = asyncio.Queue()
//
//       # Generate random timings and put them into the queue.
//       total_sleep_time = 0
//       for _ in range(20):
//           sleep_for = random.uniform(0.05, 1.0)
//           total_sleep_time += sleep_for
//           queue.put_nowait(sleep_for)
//
//       # Create three worker tasks to process the queue concurrently.
//       tasks = []
//       for i in range(3):
//           task = asyncio.create_task(worker(f'worker-{i}', queue))
//           tasks.append(task)
//
//       # Wait until the queue is fully processed.
//       started_at = time.monotonic()
//       await queue.join()
//       total_slept_for = time.monotonic() - started_at
//
//       # Cancel our worker tasks.
//       for task in tasks:
//           task.cancel()
//       # Wait until all worker tasks are cancelled.
//       await asyncio.gather(*tasks, return_exceptions=True)
//
//       print('====')
//       print(f'3 workers slept in parallel for {total_slept_for:.2f} seconds')
//       print(f'total expected sleep time: {total_sleep_time:.2f} seconds')
//
//
//   asyncio.run(main())
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "asyncio/asyncio.h"

asyncio::Future<void> worker(std::string name, asyncio::Queue<double> queue) {
  return asyncio::repeat([name, queue] {  // while True:
    // sleep_for = await queue.get()
    return queue.get().then([name, queue](double sleep_for) {
      // await asyncio.sleep(sleep_for)
      return asyncio::sleep(sleep_for).then([name, queue, sleep_for] {
        queue.task_done();  // queue.task_done()
        std::printf("%s has slept for %.2f seconds\n", name.c_str(), sleep_for);
        return asyncio::Repeat::CONTINUE;
      });
    });
  });
}

asyncio::Future<void> main_(std::uint64_t seed) {
  asyncio::Queue<double> queue;  // queue = asyncio.Queue()

  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> uniform(0.05, 1.0);
  double total_sleep_time = 0;
  for (int i = 0; i < 20; ++i) {
    double sleep_for = uniform(random);  // random.uniform(0.05, 1.0)
    total_sleep_time += sleep_for;
    queue.put_nowait(sleep_for);
  }

  std::vector<asyncio::Task<void>> tasks;
  for (int i = 0; i < 3; ++i) {
    // create_task takes the coroutine function: bind its arguments.
    tasks.push_back(asyncio::create_task(
        [i, queue] { return worker("worker-" + std::to_string(i), queue); }));
  }

  double started_at = asyncio::get_running_loop().time();  // time.monotonic()
  return queue.join()  // await queue.join()
      .then([=] {
        double total_slept_for = asyncio::get_running_loop().time() - started_at;
        for (const asyncio::Task<void>& task : tasks) task.cancel();
        // await asyncio.gather(*tasks, return_exceptions=True)
        return asyncio::gather(asyncio::return_exceptions, tasks)
            .then([=](const std::vector<asyncio::Outcome<void>>&) {
              std::puts("====");
              std::printf("3 workers slept in parallel for %.2f seconds\n",
                          total_slept_for);
              std::printf("total expected sleep time: %.2f seconds\n",
                          total_sleep_time);
            });
      });
}

// The seed: --seed=N, else $ASYNCIO_SAMPLE_SEED, else random. False when
// one was given and is not a number.
bool parse_seed(int argc, char** argv, std::uint64_t* seed) {
  const char* text = std::getenv("ASYNCIO_SAMPLE_SEED");
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seed=", 7) == 0) {
      text = argv[i] + 7;
    } else {
      return false;
    }
  }
  if (text == nullptr) {
    *seed = std::random_device()();
    return true;
  }
  char* end = nullptr;
  *seed = std::strtoull(text, &end, 10);
  return *text != '\0' && *end == '\0';
}

int main(int argc, char** argv) {
  std::uint64_t seed = 0;
  if (!parse_seed(argc, argv, &seed)) {
    std::fprintf(stderr, "usage: %s [--seed=N]\n", argv[0]);
    return 2;
  }
  asyncio::run([seed] { return main_(seed); });  // asyncio.run(main())
}
