// combinators_benchmark: the combinators (gather, wait_for) on 100,000
// children at once, each beside a hand-written raw-libevent equivalent and
// Cap'n Proto's KJ (Debian's libcapnp-dev 0.9.2) in the same run.
//
//   bazel run -c opt //test/benchmarks:combinators_benchmark -- --benchmark_min_time=0.5
//
// Every benchmark iteration is one child (one operation), so the Time
// column is ns per child; each timed batch is one combinator over
// kChildren (100,000) children, run to completion. The rows:
//
//   BM_Raw_Gather           libevent: 100,000 events made active (event_new
//                           + event_active); each callback writes its value
//                           into its slot of a results vector, event_free()s
//                           its event and counts down; the last one ends the
//                           "gather" (event_base_loopbreak). Timed: all of
//                           it (the results vector and the per-child
//                           contexts included); there is nothing to make
//                           beforehand.
//   BM_Asyncio_Gather       asyncio::gather(std::move(v)) over a
//                           std::vector<asyncio::Future<int>> of 100,000
//                           make_ready_future(loop, i), run with
//                           run_until_complete. Timed: from the gather()
//                           call until run_until_complete has returned the
//                           std::vector<int> of results, which includes
//                           destroying the gather (and with it the 100,000
//                           children, whose only owner it is). Not timed:
//                           making the ready futures and the vector v
//                           (PauseTiming), checking the results.
//   BM_Asyncio_GatherWithChildren
//                           the same with the making of the 100,000 ready
//                           futures (and of v) timed too.
//   BM_KJ_Gather            KJ: kj::joinPromises over a kj::Array of
//                           100,000 ready kj::Promise<int>(i), waited with
//                           .wait(waitScope) on a kj::EventLoop. Timed: the
//                           joinPromises call until wait() returned the
//                           kj::Array<int>, destroying the join (and the
//                           children) included; not timed: making the ready
//                           promises and their array.
//   BM_KJ_GatherWithChildren
//                           the same with the making of the ready promises
//                           timed too.
//
// Counters (per child): allocs_per_op, every allocation (operator new,
// libevent's malloc) in the timed part; bytes_per_child and
// blocks_per_child, the live heap while the gather is pending, measured
// once per run (untimed, heap::Window, divided by kChildren): for asyncio
// after gather() returned and before the loop ran (the ready futures, the
// gather state with its 40-byte child slots, its position table), for
// libevent after the events were made active (the events, the contexts,
// the results vector), for KJ after joinPromises returned (the ready
// promise nodes, the join node, its branches and result parts; KJ
// allocates through the counted operator new); child_bytes_per_child, the
// part of bytes_per_child that the children alone hold before the gather
// exists (asyncio and KJ). x_raw: time / BM_Raw_Gather's time;
// x_raw_bytes: bytes_per_child / BM_Raw_Gather's.
//
// Bytes are malloc_usable_size (glibc rounds up to 16k+8; see
// bench_util.h).
#include <event2/event.h>
#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <utility>
#include <vector>

#include "asyncio/asyncio.h"
#include "benchmark/benchmark.h"
#include "kj/array.h"
#include "kj/async.h"
#include "test/benchmarks/bench_util.h"

namespace {

constexpr int kChildren = 100000;

// One loop iteration: stop() before run_forever() runs exactly one.
void RunOnce(asyncio::EventLoop& loop) {
  loop.stop();
  loop.run_forever();
}

// Sets the per-child memory counters from a Window that saw `children`
// bytes and blocks of children alone and `total` of everything pending.
struct PendingHeap {
  double children_bytes = 0;
  double total_bytes = 0;
  double total_blocks = 0;

  void Report(benchmark::State& state, bool has_children) const {
    state.counters["bytes_per_child"] = total_bytes / kChildren;
    state.counters["blocks_per_child"] = total_blocks / kChildren;
    if (has_children) {
      state.counters["child_bytes_per_child"] = children_bytes / kChildren;
    }
  }
};

// Runs timed batches of kChildren children until the benchmark has enough:
// batch(state) runs one gather (it may pause the timer for its set-up) and
// returns whether its result was right. allocs_per_op counts only what is
// allocated while the timer runs.
template <class Batch>
void RunBatches(benchmark::State& state, Batch batch) {
  bool right = true;
  std::uint64_t untimed_allocs = 0;
  const std::uint64_t allocs0 = heap::allocs;
  while (state.KeepRunningBatch(kChildren)) {
    if (!batch(state, untimed_allocs)) right = false;
  }
  if (state.iterations() > 0) {
    state.counters["allocs_per_op"] =
        static_cast<double>(heap::allocs - allocs0 - untimed_allocs) /
        static_cast<double>(state.iterations());
  }
  if (!right) state.SkipWithError("a gather ended with the wrong result");
  state.SetItemsProcessed(state.iterations());
}

// Pauses the timer for the life of the object; counts the allocations made
// meanwhile into `untimed`.
class Untimed {
 public:
  Untimed(benchmark::State& state, std::uint64_t& untimed)
      : state_(state), untimed_(untimed), allocs0_(heap::allocs) {
    state_.PauseTiming();
  }
  ~Untimed() {
    untimed_ += heap::allocs - allocs0_;
    state_.ResumeTiming();
  }
  Untimed(const Untimed&) = delete;
  Untimed& operator=(const Untimed&) = delete;

 private:
  benchmark::State& state_;
  std::uint64_t& untimed_;
  std::uint64_t allocs0_;
};

template <class Vector>
bool IsIota(const Vector& r) {
  if (r.size() != static_cast<std::size_t>(kChildren)) return false;
  for (int i = 0; i < kChildren; ++i) {
    if (r[i] != i) return false;
  }
  return true;
}

// --- gather: raw libevent ----------------------------------------------------

struct RawGather {
  event_base* base;
  std::vector<int> results;
  std::size_t remaining;
};

struct RawChild {
  RawGather* gather;
  event* ev;
  std::uint32_t index;
  int value;
};

void RawGatherCb(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<RawChild*>(arg);
  RawGather* g = c->gather;
  g->results[c->index] = c->value;
  event_free(c->ev);
  if (--g->remaining == 0) event_base_loopbreak(g->base);
}

// Makes kChildren active events into `children` (reserved by the caller).
void StartRawGather(RawGather& g, std::vector<RawChild>& children) {
  g.results.assign(kChildren, -1);
  g.remaining = kChildren;
  for (int i = 0; i < kChildren; ++i) {
    children.push_back(RawChild{&g, nullptr, static_cast<std::uint32_t>(i), i});
    RawChild& c = children.back();
    c.ev = event_new(g.base, -1, 0, &RawGatherCb, &c);
    event_active(c.ev, EV_TIMEOUT, 0);
  }
}

void BM_Raw_Gather(benchmark::State& state) {
  event_base* base = event_base_new();
  PendingHeap heap_use;
  {
    RawGather g{base, {}, 0};
    std::vector<RawChild> children;
    {
      heap::Window window;
      children.reserve(kChildren);
      StartRawGather(g, children);
      heap_use.total_bytes = static_cast<double>(window.bytes());
      heap_use.total_blocks = static_cast<double>(window.blocks());
    }
    event_base_dispatch(base);
  }
  RunBatches(state, [base](benchmark::State&, std::uint64_t&) {
    RawGather g{base, {}, 0};
    std::vector<RawChild> children;
    children.reserve(kChildren);
    StartRawGather(g, children);
    event_base_dispatch(base);
    return g.remaining == 0 && IsIota(g.results);
  });
  heap_use.Report(state, false);
  event_base_free(base);
}
BENCHMARK(BM_Raw_Gather);

// --- gather: asyncio ---------------------------------------------------------

std::vector<asyncio::Future<int>> ReadyFutures(asyncio::EventLoop& loop) {
  std::vector<asyncio::Future<int>> v;
  v.reserve(kChildren);
  for (int i = 0; i < kChildren; ++i) {
    v.push_back(asyncio::make_ready_future(loop, i));
  }
  return v;
}

// One gather row: make() makes the kChildren ready children (a container),
// gather(children) starts the gather and returns it pending, finish(pending)
// runs it to completion and returns its values. Measures the live heap of
// one pending gather first (untimed), then times batches (with or without
// make()).
template <bool kTimeChildren, class Make, class Gather, class Finish>
void GatherRow(benchmark::State& state, Make make, Gather gather,
               Finish finish) {
  using Children = decltype(make());
  PendingHeap heap_use;
  {
    std::optional<decltype(gather(make()))> pending;
    {
      heap::Window window;
      {
        Children children = make();
        // The children alone (their container's storage, gone once the
        // gather exists, left out).
        heap_use.children_bytes = static_cast<double>(
            window.bytes() -
            static_cast<std::int64_t>(malloc_usable_size(&*children.begin())));
        pending.emplace(gather(std::move(children)));
      }
      heap_use.total_bytes = static_cast<double>(window.bytes());
      heap_use.total_blocks = static_cast<double>(window.blocks());
    }
    finish(std::move(*pending));
  }
  RunBatches(state, [&](benchmark::State& st, std::uint64_t& untimed) {
    Children children;
    if (kTimeChildren) {
      children = make();
    } else {
      Untimed pause(st, untimed);
      children = make();
    }
    auto r = finish(gather(std::move(children)));
    Untimed pause(st, untimed);
    return IsIota(r);
  });
  heap_use.Report(state, true);
}

template <bool kTimeChildren>
void AsyncioGather(benchmark::State& state) {
  asyncio::EventLoop loop;
  loop.call_soon([] {});
  RunOnce(loop);  // the loop's first iteration arms its libevent timer
  GatherRow<kTimeChildren>(
      state, [&loop] { return ReadyFutures(loop); },
      [](std::vector<asyncio::Future<int>> v) {
        return asyncio::gather(std::move(v));
      },
      [&loop](asyncio::Future<std::vector<int>> g) {
        return loop.run_until_complete(std::move(g));
      });
}

void BM_Asyncio_Gather(benchmark::State& state) { AsyncioGather<false>(state); }
BENCHMARK(BM_Asyncio_Gather);

void BM_Asyncio_GatherWithChildren(benchmark::State& state) {
  AsyncioGather<true>(state);
}
BENCHMARK(BM_Asyncio_GatherWithChildren);

// --- gather: KJ --------------------------------------------------------------

kj::Array<kj::Promise<int>> ReadyPromises() {
  auto b = kj::heapArrayBuilder<kj::Promise<int>>(kChildren);
  for (int i = 0; i < kChildren; ++i) b.add(kj::Promise<int>(i));
  return b.finish();
}

template <bool kTimeChildren>
void KjGather(benchmark::State& state) {
  kj::EventLoop loop;
  kj::WaitScope wait_scope(loop);
  GatherRow<kTimeChildren>(
      state, ReadyPromises,
      [](kj::Array<kj::Promise<int>> children) {
        return kj::joinPromises(kj::mv(children));
      },
      [&wait_scope](kj::Promise<kj::Array<int>> joined) {
        return joined.wait(wait_scope);
      });
}

void BM_KJ_Gather(benchmark::State& state) { KjGather<false>(state); }
BENCHMARK(BM_KJ_Gather);

void BM_KJ_GatherWithChildren(benchmark::State& state) {
  KjGather<true>(state);
}
BENCHMARK(BM_KJ_GatherWithChildren);

// A summary line comparing `row` with the peer row `peer` (when both ran):
// "    = 0.18x raw libevent's 320.0 ns and 0.61x its 164.0 bytes", on CPU
// time when `cpu`.
void PeerLine(const bench::RatioReporter& r, std::ostream& out,
              const char* row, const char* peer, const char* label,
              const char* bytes_counter, bool cpu) {
  const double mine = cpu ? r.cpu_ns(row) : r.ns(row);
  const double theirs = cpu ? r.cpu_ns(peer) : r.ns(peer);
  if (mine <= 0 || theirs <= 0) return;
  const double bytes = r.counter(row, bytes_counter);
  const double peer_bytes = r.counter(peer, bytes_counter);
  bench::Printf(out, "    = %.2fx %s %.1f ns%s and %.2fx its %.1f bytes\n",
                mine / theirs, label, theirs, cpu ? " CPU" : "",
                bytes / peer_bytes, peer_bytes);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<bench::TimeFloor> floors;
  std::vector<bench::CounterFloor> counter_floors;
  for (const char* row :
       {"BM_Asyncio_Gather", "BM_Asyncio_GatherWithChildren", "BM_KJ_Gather",
        "BM_KJ_GatherWithChildren"}) {
    floors.push_back({row, "BM_Raw_Gather", "x_raw"});
    counter_floors.push_back({row, "bytes_per_child", "BM_Raw_Gather",
                              "bytes_per_child", "x_raw_bytes"});
  }
  auto summary = [](const bench::RatioReporter& r, std::ostream& out) {
    const double gather = r.ns("BM_Asyncio_Gather");
    if (gather > 0) {
      bench::Printf(out,
                    "  gather over 100,000 ready futures: %.1f ns per child "
                    "(target <= 300 ns), %.1f bytes per child pending "
                    "(target <= 200 B)\n",
                    gather, r.counter("BM_Asyncio_Gather", "bytes_per_child"));
      const double with = r.ns("BM_Asyncio_GatherWithChildren");
      if (with > 0) {
        bench::Printf(out,
                      "    %.1f ns per child with making the ready futures\n",
                      with);
      }
      PeerLine(r, out, "BM_Asyncio_Gather", "BM_Raw_Gather", "raw libevent's",
               "bytes_per_child", false);
      PeerLine(r, out, "BM_Asyncio_Gather", "BM_KJ_Gather",
               "KJ joinPromises'", "bytes_per_child", false);
    }
  };
  return bench::Main(argc, argv, floors, counter_floors, summary);
}
