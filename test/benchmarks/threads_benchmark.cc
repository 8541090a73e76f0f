// threads_benchmark: the cost of crossing threads, beside a hand-written
// libevent + mutex + condition-variable pool in the same run.
//
//   bazel run -c opt //test/benchmarks:threads_benchmark -- --benchmark_min_time=0.5
//
// Rows (Time = wall ns per round trip or per callback):
//
//   BM_Raw_PoolRoundTrip/C   C callers on one libevent loop, each a chain:
//                            hand a trivial job to a pool of worker threads
//                            (std::mutex + std::condition_variable queue),
//                            the worker queues the result under a mutex and
//                            wakes the loop through an eventfd; the loop's
//                            read callback hands each caller its result and
//                            starts the caller's next job.
//   BM_Asyncio_ToThreadRoundTrip/C
//                            C tasks, each a repeat() loop of
//                            to_thread(trivial).then(CONTINUE), on the
//                            default executor.
//   BM_Raw_ThreadsafePost    2 producer threads post callbacks into a
//                            libevent loop (mutex queue + eventfd wake-up);
//                            time per callback run on the loop.
//   BM_Asyncio_CallSoonThreadsafe
//                            2 producer threads call call_soon_threadsafe;
//                            time per callback run on the loop.
//
// Both pools have the same number of workers: asyncio's default,
// min(32, cores + 4). KJ has no thread pool of its own to compare (its
// cross-thread door is kj::Executor, one thread per event loop), so it is
// not here. No counting allocator: this binary is multi-threaded.
#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "asyncio/asyncio.h"
#include "benchmark/benchmark.h"

namespace {

constexpr int kCallsPerCaller = 2000;
constexpr int kPostsPerProducer = 100000;

int PoolSize() {
  unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::min(32u, (cores == 0 ? 1u : cores) + 4u));
}

long Trivial(long x) { return x + 1; }

// --- Raw: libevent loop + mutex/condvar pool ---------------------------------

class RawPool {
 public:
  explicit RawPool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~RawPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void Submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// A loop-side inbox other threads post to: mutex queue + eventfd.
class RawInbox {
 public:
  explicit RawInbox(event_base* base) : base_(base) {
    fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ev_ = event_new(base, fd_, EV_READ | EV_PERSIST, &RawInbox::OnReadable, this);
    event_add(ev_, nullptr);
  }
  ~RawInbox() {
    event_free(ev_);
    ::close(fd_);
  }
  void Post(std::function<void()> cb) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.push_back(std::move(cb));
      wake = !wake_pending_;
      wake_pending_ = true;
    }
    if (wake) {
      std::uint64_t one = 1;
      (void)!::write(fd_, &one, sizeof one);
    }
  }
  event_base* base() const { return base_; }

 private:
  static void OnReadable(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<RawInbox*>(arg);
    std::uint64_t v;
    (void)!::read(fd, &v, sizeof v);
    std::deque<std::function<void()>> batch;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      batch.swap(self->items_);
      self->wake_pending_ = false;
    }
    for (auto& cb : batch) cb();
  }
  event_base* base_;
  int fd_;
  event* ev_;
  std::mutex mu_;
  std::deque<std::function<void()>> items_;
  bool wake_pending_ = false;
};

void BM_Raw_PoolRoundTrip(benchmark::State& state) {
  const int callers = static_cast<int>(state.range(0));
  RawPool pool(PoolSize());
  for (auto _ : state) {
    event_base* base = event_base_new();
    {
      RawInbox inbox(base);
      int callers_left = callers;
      std::vector<int> left(callers, kCallsPerCaller);
      std::function<void(int)> start = [&](int c) {
        pool.Submit([&, c] {
          long r = Trivial(c);
          inbox.Post([&, c, r] {
            benchmark::DoNotOptimize(r);
            if (--left[c] > 0) {
              start(c);
            } else if (--callers_left == 0) {
              event_base_loopbreak(base);
            }
          });
        });
      };
      for (int c = 0; c < callers; ++c) start(c);
      event_base_dispatch(base);
    }
    event_base_free(base);
  }
  state.SetItemsProcessed(state.iterations() * callers * kCallsPerCaller);
  state.counters["ns_per_call"] = benchmark::Counter(
      static_cast<double>(state.iterations() * callers * kCallsPerCaller),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Raw_PoolRoundTrip)->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Asyncio_ToThreadRoundTrip(benchmark::State& state) {
  const int callers = static_cast<int>(state.range(0));
  for (auto _ : state) {
    asyncio::EventLoop loop;
    loop.set_default_executor(std::make_shared<asyncio::ThreadPoolExecutor>(PoolSize()));
    loop.run_until_complete([callers] {
      std::vector<asyncio::Future<void>> chains;
      for (int c = 0; c < callers; ++c) {
        auto left = std::make_shared<int>(kCallsPerCaller);
        chains.push_back(asyncio::repeat([left, c] {
          return asyncio::to_thread(Trivial, static_cast<long>(c)).then([left](long r) {
            benchmark::DoNotOptimize(r);
            return --*left > 0 ? asyncio::Repeat::CONTINUE : asyncio::Repeat::STOP;
          });
        }));
      }
      return asyncio::gather(std::move(chains)).then([](const std::vector<std::monostate>&) {});
    });
    loop.default_executor().shutdown(true);
  }
  state.SetItemsProcessed(state.iterations() * callers * kCallsPerCaller);
  state.counters["ns_per_call"] = benchmark::Counter(
      static_cast<double>(state.iterations() * callers * kCallsPerCaller),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Asyncio_ToThreadRoundTrip)->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- call_soon_threadsafe throughput -----------------------------------------

void BM_Raw_ThreadsafePost(benchmark::State& state) {
  for (auto _ : state) {
    event_base* base = event_base_new();
    {
      RawInbox inbox(base);
      int ran = 0;
      std::vector<std::thread> producers;
      for (int p = 0; p < 2; ++p) {
        producers.emplace_back([&] {
          for (int i = 0; i < kPostsPerProducer; ++i) {
            inbox.Post([&] {
              if (++ran == 2 * kPostsPerProducer) event_base_loopbreak(base);
            });
          }
        });
      }
      event_base_dispatch(base);
      for (std::thread& t : producers) t.join();
    }
    event_base_free(base);
  }
  state.counters["ns_per_callback"] = benchmark::Counter(
      static_cast<double>(state.iterations() * 2 * kPostsPerProducer),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Raw_ThreadsafePost)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Asyncio_CallSoonThreadsafe(benchmark::State& state) {
  for (auto _ : state) {
    asyncio::EventLoop loop;
    int ran = 0;
    std::vector<std::thread> producers;
    loop.call_soon([&] {
      for (int p = 0; p < 2; ++p) {
        producers.emplace_back([&] {
          for (int i = 0; i < kPostsPerProducer; ++i) {
            loop.call_soon_threadsafe([&] {
              if (++ran == 2 * kPostsPerProducer) loop.stop();
            });
          }
        });
      }
    });
    loop.run_forever();
    for (std::thread& t : producers) t.join();
  }
  state.counters["ns_per_callback"] = benchmark::Counter(
      static_cast<double>(state.iterations() * 2 * kPostsPerProducer),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Asyncio_CallSoonThreadsafe)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
