// combinators_benchmark: the combinators (gather, wait_for) over 100,000
// children or operations at once, each beside a hand-written raw-libevent
// equivalent and Cap'n Proto's KJ (Debian's libcapnp-dev 0.9.2) in the
// same run.
//
//   bazel run -c opt //test/benchmarks:combinators_benchmark -- --benchmark_min_time=0.5
//
// Every benchmark iteration is one child (one operation): the Time and CPU
// columns are ns per child. Each timed batch is one combinator over
// kChildren (100,000) children, or kChildren operations, run to completion.
// Ratios and the summary use CPU time (the thread's): the wait_for rows on
// the real clock sleep through their timeouts, and on this shared 2-core
// machine the wall clock also counts other processes' turns. The rows:
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
//   wait_for rows: 100,000 operations, each a child waited for with a
//   timeout of 2 s; one timer completes the even children at t = 1 s, the
//   odd ones never complete, so half the operations end with their value
//   and half time out (their child cancelled). Timed: all of a batch
//   (making the children, the operations and the resolving timer, running
//   until every operation has ended, destroying everything) except checking
//   the outcomes.
//   BM_Raw_WaitFor          libevent, real clock: per operation a
//                           completion event (made active by the resolving
//                           timer, as set_result would) and a timeout event
//                           (event_add with a 2 s timeval); whichever runs
//                           first frees both (cancelling the other).
//   BM_Raw_WaitForCommonTimeout
//                           the same with the timeval from
//                           event_base_init_common_timeout (one queue for
//                           all the timeouts in place of the timer heap).
//   BM_KJ_WaitFor           KJ on a kj::TimerImpl advanced by hand (a
//                           virtual clock): newPromiseAndFulfiller<int>()
//                           and timer.timeoutAfter(2 s, promise) per
//                           operation, each read through .then(value,
//                           error handler) and all joined with
//                           joinPromises (see the section).
//   BM_Asyncio_WaitFor      asyncio on the real clock, as libevent:
//                           asyncio::Promise<int> and
//                           asyncio::wait_for(promise.get_future(), 2.0)
//                           per operation, one call_later(1.0) setting the
//                           even results.
//   BM_Asyncio_WaitForVirtualClock
//                           the same on the virtual clock (no waiting, no
//                           polls; the timer work is the same).
//   The real-clock rows run a fixed 5 batches (each waits 2 s or more).
//
// Counters (per child or operation): allocs_per_op, every allocation
// (operator new, libevent's malloc) in the timed part; bytes_per_child or
// bytes_per_op and blocks_per_*, the live heap while the combinator is
// pending, measured once per run (untimed, heap::Window, divided by
// kChildren). gather: for asyncio after gather() returned and before the
// loop ran (the ready futures, the gather state with its 40-byte child
// slots, its position table), for libevent after the events were made
// active (the events, the contexts, the results vector), for KJ after
// joinPromises returned (the ready promise nodes, the join node, its
// branches and result parts; KJ allocates through the counted operator
// new); child_bytes_per_child, the part that the children alone hold.
// wait_for: everything live once the operations started (asyncio: after
// the iteration that started them; children, operations, timer heaps and
// the benchmark's own vectors); bare_bytes_per_op (KJ), the operations
// without the then() and join that read them. x_raw, x_raw_common, x_kj:
// CPU time / the peer row's; x_raw_bytes: bytes / the raw row's.
//
// Bytes are malloc_usable_size (glibc rounds up to 16k+8; see
// bench_util.h).
#include <event2/event.h>
#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "asyncio/asyncio.h"
#include "benchmark/benchmark.h"
#include "kj/array.h"
#include "kj/async.h"
#include "kj/time.h"
#include "kj/timer.h"
#include "test/benchmarks/bench_util.h"

namespace {

constexpr int kChildren = 100000;

// One loop iteration: stop() before run_forever() runs exactly one.
void RunOnce(asyncio::EventLoop& loop) {
  loop.stop();
  loop.run_forever();
}

// The live heap of kChildren pending children or operations: `total` of
// everything pending, `part` of a part of it (see the file comment).
struct PendingHeap {
  double part_bytes = 0;
  double total_bytes = 0;
  double total_blocks = 0;

  // Sets bytes_per_<unit>, blocks_per_<unit> and, unless `part` is null,
  // <part>_bytes_per_<unit>.
  void Report(benchmark::State& state, const std::string& unit,
              const char* part) const {
    state.counters["bytes_per_" + unit] = total_bytes / kChildren;
    state.counters["blocks_per_" + unit] = total_blocks / kChildren;
    if (part != nullptr) {
      state.counters[std::string(part) + "_bytes_per_" + unit] =
          part_bytes / kChildren;
    }
  }
};

// Runs timed batches of kChildren children (or operations) until the
// benchmark has enough: batch(state, untimed) runs one gather (or kChildren
// wait_for operations), pausing the timer with Untimed(state, untimed) for
// what is not timed, and returns whether its result was right.
// allocs_per_op counts only what is allocated while the timer runs.
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
  if (!right) state.SkipWithError("a batch ended with a wrong result");
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
  heap_use.Report(state, "child", nullptr);
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
        heap_use.part_bytes = static_cast<double>(
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
  heap_use.Report(state, "child", "child");
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

// --- wait_for: 100,000 live timeouts, half of them firing -------------------
//
// Each operation waits for a child with a timeout of kTimeout; the even
// children complete at kResolveAt (one timer resolves them all), the odd
// ones never, so half the operations end with their value and half time
// out (their child cancelled). A batch is kChildren operations started
// together and run until every one has ended; all of it is timed (making the
// children, the operations and the resolving timer, running, destroying)
// except checking the outcomes.

constexpr double kResolveAt = 1.0;  // s
constexpr double kTimeout = 2.0;    // s
constexpr int kTimedOut = -1;       // an operation's outcome when it timed out
// The real-clock rows wait kTimeout seconds a batch: 5 batches, not the
// dozens --benchmark_min_time would ask for.
constexpr int kRealClockBatches = 5;

// The outcome operation i must have: its value when i is even, else
// kTimedOut.
int ExpectedOutcome(int i) { return i % 2 == 0 ? i : kTimedOut; }

// --- wait_for: raw libevent --------------------------------------------------
//
// Per operation: a completion event (made, not added; the resolving timer
// makes it active, as set_result would) and a timeout event (added with a
// kTimeout timeout). Whichever callback runs first frees both events (which
// cancels the other) and records the outcome.

struct RawWaitFor;

struct RawWaitOp {
  RawWaitFor* w;
  event* done;
  event* timeout;
  int value;
  int outcome;
};

struct RawWaitFor {
  std::vector<RawWaitOp> ops;
  std::size_t remaining = 0;
  event* resolver = nullptr;
};

void RawWaitEnd(RawWaitOp* op, int outcome) {
  event_free(op->timeout);  // event_free deletes first: cancels the timeout
  event_free(op->done);
  op->outcome = outcome;
  --op->w->remaining;
}

void RawWaitDoneCb(evutil_socket_t, short, void* arg) {
  auto* op = static_cast<RawWaitOp*>(arg);
  RawWaitEnd(op, op->value);
}

void RawWaitTimeoutCb(evutil_socket_t, short, void* arg) {
  RawWaitEnd(static_cast<RawWaitOp*>(arg), kTimedOut);
}

void RawResolveCb(evutil_socket_t, short, void* arg) {
  auto* w = static_cast<RawWaitFor*>(arg);
  event_free(w->resolver);
  for (std::size_t i = 0; i < w->ops.size(); i += 2) {
    w->ops[i].value = static_cast<int>(i);
    event_active(w->ops[i].done, EV_TIMEOUT, 0);
  }
}

timeval ToTimeval(double seconds) {
  const auto whole = static_cast<long>(seconds);
  return timeval{whole, static_cast<long>((seconds - static_cast<double>(whole)) * 1e6)};
}

// Starts kChildren operations with timeout `tv` (a common timeout or not).
void StartRawWaitFor(event_base* base, RawWaitFor& w, const timeval* tv) {
  w.ops.reserve(kChildren);
  w.remaining = kChildren;
  w.resolver = event_new(base, -1, 0, &RawResolveCb, &w);
  const timeval resolve_at = ToTimeval(kResolveAt);
  event_add(w.resolver, &resolve_at);
  for (int i = 0; i < kChildren; ++i) {
    w.ops.push_back(RawWaitOp{&w, nullptr, nullptr, 0, 0});
    RawWaitOp& op = w.ops.back();
    op.done = event_new(base, -1, 0, &RawWaitDoneCb, &op);
    op.timeout = event_new(base, -1, 0, &RawWaitTimeoutCb, &op);
    event_add(op.timeout, tv);
  }
}

void RawWaitForRow(benchmark::State& state, bool common_timeout) {
  event_base* base = event_base_new();
  const timeval plain = ToTimeval(kTimeout);
  const timeval* tv =
      common_timeout ? event_base_init_common_timeout(base, &plain) : &plain;
  PendingHeap heap_use;
  {
    RawWaitFor w;
    {
      heap::Window window;
      StartRawWaitFor(base, w, tv);
      heap_use.total_bytes = static_cast<double>(window.bytes());
      heap_use.total_blocks = static_cast<double>(window.blocks());
    }
    event_free(w.resolver);
    for (RawWaitOp& op : w.ops) {
      event_free(op.timeout);
      event_free(op.done);
    }
  }
  RunBatches(state, [&](benchmark::State& st, std::uint64_t& untimed) {
    RawWaitFor w;
    StartRawWaitFor(base, w, tv);
    event_base_dispatch(base);  // returns once no event is left
    Untimed pause(st, untimed);
    bool right = w.remaining == 0;
    for (int i = 0; i < kChildren; ++i) {
      if (w.ops[i].outcome != ExpectedOutcome(i)) right = false;
    }
    return right;
  });
  heap_use.Report(state, "op", nullptr);
  event_base_free(base);
}

void BM_Raw_WaitFor(benchmark::State& state) { RawWaitForRow(state, false); }
BENCHMARK(BM_Raw_WaitFor)->Iterations(kRealClockBatches * kChildren);

void BM_Raw_WaitForCommonTimeout(benchmark::State& state) {
  RawWaitForRow(state, true);
}
BENCHMARK(BM_Raw_WaitForCommonTimeout)
    ->Iterations(kRealClockBatches * kChildren);

// --- wait_for: KJ --------------------------------------------------------------
//
// kj::TimerImpl advanced by hand (a virtual clock): per operation a
// kj::newPromiseAndFulfiller<int>() and timer.timeoutAfter(kTimeout,
// promise), which fails with an OVERLOADED kj::Exception on timeout and
// cancels (destroys) the promise. Reading an outcome the KJ way (wait()
// throws a timeout) would throw 50,000 exceptions, so each operation gets
// .then(value, error handler) returning its outcome, and the operations are
// joined with kj::joinPromises and wait(): the then() node, the join's
// branch and result slot are part of every KJ operation here.

struct KjWaitFor {
  kj::Array<kj::Own<kj::PromiseFulfiller<int>>> fulfillers;
  kj::Array<kj::Promise<int>> ops;  // timeoutAfter(kTimeout, child)
};

KjWaitFor StartKjWaitFor(kj::Timer& timer) {
  auto fulfillers = kj::heapArrayBuilder<kj::Own<kj::PromiseFulfiller<int>>>(kChildren);
  auto ops = kj::heapArrayBuilder<kj::Promise<int>>(kChildren);
  for (int i = 0; i < kChildren; ++i) {
    auto paf = kj::newPromiseAndFulfiller<int>();
    fulfillers.add(kj::mv(paf.fulfiller));
    ops.add(timer.timeoutAfter(static_cast<std::int64_t>(kTimeout) * kj::SECONDS,
                               kj::mv(paf.promise)));
  }
  return KjWaitFor{fulfillers.finish(), ops.finish()};
}

// Each operation's outcome, joined.
kj::Promise<kj::Array<int>> JoinKjOutcomes(kj::Array<kj::Promise<int>> ops) {
  auto outcomes = kj::heapArrayBuilder<kj::Promise<int>>(ops.size());
  for (auto& op : ops) {
    outcomes.add(op.then([](int v) { return v; },
                         [](kj::Exception&&) { return kTimedOut; }));
  }
  return kj::joinPromises(outcomes.finish());
}

// Resolves the even operations at kResolveAt, ends the others at kTimeout,
// returns the outcomes.
kj::Array<int> RunKjWaitFor(kj::TimerImpl& timer, kj::WaitScope& wait_scope,
                            KjWaitFor& w, kj::Promise<kj::Array<int>> joined) {
  const kj::TimePoint start = timer.now();
  const kj::TimePoint resolve_at =
      start + static_cast<std::int64_t>(kResolveAt) * kj::SECONDS;
  kj::Promise<void> resolve = timer.atTime(resolve_at)
                                  .then([&w] {
                                    for (std::size_t i = 0;
                                         i < w.fulfillers.size(); i += 2) {
                                      w.fulfillers[i]->fulfill(
                                          static_cast<int>(i));
                                    }
                                  })
                                  .eagerlyEvaluate(nullptr);
  timer.advanceTo(resolve_at);
  wait_scope.poll();  // the even operations end here
  timer.advanceTo(start + static_cast<std::int64_t>(kTimeout) * kj::SECONDS);
  return joined.wait(wait_scope);
}

void BM_KJ_WaitFor(benchmark::State& state) {
  kj::EventLoop loop;
  kj::WaitScope wait_scope(loop);
  kj::TimerImpl timer(kj::origin<kj::TimePoint>());
  PendingHeap heap_use;
  {
    std::optional<KjWaitFor> w;
    kj::Promise<kj::Array<int>> joined = nullptr;
    {
      heap::Window window;
      w.emplace(StartKjWaitFor(timer));
      // The operations alone: their arrays' storage left out.
      heap_use.part_bytes = static_cast<double>(
          window.bytes() -
          static_cast<std::int64_t>(malloc_usable_size(w->ops.begin())) -
          static_cast<std::int64_t>(malloc_usable_size(w->fulfillers.begin())));
      joined = JoinKjOutcomes(kj::mv(w->ops));
      heap_use.total_bytes = static_cast<double>(window.bytes());
      heap_use.total_blocks = static_cast<double>(window.blocks());
    }
    RunKjWaitFor(timer, wait_scope, *w, kj::mv(joined));
  }
  RunBatches(state, [&](benchmark::State& st, std::uint64_t& untimed) {
    KjWaitFor w = StartKjWaitFor(timer);
    kj::Array<int> outcomes =
        RunKjWaitFor(timer, wait_scope, w, JoinKjOutcomes(kj::mv(w.ops)));
    Untimed pause(st, untimed);
    bool right = outcomes.size() == static_cast<std::size_t>(kChildren);
    for (int i = 0; right && i < kChildren; ++i) {
      if (outcomes[i] != ExpectedOutcome(i)) right = false;
    }
    return right;
  });
  heap_use.Report(state, "op", "bare");
}
BENCHMARK(BM_KJ_WaitFor);

// --- wait_for: asyncio ---------------------------------------------------------
//
// Per operation: an asyncio::Promise<int> (the child) and
// asyncio::wait_for(promise.get_future(), kTimeout); one call_later at
// kResolveAt sets the even promises' results. The batch runs inside
// run_until_complete of a task that starts the operations and returns
// sleep(kTimeout + kSlack): on the virtual clock the sleep ends after every
// operation has (time only jumps when nothing is ready); on the real clock
// kSlack leaves half a second for the 50,000 timeouts to be handled
// (checked after the batch).

constexpr double kSlack = 0.5;  // s

struct AsyncioWaitFor {
  std::vector<asyncio::Promise<int>> children;
  std::vector<asyncio::Future<int>> ops;  // wait_for(child, kTimeout)
};

// On the running loop: the resolving timer, then kChildren operations.
void StartAsyncioWaitFor(asyncio::EventLoop& loop, AsyncioWaitFor& w) {
  w.children.reserve(kChildren);
  w.ops.reserve(kChildren);
  loop.call_later(kResolveAt, [&w] {
    for (std::size_t i = 0; i < w.children.size(); i += 2) {
      w.children[i].set_result(static_cast<int>(i));
    }
  });
  for (int i = 0; i < kChildren; ++i) {
    w.children.emplace_back(loop);
    w.ops.push_back(
        asyncio::wait_for(w.children.back().get_future(), kTimeout));
  }
}

// Every operation ended as it should: an even one with its value, an odd
// one with TimeoutError and its child cancelled.
bool AsyncioWaitForRight(const AsyncioWaitFor& w) {
  for (int i = 0; i < kChildren; ++i) {
    const asyncio::Future<int>& op = w.ops[i];
    if (!op.done()) return false;
    if (ExpectedOutcome(i) != kTimedOut) {
      if (op.exception() != nullptr || op.result() != i) return false;
      continue;
    }
    if (!w.children[i].cancelled()) return false;
    try {
      std::rethrow_exception(op.exception());
    } catch (const asyncio::TimeoutError&) {
    } catch (...) {
      return false;
    }
  }
  return true;
}

// The live heap of kChildren operations after the iteration that started
// them (on a virtual-clock loop; the structures do not depend on the clock).
PendingHeap AsyncioWaitForHeap() {
  asyncio::EventLoop loop(asyncio::EventLoop::Options{true});
  PendingHeap h;
  AsyncioWaitFor w;
  std::optional<heap::Window> window;
  loop.run_until_complete([&] {
    window.emplace();
    StartAsyncioWaitFor(loop, w);
    // Runs on the next iteration, after what the operations queued.
    loop.call_soon([&] {
      h.total_bytes = static_cast<double>(window->bytes());
      h.total_blocks = static_cast<double>(window->blocks());
      window.reset();
    });
    return asyncio::sleep(kTimeout + kSlack);
  });
  if (!AsyncioWaitForRight(w)) h.total_bytes = h.total_blocks = -1;
  return h;
}

void AsyncioWaitForRow(benchmark::State& state, bool virtual_clock) {
  asyncio::EventLoop loop(asyncio::EventLoop::Options{virtual_clock});
  const PendingHeap heap_use = AsyncioWaitForHeap();
  RunBatches(state, [&](benchmark::State& st, std::uint64_t& untimed) {
    AsyncioWaitFor w;
    loop.run_until_complete([&] {
      StartAsyncioWaitFor(loop, w);
      return asyncio::sleep(kTimeout + kSlack);
    });
    Untimed pause(st, untimed);
    return AsyncioWaitForRight(w);
  });
  heap_use.Report(state, "op", nullptr);
}

void BM_Asyncio_WaitFor(benchmark::State& state) {
  AsyncioWaitForRow(state, false);
}
BENCHMARK(BM_Asyncio_WaitFor)->Iterations(kRealClockBatches * kChildren);

void BM_Asyncio_WaitForVirtualClock(benchmark::State& state) {
  AsyncioWaitForRow(state, true);
}
BENCHMARK(BM_Asyncio_WaitForVirtualClock);

// The summary of one combinator (when its asyncio row ran): `headline`
// printed with the row's CPU time and its `bytes_counter`, `variant` with
// the variant row's CPU time, then one line per peer that ran:
// "    = 0.18x raw libevent's 320.0 ns CPU and 0.61x its 164.0 bytes".
struct Peer {
  const char* row;
  const char* label;
};

void CombinatorSummary(const bench::RatioReporter& r, std::ostream& out,
                       const char* row, const char* bytes_counter,
                       const char* headline, const char* variant_row,
                       const char* variant, std::initializer_list<Peer> peers) {
  const double mine = r.cpu_ns(row);
  if (mine <= 0) return;
  const double bytes = r.counter(row, bytes_counter);
  bench::Printf(out, headline, mine, bytes);
  if (r.cpu_ns(variant_row) > 0) {
    bench::Printf(out, variant, r.cpu_ns(variant_row));
  }
  for (const Peer& peer : peers) {
    const double theirs = r.cpu_ns(peer.row);
    if (theirs <= 0) continue;
    const double peer_bytes = r.counter(peer.row, bytes_counter);
    bench::Printf(out,
                  "    = %.2fx %s %.1f ns CPU and %.2fx its %.1f bytes\n",
                  mine / theirs, peer.label, theirs, bytes / peer_bytes,
                  peer_bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<bench::TimeFloor> floors;
  std::vector<bench::CounterFloor> counter_floors;
  for (const char* row :
       {"BM_Asyncio_Gather", "BM_Asyncio_GatherWithChildren", "BM_KJ_Gather",
        "BM_KJ_GatherWithChildren"}) {
    floors.push_back({row, "BM_Raw_Gather", "x_raw", true});
    counter_floors.push_back({row, "bytes_per_child", "BM_Raw_Gather",
                              "bytes_per_child", "x_raw_bytes"});
  }
  for (const char* row :
       {"BM_Raw_WaitForCommonTimeout", "BM_KJ_WaitFor", "BM_Asyncio_WaitFor",
        "BM_Asyncio_WaitForVirtualClock"}) {
    floors.push_back({row, "BM_Raw_WaitFor", "x_raw", true});
    counter_floors.push_back({row, "bytes_per_op", "BM_Raw_WaitFor",
                              "bytes_per_op", "x_raw_bytes"});
  }
  for (const char* row :
       {"BM_Asyncio_WaitFor", "BM_Asyncio_WaitForVirtualClock"}) {
    floors.push_back({row, "BM_Raw_WaitForCommonTimeout", "x_raw_common", true});
    floors.push_back({row, "BM_KJ_WaitFor", "x_kj", true});
  }
  auto summary = [](const bench::RatioReporter& r, std::ostream& out) {
    CombinatorSummary(
        r, out, "BM_Asyncio_Gather", "bytes_per_child",
        "  gather over 100,000 ready futures: %.1f ns CPU per child (target <= "
        "300 ns), %.1f bytes per child pending (target <= 200 B)\n",
        "BM_Asyncio_GatherWithChildren",
        "    %.1f ns CPU per child with making the ready futures\n",
        {{"BM_Raw_Gather", "raw libevent's"},
         {"BM_KJ_Gather", "KJ joinPromises'"}});
    CombinatorSummary(
        r, out, "BM_Asyncio_WaitFor", "bytes_per_op",
        "  wait_for, 100,000 live timeouts, half firing (real clock): %.1f ns "
        "CPU per operation (target <= 2000 ns), %.1f bytes per live "
        "operation (target <= 400 B)\n",
        "BM_Asyncio_WaitForVirtualClock",
        "    %.1f ns CPU per operation on the virtual clock\n",
        {{"BM_Raw_WaitFor", "raw libevent's"},
         {"BM_Raw_WaitForCommonTimeout", "raw libevent's (common timeout)"},
         {"BM_KJ_WaitFor", "KJ timeoutAfter's"}});
  };
  return bench::Main(argc, argv, floors, counter_floors, summary);
}
