// bench_util: what the benchmark binaries share.
//
//  * A counting allocator: bench_util.cc replaces every operator new and
//    delete, and Main() installs the same counters as libevent's allocator
//    (event_set_mem_functions), so heap::allocs counts every allocation of
//    asyncio, libevent and KJ (which allocates through operator new).
//  * heap::Window: the change in live heap (malloc_usable_size of every
//    block allocated minus every block freed) over its lifetime. glibc
//    rounds a block's usable size up to 16k+8 bytes (a 128-byte request has
//    136 usable); under AddressSanitizer the usable size is the requested
//    size, so a --config=asan build shows the requested bytes.
//  * AllocCounter: allocs_per_op over a timed loop.
//  * RatioReporter: the console reporter with ratio counters x_<floor>
//    (a row's time divided by a floor row's time, or a row's counter
//    divided by a floor row's counter for the same arguments; added when the
//    floor ran first, so a filter that leaves a floor out leaves its ratio
//    out; with --benchmark_repetitions the medians carry them) and a
//    binary's "Performance targets" summary printed at the end.
//
// Single-threaded: the allocation counters are plain globals.
#ifndef TEST_BENCHMARKS_BENCH_UTIL_H_
#define TEST_BENCHMARKS_BENCH_UTIL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"

namespace heap {

extern std::uint64_t allocs;      // every allocation, always counted
extern bool tracking;             // live_* follow the heap only while true
extern std::int64_t live_bytes;   // usable bytes allocated minus freed
extern std::int64_t live_blocks;  // blocks allocated minus freed

// Measures the change in live heap over its lifetime.
class Window {
 public:
  Window() : bytes0_(live_bytes), blocks0_(live_blocks) { tracking = true; }
  ~Window() { tracking = false; }
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;
  std::int64_t bytes() const { return live_bytes - bytes0_; }
  std::int64_t blocks() const { return live_blocks - blocks0_; }

 private:
  std::int64_t bytes0_;
  std::int64_t blocks0_;
};

}  // namespace heap

namespace bench {

// Counts allocations over a timed loop; sets allocs_per_op.
class AllocCounter {
 public:
  explicit AllocCounter(benchmark::State& state)
      : state_(state), start_(heap::allocs) {}
  ~AllocCounter() {
    if (state_.iterations() > 0) {
      state_.counters["allocs_per_op"] =
          static_cast<double>(heap::allocs - start_) /
          static_cast<double>(state_.iterations());
    }
  }
  AllocCounter(const AllocCounter&) = delete;
  AllocCounter& operator=(const AllocCounter&) = delete;

 private:
  benchmark::State& state_;
  std::uint64_t start_;
};

// x_<ratio> on `row` = row's time / floor's time (real time, or CPU time
// when `cpu`).
struct TimeFloor {
  std::string row;
  std::string floor;
  std::string ratio;
  bool cpu = false;
};

// x_<ratio> on `row` = row's `counter` / floor's `floor_counter`, from the
// floor's run with the same arguments.
struct CounterFloor {
  std::string row;
  std::string counter;
  std::string floor;
  std::string floor_counter;
  std::string ratio;
};

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Prints the binary's summary lines (Finalize() writes the heading).
  using Summary = std::function<void(const RatioReporter&, std::ostream&)>;

  RatioReporter(OutputOptions options, std::vector<TimeFloor> time_floors,
                std::vector<CounterFloor> counter_floors, Summary summary);

  void ReportRuns(const std::vector<Run>& reports) override;
  void Finalize() override;

  // The time of `row` (the median with repetitions), ns; -1 when it did not
  // run.
  double ns(const std::string& row) const { return Find(ns_, row); }
  double cpu_ns(const std::string& row) const { return Find(cpu_ns_, row); }
  // The counter `name` of `row` run with arguments `args` ("" for none);
  // -1 when absent.
  double counter(const std::string& row, const std::string& name,
                 const std::string& args = "") const;
  // The counter `name` of every run of `row`, by arguments.
  std::map<std::string, double> counters(const std::string& row,
                                         const std::string& name) const;

 private:
  static double Find(const std::map<std::string, double>& m,
                     const std::string& key);

  std::vector<TimeFloor> time_floors_;
  std::vector<CounterFloor> counter_floors_;
  Summary summary_;
  std::map<std::string, double> ns_;
  std::map<std::string, double> cpu_ns_;
  // row -> arguments -> counter -> value
  std::map<std::string, std::map<std::string, std::map<std::string, double>>>
      counters_;
};

// The body of a benchmark binary's main(): installs the counting libevent
// allocator (before any other libevent call), runs the benchmarks the
// command line selects with a RatioReporter, returns main's exit status.
int Main(int argc, char** argv, std::vector<TimeFloor> time_floors,
         std::vector<CounterFloor> counter_floors,
         RatioReporter::Summary summary);

// printf into `out` (the summary lines).
void Printf(std::ostream& out, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

}  // namespace bench

#endif  // TEST_BENCHMARKS_BENCH_UTIL_H_
