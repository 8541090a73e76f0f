// bench_util: the counting allocator, the ratio reporter and main() of the
// benchmark binaries (see bench_util.h).
#include "test/benchmarks/bench_util.h"

#include <event2/event.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

// --- Counting allocator -----------------------------------------------------

namespace heap {

std::uint64_t allocs = 0;
bool tracking = false;
std::int64_t live_bytes = 0;
std::int64_t live_blocks = 0;

namespace {

inline void* on_alloc(void* p) {
  ++allocs;
  if (tracking && p != nullptr) {
    live_bytes += static_cast<std::int64_t>(malloc_usable_size(p));
    ++live_blocks;
  }
  return p;
}

inline void on_free(void* p) {
  if (tracking && p != nullptr) {
    live_bytes -= static_cast<std::int64_t>(malloc_usable_size(p));
    --live_blocks;
  }
}

void* checked_malloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return on_alloc(p);
}

void* checked_aligned(std::size_t n, std::align_val_t al) {
  void* p = nullptr;
  std::size_t a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  if (::posix_memalign(&p, a, n == 0 ? 1 : n) != 0) throw std::bad_alloc();
  return on_alloc(p);
}

// libevent's allocator (event_set_mem_functions), counted the same way.
void release(void* p);
void* ev_malloc(std::size_t n) { return on_alloc(std::malloc(n)); }
void* ev_realloc(void* p, std::size_t n) {
  if (p == nullptr) return on_alloc(std::realloc(p, n));
  const bool was_tracking = tracking;
  const auto old_size = static_cast<std::int64_t>(malloc_usable_size(p));
  void* q = std::realloc(p, n);
  if (was_tracking && q != nullptr) {
    live_bytes += static_cast<std::int64_t>(malloc_usable_size(q)) - old_size;
  }
  return q;
}

void release(void* p) {
  on_free(p);
  std::free(p);
}

void* nothrow_malloc(std::size_t n) noexcept {
  return on_alloc(std::malloc(n == 0 ? 1 : n));
}

void InstallLibeventAllocator() {
  event_set_mem_functions(&ev_malloc, &ev_realloc, &release);
}

}  // namespace
}  // namespace heap

void* operator new(std::size_t n) { return heap::checked_malloc(n); }
void* operator new[](std::size_t n) { return heap::checked_malloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return heap::nothrow_malloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return heap::nothrow_malloc(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return heap::checked_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return heap::checked_aligned(n, a);
}
void operator delete(void* p) noexcept { heap::release(p); }
void operator delete[](void* p) noexcept { heap::release(p); }
void operator delete(void* p, std::size_t) noexcept { heap::release(p); }
void operator delete[](void* p, std::size_t) noexcept { heap::release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept {
  heap::release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  heap::release(p);
}
void operator delete(void* p, std::align_val_t) noexcept { heap::release(p); }
void operator delete[](void* p, std::align_val_t) noexcept {
  heap::release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  heap::release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  heap::release(p);
}

// --- Reporter ---------------------------------------------------------------

namespace bench {

RatioReporter::RatioReporter(OutputOptions options,
                             std::vector<TimeFloor> time_floors,
                             std::vector<CounterFloor> counter_floors,
                             Summary summary)
    : benchmark::ConsoleReporter(options),
      time_floors_(std::move(time_floors)),
      counter_floors_(std::move(counter_floors)),
      summary_(std::move(summary)) {}

double RatioReporter::Find(const std::map<std::string, double>& m,
                           const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? -1.0 : it->second;
}

double RatioReporter::counter(const std::string& row, const std::string& name,
                              const std::string& args) const {
  auto r = counters_.find(row);
  if (r == counters_.end()) return -1.0;
  auto a = r->second.find(args);
  if (a == r->second.end()) return -1.0;
  return Find(a->second, name);
}

std::map<std::string, double> RatioReporter::counters(
    const std::string& row, const std::string& name) const {
  std::map<std::string, double> out;
  auto r = counters_.find(row);
  if (r == counters_.end()) return out;
  for (const auto& [args, values] : r->second) {
    auto v = values.find(name);
    if (v != values.end()) out[args] = v->second;
  }
  return out;
}

void RatioReporter::ReportRuns(const std::vector<Run>& reports) {
  std::vector<Run> runs = reports;
  for (Run& r : runs) {
    // With --benchmark_repetitions, the medians carry the ratios too (and
    // win: they are reported after the single runs).
    if (r.error_occurred) continue;
    if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median")
      continue;
    const std::string& fn = r.run_name.function_name;
    const std::string& args = r.run_name.args;
    const double ns = r.GetAdjustedRealTime();  // default unit: ns
    const double cpu = r.GetAdjustedCPUTime();
    ns_[fn] = ns;
    cpu_ns_[fn] = cpu;
    for (const TimeFloor& f : time_floors_) {
      if (f.row != fn) continue;
      const double floor = f.cpu ? cpu_ns(f.floor) : this->ns(f.floor);
      if (floor > 0) r.counters[f.ratio] = (f.cpu ? cpu : ns) / floor;
    }
    for (const CounterFloor& f : counter_floors_) {
      if (f.row != fn) continue;
      auto mine = r.counters.find(f.counter);
      const double floor = counter(f.floor, f.floor_counter, args);
      if (mine != r.counters.end() && floor > 0) {
        r.counters[f.ratio] = mine->second.value / floor;
      }
    }
    auto& values = counters_[fn][args];
    for (const auto& [name, c] : r.counters) values[name] = c.value;
  }
  benchmark::ConsoleReporter::ReportRuns(runs);
}

void RatioReporter::Finalize() {
  std::ostream& out = GetOutputStream();
  out << "\nPerformance targets (for reading; nothing is "
         "asserted):\n";
  if (summary_) summary_(*this, out);
  benchmark::ConsoleReporter::Finalize();
}

void Printf(std::ostream& out, const char* format, ...) {
  char line[512];
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(line, sizeof line, format, ap);
  va_end(ap);
  out << line;
}

int Main(int argc, char** argv, std::vector<TimeFloor> time_floors,
         std::vector<CounterFloor> counter_floors,
         RatioReporter::Summary summary) {
  // Before any other libevent call: libevent allocates through the counters.
  heap::InstallLibeventAllocator();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter(isatty(STDOUT_FILENO) != 0
                             ? benchmark::ConsoleReporter::OO_Color
                             : benchmark::ConsoleReporter::OO_None,
                         std::move(time_floors), std::move(counter_floors),
                         std::move(summary));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace bench
