// core_benchmark: the costs the project sets performance targets for, each beside its
// raw-libevent floor, and a sequential chain of dependent steps beside the
// same chain in Cap'n Proto's KJ (libcapnp-dev).
//
//   bazel run -c opt //test/benchmarks:core_benchmark -- --benchmark_min_time=0.5
//
// Every benchmark iteration is one operation, so the Time column is ns per
// operation. The rows:
//
//   BM_Raw_CallbackStep      libevent: one event re-armed with event_active
//                            from its own callback (libevent runs it again in
//                            the same pass: no poll per step).
//   BM_Raw_TimerStep         libevent: one event re-added with a zero timeout
//                            from its own callback (one loop iteration, hence
//                            one epoll_wait, per step).
//   BM_Raw_Spawn             libevent: event_new + event_active, the callback
//                            runs and event_free()s itself; batches of 1024.
//   BM_Asyncio_ThenBatch     then() on a resolved future, 1024 queued per
//                            loop iteration: one scheduled continuation step.
//   BM_Asyncio_ThenChain     then() on a resolved future from inside the
//                            previous continuation: one loop iteration (with
//                            its libevent poll) per step.
//   BM_Asyncio_CallSoonBatch call_soon(), 1024 per loop iteration.
//   BM_Asyncio_CallSoonChain call_soon() from the previous callback.
//   BM_Asyncio_TaskBatch     create_task(callable returning an int), run to
//                            completion, 1024 per loop iteration.
//   BM_Asyncio_TaskReadyFutureBatch
//                            the same, the callable returning a ready
//                            Future<int> (the task waits on it: 2 iterations).
//   BM_KJ_EvalLaterChain     KJ: kj::Promise<long> step(i, n) returning
//                            kj::evalLater([=] { return step(i + 1, n); }),
//                            waited on a kj::EventLoop with wait(waitScope).
//                            One step = one evalLater callback.
//   BM_KJ_ThenChain          KJ: the same with kj::Promise<long>(i).then(...)
//                            in place of evalLater. One step = one then()
//                            callback.
//   BM_Asyncio_SequentialNested
//                            the recursive shape users write:
//                            Future<long> step(i, n) returning
//                            make_ready_future(i).then(
//                                [n](long v) { return step(v + 1, n); }),
//                            run with run_until_complete. Each level's stage
//                            waits on the next level's future until the
//                            innermost is ready. One step = one continuation
//                            (two allocations: the ready future and the
//                            stage) and the final value's pass back up
//                            through that stage.
//   BM_Asyncio_SequentialRepeat
//                            the same steps flat with repeat(): the body
//                            returns make_ready_future(i).then(c), and c, the
//                            one continuation, advances i and returns
//                            CONTINUE or STOP. One step = one body call and
//                            its continuation (repeat() resumes when the
//                            continuation's future is done).
//                            The four chain rows run kChainChunk (100,000)
//                            steps per wait, every chunk timed; the nested
//                            chain's memory grows with its length.
//   BM_Memory_RawEvent/N     heap per pending libevent timer event.
//   BM_Memory_PendingTask/N  heap per pending task with one pending stage:
//                            create_task(callable returning sleep(1000)),
//                            started (body ran, the task waits on the sleep).
//   BM_Memory_PendingTaskThen/N
//                            the same with sleep(1000).then(f): a task, a
//                            then() stage and a sleep, all pending.
//
// Counters: allocs_per_op (every operator new and libevent malloc during the
// timed loop, per operation; KJ allocates through the same operator new);
// x_<floor> (this row's time divided by its raw-libevent floor's, added by
// the reporter when the floor ran first; with --benchmark_repetitions
// the medians carry it): x_raw_step for BM_Raw_CallbackStep, x_raw_timer_step
// for BM_Raw_TimerStep, x_raw_spawn for BM_Raw_Spawn, and x_kj for KJ's
// evalLater chain beside the other chain rows; bytes_per_* and
// allocs_per_* for the memory rows, measured with the counting operator new
// and libevent allocator (bench_util.h) as the change in live heap
// (malloc_usable_size of every block allocated minus every block freed)
// while N items are created and left pending, divided by N, and x_raw_event
// (a pending task's bytes / a pending libevent timer event's). glibc rounds a
// block's usable size up to 16k+8 bytes (a 128-byte request has 136 usable);
// under AddressSanitizer the usable size is the requested size, so a
// --config=asan build of this binary shows the requested bytes.
//
// Single-threaded: the allocation counters are plain globals.
#include <event2/event.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <new>
#include <ostream>
#include <vector>

#include "asyncio/asyncio.h"
#include "benchmark/benchmark.h"
#include "kj/async.h"
#include "test/benchmarks/bench_util.h"

namespace {

constexpr int kBatch = 1024;

using bench::AllocCounter;

// A resolved Future<void>. (asyncio::make_ready_future(EventLoop&) is
// declared in future.h but has no definition in lib/, so it does not link.)
asyncio::Future<void> ReadyVoid(asyncio::EventLoop& loop) {
  asyncio::Promise<void> p(loop);
  p.set_result();
  return p.get_future();
}

// One loop iteration: stop() before run_forever() runs exactly one.
void RunOnce(asyncio::EventLoop& loop) {
  loop.stop();
  loop.run_forever();
}

// --- (d) raw libevent floors -------------------------------------------------

struct RawStep {
  benchmark::State* state;
  event* ev;
};

void RawCallbackStepCb(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<RawStep*>(arg);
  if (c->state->KeepRunning()) event_active(c->ev, EV_TIMEOUT, 0);
}

void BM_Raw_CallbackStep(benchmark::State& state) {
  event_base* base = event_base_new();
  RawStep c{&state, nullptr};
  c.ev = event_new(base, -1, 0, &RawCallbackStepCb, &c);
  event_active(c.ev, EV_TIMEOUT, 0);
  {
    AllocCounter allocs(state);
    event_base_dispatch(base);  // returns when the event stops re-arming
  }
  state.SetItemsProcessed(state.iterations());
  event_free(c.ev);
  event_base_free(base);
}
BENCHMARK(BM_Raw_CallbackStep);

void RawTimerStepCb(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<RawStep*>(arg);
  if (c->state->KeepRunning()) {
    timeval zero{0, 0};
    event_add(c->ev, &zero);
  }
}

void BM_Raw_TimerStep(benchmark::State& state) {
  event_base* base = event_base_new();
  RawStep c{&state, nullptr};
  c.ev = event_new(base, -1, 0, &RawTimerStepCb, &c);
  timeval zero{0, 0};
  event_add(c.ev, &zero);
  {
    AllocCounter allocs(state);
    event_base_dispatch(base);
  }
  state.SetItemsProcessed(state.iterations());
  event_free(c.ev);
  event_base_free(base);
}
BENCHMARK(BM_Raw_TimerStep);

std::int64_t raw_spawned_ran = 0;

void RawSpawnCb(evutil_socket_t, short, void* arg) {
  ++raw_spawned_ran;
  event_free(static_cast<event*>(arg));
}

void BM_Raw_Spawn(benchmark::State& state) {
  event_base* base = event_base_new();
  raw_spawned_ran = 0;
  int queued = 0;
  {
    AllocCounter allocs(state);
    for (auto _ : state) {
      event* ev = event_new(base, -1, 0, &RawSpawnCb, event_self_cbarg());
      event_active(ev, EV_TIMEOUT, 0);
      if (++queued == kBatch) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        queued = 0;
      }
    }
    event_base_loop(base, EVLOOP_NONBLOCK);
  }
  if (raw_spawned_ran != state.iterations())
    state.SkipWithError("not every spawned event ran");
  state.SetItemsProcessed(state.iterations());
  event_base_free(base);
}
BENCHMARK(BM_Raw_Spawn);

// --- (a) a scheduled continuation step ---------------------------------------

void BM_Asyncio_ThenBatch(benchmark::State& state) {
  asyncio::EventLoop loop;
  asyncio::Future<void> ready = ReadyVoid(loop);
  std::int64_t ran = 0;
  int queued = 0;
  {
    AllocCounter allocs(state);
    for (auto _ : state) {
      (void)ready.then([&ran] { ++ran; });
      if (++queued == kBatch) {
        RunOnce(loop);
        queued = 0;
      }
    }
    RunOnce(loop);
  }
  if (ran != state.iterations()) state.SkipWithError("not every step ran");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Asyncio_ThenBatch);

struct Chain {
  benchmark::State* state;
  asyncio::EventLoop* loop;
  asyncio::Future<void> ready;
};

// Each step schedules the next: then() on a resolved future, which runs on
// the next loop iteration.
void ThenChainStep(Chain* c) {
  if (c->state->KeepRunning()) {
    (void)c->ready.then([c] { ThenChainStep(c); });
  } else {
    c->loop->stop();
  }
}

void BM_Asyncio_ThenChain(benchmark::State& state) {
  asyncio::EventLoop loop;
  Chain c{&state, &loop, ReadyVoid(loop)};
  (void)c.ready.then([&c] { ThenChainStep(&c); });
  {
    AllocCounter allocs(state);
    loop.run_forever();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Asyncio_ThenChain);

// --- (b) call_soon -----------------------------------------------------------

void BM_Asyncio_CallSoonBatch(benchmark::State& state) {
  asyncio::EventLoop loop;
  std::int64_t ran = 0;
  int queued = 0;
  {
    AllocCounter allocs(state);
    for (auto _ : state) {
      loop.call_soon([&ran] { ++ran; });
      if (++queued == kBatch) {
        RunOnce(loop);
        queued = 0;
      }
    }
    RunOnce(loop);
  }
  if (ran != state.iterations()) state.SkipWithError("not every callback ran");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Asyncio_CallSoonBatch);

void CallSoonChainStep(Chain* c) {
  if (c->state->KeepRunning()) {
    c->loop->call_soon([c] { CallSoonChainStep(c); });
  } else {
    c->loop->stop();
  }
}

void BM_Asyncio_CallSoonChain(benchmark::State& state) {
  asyncio::EventLoop loop;
  Chain c{&state, &loop, asyncio::Future<void>()};
  loop.call_soon([&c] { CallSoonChainStep(&c); });
  {
    AllocCounter allocs(state);
    loop.run_forever();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Asyncio_CallSoonChain);

// --- (c) create and complete a task -----------------------------------------

void BM_Asyncio_TaskBatch(benchmark::State& state) {
  asyncio::EventLoop loop;
  std::int64_t ran = 0;
  int queued = 0;
  {
    AllocCounter allocs(state);
    for (auto _ : state) {
      (void)loop.create_task([&ran] { return static_cast<int>(++ran); });
      if (++queued == kBatch) {
        RunOnce(loop);
        queued = 0;
      }
    }
    RunOnce(loop);
  }
  if (ran != state.iterations() || !asyncio::all_tasks(loop).empty())
    state.SkipWithError("not every task completed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Asyncio_TaskBatch);

void BM_Asyncio_TaskReadyFutureBatch(benchmark::State& state) {
  asyncio::EventLoop loop;
  int queued = 0;
  {
    AllocCounter allocs(state);
    for (auto _ : state) {
      (void)loop.create_task(
          [&loop] { return asyncio::make_ready_future(loop, 1); });
      if (++queued == kBatch) {
        RunOnce(loop);  // the bodies run; each task waits on its future
        RunOnce(loop);  // the tasks take the values
        queued = 0;
      }
    }
    RunOnce(loop);
    RunOnce(loop);
  }
  if (!asyncio::all_tasks(loop).empty())
    state.SkipWithError("not every task completed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Asyncio_TaskReadyFutureBatch);

// --- (f) a sequential chain of dependent steps, beside Cap'n Proto KJ --------
//
// Each step starts only when the previous one has finished. The chains run
// in chunks of kChainChunk steps, one wait (run_until_complete, or KJ's
// wait()) per chunk, all of it timed: a nested chain holds one pending stage
// per level until its innermost step completes, so its memory grows with its
// length. The KJ rows come first so that the asyncio rows find their x_kj
// floor.

constexpr std::int64_t kChainChunk = 100000;

// Runs state.max_iterations dependent steps as chains of at most
// kChainChunk steps: run_chain(n) runs a chain of n steps to completion and
// returns its value, which must be n.
template <class RunChain>
void RunChains(benchmark::State& state, RunChain run_chain) {
  std::int64_t steps = 0;
  bool right = true;
  {
    AllocCounter allocs(state);
    for (;;) {
      const std::int64_t n = std::max<std::int64_t>(
          1, std::min<std::int64_t>(kChainChunk, state.max_iterations - steps));
      if (!state.KeepRunningBatch(n)) break;  // after the last chunk
      if (run_chain(static_cast<long>(n)) != n) right = false;
      steps += n;
    }
  }
  if (!right) state.SkipWithError("a chain ended with the wrong value");
  state.SetItemsProcessed(state.iterations());
}

// KJ: each step yields to the event loop (evalLater), whose callback
// returns the next step's promise. One step = one evalLater callback.
kj::Promise<long> KjEvalLaterStep(long i, long n) {
  if (i == n) return i;
  return kj::evalLater([i, n] { return KjEvalLaterStep(i + 1, n); });
}

void BM_KJ_EvalLaterChain(benchmark::State& state) {
  kj::EventLoop loop;
  kj::WaitScope wait_scope(loop);
  RunChains(state,
            [&](long n) { return KjEvalLaterStep(0, n).wait(wait_scope); });
}
BENCHMARK(BM_KJ_EvalLaterChain);

// KJ: the same with then() on an immediate promise (KJ arms the
// continuation depth-first, without a trip through the yield queue). One
// step = one then() callback.
kj::Promise<long> KjThenStep(long i, long n) {
  if (i == n) return i;
  return kj::Promise<long>(i).then(
      [n](long v) { return KjThenStep(v + 1, n); });
}

void BM_KJ_ThenChain(benchmark::State& state) {
  kj::EventLoop loop;
  kj::WaitScope wait_scope(loop);
  RunChains(state, [&](long n) { return KjThenStep(0, n).wait(wait_scope); });
}
BENCHMARK(BM_KJ_ThenChain);

// asyncio: the recursive shape users write. Each level's then() stage waits
// on the future the next level returns; when the innermost is ready the
// completions travel back up. One step = one then() continuation (with its
// two allocations, the ready future and the stage) plus passing the final
// value up through its stage.
asyncio::Future<long> NestedStep(long i, long n) {
  if (i == n) return asyncio::make_ready_future(i);
  return asyncio::make_ready_future(i).then(
      [n](long v) { return NestedStep(v + 1, n); });
}

void BM_Asyncio_SequentialNested(benchmark::State& state) {
  asyncio::EventLoop loop;
  RunChains(state, [&loop](long n) {
    return loop.run_until_complete([n] { return NestedStep(0, n); });
  });
}
BENCHMARK(BM_Asyncio_SequentialNested);

// asyncio: the same steps written flat with repeat(). One step = one call of
// the repeat body, which returns make_ready_future(i).then(c), and c, the
// one continuation, which advances i and says CONTINUE or STOP; repeat()
// then calls the body again once that future is done.
void BM_Asyncio_SequentialRepeat(benchmark::State& state) {
  asyncio::EventLoop loop;
  RunChains(state, [&loop](long n) {
    long i = 0;
    loop.run_until_complete([&i, n] {
      return asyncio::repeat([&i, n] {
        return asyncio::make_ready_future(i).then([&i, n](long v) {
          i = v + 1;
          return i == n ? asyncio::Repeat::STOP : asyncio::Repeat::CONTINUE;
        });
      });
    });
    return i;
  });
}
BENCHMARK(BM_Asyncio_SequentialRepeat);

// --- (e) heap per pending item -----------------------------------------------

void NoopCb(evutil_socket_t, short, void*) {}

void BM_Memory_RawEvent(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  double bytes = 0;
  double blocks = 0;
  for (auto _ : state) {
    event_base* base = event_base_new();
    std::vector<event*> events;
    events.reserve(n);
    {
      heap::Window window;
      for (std::size_t i = 0; i < n; ++i) {
        event* ev = event_new(base, -1, 0, &NoopCb, nullptr);
        timeval later{1000, 0};
        event_add(ev, &later);  // pending in libevent's timer heap
        events.push_back(ev);
      }
      bytes = static_cast<double>(window.bytes());
      blocks = static_cast<double>(window.blocks());
    }
    for (event* ev : events) event_free(ev);
    event_base_free(base);
  }
  state.counters["bytes_per_event"] = bytes / static_cast<double>(n);
  state.counters["allocs_per_event"] = blocks / static_cast<double>(n);
}
BENCHMARK(BM_Memory_RawEvent)->Arg(1)->Arg(1000)->Iterations(3);

// Heap per pending task: creates state.range(0) tasks running `body`, lets
// every body run once, and counts what stays allocated while they wait.
template <class Body>
void MeasurePendingTasks(benchmark::State& state, Body body) {
  const auto n = static_cast<std::size_t>(state.range(0));
  double bytes = 0;
  double blocks = 0;
  std::size_t pending = 0;
  for (auto _ : state) {
    asyncio::EventLoop loop;
    // Warm up: the loop's first iteration arms its libevent timer (libevent
    // allocates its own timer heap then).
    loop.call_soon([] {});
    RunOnce(loop);
    {
      heap::Window window;
      for (std::size_t i = 0; i < n; ++i) (void)loop.create_task(body);
      RunOnce(loop);  // every body runs; every task now waits
      bytes = static_cast<double>(window.bytes());
      blocks = static_cast<double>(window.blocks());
    }
    pending = asyncio::all_tasks(loop).size();
  }  // closing the loop cancels the tasks
  if (pending != n) state.SkipWithError("the tasks are not all pending");
  state.counters["bytes_per_task"] = bytes / static_cast<double>(n);
  state.counters["allocs_per_task"] = blocks / static_cast<double>(n);
}

void BM_Memory_PendingTask(benchmark::State& state) {
  MeasurePendingTasks(state, [] { return asyncio::sleep(1000); });
}
BENCHMARK(BM_Memory_PendingTask)->Arg(1)->Arg(1000)->Iterations(3);

// For comparison: the body awaits the sleep and then continues (the shape
// of the samples' a(), b(), c()), so a then() stage is pending as well.
void BM_Memory_PendingTaskThen(benchmark::State& state) {
  MeasurePendingTasks(state,
                      [] { return asyncio::sleep(1000).then([] {}); });
}
BENCHMARK(BM_Memory_PendingTaskThen)->Arg(1000)->Iterations(3);

// --- (g) Queue: integers from a producer task to a consumer task ------------
//
// One benchmark iteration is one integer carried from a producer to a
// consumer through a queue of capacity kQueueCapacity (128), in chunks of
// kQueueChunk (1,000,000) integers per run (run_until_complete, KJ's
// wait(), event_base_dispatch), every chunk timed. The rows:
//
//   BM_Raw_QueuePipe       libevent: a ring buffer of 128 longs and two
//                          events. Each callback moves one item and
//                          re-activates its own event (event_active) while
//                          it can go on; a producer that finds the ring
//                          full (a consumer that finds it empty) stops, and
//                          the other side's next move activates it again.
//                          One item = one callback on each side.
//   BM_KJ_QueuePipe        KJ: the same queue over kj::Promise: put() is
//                          kj::READY_NOW when there is room (or a getter
//                          waits: it is fulfilled), else a promise from
//                          kj::newPromiseAndFulfiller that get() fulfils;
//                          get() likewise. Producer and consumer are
//                          recursive then() chains (the consumer's
//                          eagerlyEvaluate()d).
//   BM_Asyncio_QueuePipe   asyncio::Queue<long>(128) between a producer
//                          task, repeat() of put(i).then(c), and a consumer
//                          task, repeat() of get().then(c'). Target:
//                          <= 150 ns per item. x_raw_queue and x_kj_queue
//                          are the ratios to the two rows above.
//   BM_Asyncio_QueuePipeNested
//                          the same as two recursive chains (gather of
//                          produce(0) and consume(0)): step i returns
//                          put(i).then([] { return produce(i + 1); }), and
//                          get().then(...) likewise.
//   BM_Memory_QueueGetter/N, BM_Memory_QueuePutter/N
//                          heap per waiting get() (on an empty queue) and
//                          per waiting put() of a long (on a full queue):
//                          N futures kept pending; bytes_per_waiter.

constexpr std::size_t kQueueCapacity = 128;
constexpr std::int64_t kQueueChunk = 1000000;

// Runs state.max_iterations items in chunks of at most kQueueChunk:
// run_chunk(n) carries n integers 0..n-1 and returns their sum.
template <class RunChunk>
void RunQueueChunks(benchmark::State& state, RunChunk run_chunk) {
  std::int64_t items = 0;
  bool right = true;
  {
    AllocCounter allocs(state);
    for (;;) {
      const std::int64_t n = std::max<std::int64_t>(
          1, std::min<std::int64_t>(kQueueChunk, state.max_iterations - items));
      if (!state.KeepRunningBatch(n)) break;
      if (run_chunk(static_cast<long>(n)) != static_cast<long>(n * (n - 1) / 2))
        right = false;
      items += n;
    }
  }
  if (!right) state.SkipWithError("the consumer's sum is wrong");
  state.SetItemsProcessed(state.iterations());
}

struct RawPipe {
  long ring[kQueueCapacity];
  std::size_t head = 0;
  std::size_t count = 0;
  long n = 0;     // integers in this chunk
  long next = 0;  // the producer's next integer
  long received = 0;
  long sum = 0;
  bool producer_stopped = false;
  bool consumer_stopped = false;
  event* producer = nullptr;
  event* consumer = nullptr;
};

void RawProducerCb(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<RawPipe*>(arg);
  if (p->count == kQueueCapacity) {
    p->producer_stopped = true;  // the consumer's next take wakes it
    return;
  }
  p->ring[(p->head + p->count) % kQueueCapacity] = p->next++;
  ++p->count;
  if (p->consumer_stopped) {
    p->consumer_stopped = false;
    event_active(p->consumer, EV_TIMEOUT, 0);
  }
  if (p->next < p->n) event_active(p->producer, EV_TIMEOUT, 0);
}

void RawConsumerCb(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<RawPipe*>(arg);
  if (p->count == 0) {
    p->consumer_stopped = true;  // the producer's next put wakes it
    return;
  }
  p->sum += p->ring[p->head];
  p->head = (p->head + 1) % kQueueCapacity;
  --p->count;
  ++p->received;
  if (p->producer_stopped) {
    p->producer_stopped = false;
    event_active(p->producer, EV_TIMEOUT, 0);
  }
  if (p->received < p->n) event_active(p->consumer, EV_TIMEOUT, 0);
}

void BM_Raw_QueuePipe(benchmark::State& state) {
  event_base* base = event_base_new();
  RawPipe p;
  p.producer = event_new(base, -1, 0, &RawProducerCb, &p);
  p.consumer = event_new(base, -1, 0, &RawConsumerCb, &p);
  RunQueueChunks(state, [&](long n) {
    p.n = n;
    p.next = p.received = p.sum = 0;
    p.head = p.count = 0;
    p.producer_stopped = p.consumer_stopped = false;
    event_active(p.producer, EV_TIMEOUT, 0);
    event_active(p.consumer, EV_TIMEOUT, 0);
    event_base_dispatch(base);  // returns when neither event is active
    return p.received == n ? p.sum : -1;
  });
  event_free(p.producer);
  event_free(p.consumer);
  event_base_free(base);
}
BENCHMARK(BM_Raw_QueuePipe);

// A bounded queue of longs over kj::Promise, with at most one waiting
// putter and one waiting getter (one producer, one consumer).
class KjQueue {
 public:
  kj::Promise<void> put(long v) {
    KJ_IF_MAYBE(getter, getter_) {
      kj::Own<kj::PromiseFulfiller<long>> g = kj::mv(*getter);
      getter_ = nullptr;
      g->fulfill(kj::mv(v));
      return kj::READY_NOW;
    }
    if (items_.size() < kQueueCapacity) {
      items_.push_back(v);
      return kj::READY_NOW;
    }
    auto paf = kj::newPromiseAndFulfiller<void>();
    putter_ = kj::mv(paf.fulfiller);
    putter_item_ = v;
    return kj::mv(paf.promise);
  }
  kj::Promise<long> get() {
    if (!items_.empty()) {
      long v = items_.front();
      items_.pop_front();
      KJ_IF_MAYBE(putter, putter_) {
        kj::Own<kj::PromiseFulfiller<void>> p = kj::mv(*putter);
        putter_ = nullptr;
        items_.push_back(putter_item_);
        p->fulfill();
      }
      return v;
    }
    auto paf = kj::newPromiseAndFulfiller<long>();
    getter_ = kj::mv(paf.fulfiller);
    return kj::mv(paf.promise);
  }

 private:
  std::deque<long> items_;
  kj::Maybe<kj::Own<kj::PromiseFulfiller<long>>> getter_;
  kj::Maybe<kj::Own<kj::PromiseFulfiller<void>>> putter_;
  long putter_item_ = 0;
};

kj::Promise<void> KjProduce(KjQueue& q, long i, long n) {
  if (i == n) return kj::READY_NOW;
  return q.put(i).then([&q, i, n] { return KjProduce(q, i + 1, n); });
}

kj::Promise<void> KjConsume(KjQueue& q, long i, long n, long* sum) {
  if (i == n) return kj::READY_NOW;
  return q.get().then([&q, i, n, sum](long v) {
    *sum += v;
    return KjConsume(q, i + 1, n, sum);
  });
}

void BM_KJ_QueuePipe(benchmark::State& state) {
  kj::EventLoop loop;
  kj::WaitScope wait_scope(loop);
  RunQueueChunks(state, [&](long n) {
    KjQueue q;
    long sum = 0;
    kj::Promise<void> consumer = KjConsume(q, 0, n, &sum).eagerlyEvaluate(nullptr);
    KjProduce(q, 0, n).wait(wait_scope);
    consumer.wait(wait_scope);
    return sum;
  });
}
BENCHMARK(BM_KJ_QueuePipe);

void BM_Asyncio_QueuePipe(benchmark::State& state) {
  asyncio::EventLoop loop;
  RunQueueChunks(state, [&loop](long n) {
    asyncio::Queue<long> q(kQueueCapacity);
    long next = 0;
    long received = 0;
    long sum = 0;
    loop.run_until_complete([&] {
      asyncio::Task<void> producer = asyncio::create_task([&] {
        return asyncio::repeat([&] {
          return q.put(next).then([&] {
            return ++next == n ? asyncio::Repeat::STOP
                               : asyncio::Repeat::CONTINUE;
          });
        });
      });
      asyncio::Task<void> consumer = asyncio::create_task([&] {
        return asyncio::repeat([&] {
          return q.get().then([&](long v) {
            sum += v;
            return ++received == n ? asyncio::Repeat::STOP
                                   : asyncio::Repeat::CONTINUE;
          });
        });
      });
      return asyncio::gather(producer, consumer);
    });
    return received == n ? sum : -1;
  });
}
BENCHMARK(BM_Asyncio_QueuePipe);

// The same as recursive chains: each step's continuation returns the next
// step's future (a tail call: constant memory, see BM_Asyncio_Sequential*).
asyncio::Future<void> QueueProduce(const asyncio::Queue<long>* q, long i, long n) {
  if (i == n) return asyncio::make_ready_future();
  return q->put(i).then([q, i, n] { return QueueProduce(q, i + 1, n); });
}

asyncio::Future<void> QueueConsume(const asyncio::Queue<long>* q, long i, long n,
                                   long* sum) {
  if (i == n) return asyncio::make_ready_future();
  return q->get().then([q, i, n, sum](long v) {
    *sum += v;
    return QueueConsume(q, i + 1, n, sum);
  });
}

void BM_Asyncio_QueuePipeNested(benchmark::State& state) {
  asyncio::EventLoop loop;
  RunQueueChunks(state, [&loop](long n) {
    asyncio::Queue<long> q(kQueueCapacity);
    long sum = 0;
    loop.run_until_complete([&] {
      return asyncio::gather([&] { return QueueProduce(&q, 0, n); },
                             [&] { return QueueConsume(&q, 0, n, &sum); });
    });
    return sum;
  });
}
BENCHMARK(BM_Asyncio_QueuePipeNested);

// Heap per waiting operation: `start(q)` is called state.range(0) times
// inside a loop callback (a running loop binds the queue) and its futures
// are kept pending.
template <class Start>
void MeasureQueueWaiters(benchmark::State& state, long prefill, Start start) {
  const auto n = static_cast<std::size_t>(state.range(0));
  double bytes = 0;
  double blocks = 0;
  bool pending = true;
  for (auto _ : state) {
    asyncio::EventLoop loop;
    asyncio::Queue<long> q(prefill > 0 ? static_cast<std::size_t>(prefill) : 0);
    for (long i = 0; i < prefill; ++i) q.put_nowait(i);
    std::vector<decltype(start(q))> waiters;
    waiters.reserve(n);
    loop.call_soon([&] {
      (void)q.join();  // binds the queue to the loop
      heap::Window window;
      for (std::size_t i = 0; i < n; ++i) waiters.push_back(start(q));
      bytes = static_cast<double>(window.bytes());
      blocks = static_cast<double>(window.blocks());
    });
    RunOnce(loop);
    for (const auto& w : waiters) pending = pending && !w.done();
  }  // the futures die, then the queue (it unlinks them), then the loop
  if (!pending) state.SkipWithError("the waiters are not all pending");
  state.counters["bytes_per_waiter"] = bytes / static_cast<double>(n);
  state.counters["allocs_per_waiter"] = blocks / static_cast<double>(n);
}

void BM_Memory_QueueGetter(benchmark::State& state) {
  MeasureQueueWaiters(state, 0, [](const asyncio::Queue<long>& q) { return q.get(); });
}
BENCHMARK(BM_Memory_QueueGetter)->Arg(1000)->Iterations(3);

void BM_Memory_QueuePutter(benchmark::State& state) {
  MeasureQueueWaiters(state, 1, [](const asyncio::Queue<long>& q) { return q.put(7); });
}
BENCHMARK(BM_Memory_QueuePutter)->Arg(1000)->Iterations(3);

// --- (h) a contended Lock: 100 tasks, 200,000 acquisitions -------------------
//
// kLockTasks (100) tasks contend for one lock; each loops kLockRounds
// (2,000) times: acquire, release, acquire again, so a round is
// kLockAcquisitions (200,000) acquisitions. All but the first hundred or so
// wait: release() hands the lock to the first waiter, whose task resumes
// next. One benchmark iteration is one acquisition, so Time is ns per
// hand-off. The rows, all in this block (it keeps its own ratios, so it
// needs nothing from the reporter):
//
//   BM_Raw_LockHandoff       libevent: each task is an event; the lock is a
//                            FIFO of waiting tasks (an intrusive list);
//                            acquire() of a free lock activates the task's
//                            event, else queues it; release() activates the
//                            first waiter's event (event_active: it runs in
//                            the same libevent pass). Nothing allocated per
//                            acquisition.
//   BM_KJ_LockHandoff        KJ: the lock is a FIFO of
//                            kj::PromiseFulfiller<void>; acquire() returns
//                            kj::READY_NOW or the promise of a new
//                            kj::newPromiseAndFulfiller, release() fulfills
//                            the first. A task is kj::Promise<void>
//                            loop(n) = acquire().then(release; loop(n - 1)),
//                            the hundred joined with kj::joinPromises.
//   BM_Asyncio_LockHandoff   asyncio::Lock; a task is
//                            repeat(lock.acquire().then(release; CONTINUE or
//                            STOP)): a waiting acquire() makes its waiter
//                            (one allocation) and then() its stage (one).
//   BM_Memory_LockWaiter/N           heap per pending acquire() of an
//                                    asyncio::Lock (its waiter).
//   BM_Memory_KJLockWaiter/N         heap per pending acquire() of the KJ
//                                    lock above (promise, fulfiller, queue
//                                    slot).
//   BM_Memory_RawLockWaiter/N        heap per raw-libevent task of the
//                                    first row (its event and FIFO node),
//                                    which it allocates once, not per wait.
//
// Counters: allocs_per_op; waited_per_acquisition (the share of
// acquisitions that waited for a hand-off); x_raw_lock and x_kj_lock (this
// row's ns per acquisition over the latest raw / KJ row's in this process,
// measured by the rows themselves with std::chrono::steady_clock around the
// same timed loop); bytes_per_waiter and allocs_per_waiter for the memory
// rows (live heap while N waiters are pending, divided by N).

constexpr int kLockTasks = 100;
constexpr int kLockRounds = 2000;
constexpr std::int64_t kLockAcquisitions =
    static_cast<std::int64_t>(kLockTasks) * kLockRounds;

// ns per acquisition of the latest raw and KJ rows (0: not run).
double lock_raw_ns = 0;
double lock_kj_ns = 0;

// Which row runs (the floors carry no ratio to themselves).
enum class LockRow { kRaw, kKj, kAsyncio };

// Runs rounds of kLockAcquisitions acquisitions (run_round() runs one to
// completion and returns how many of them waited) until the benchmark has
// enough iterations; sets the counters; returns ns per acquisition.
template <class RunRound>
double RunLockRounds(benchmark::State& state, LockRow row, RunRound run_round) {
  std::int64_t waited = 0;
  const auto start = std::chrono::steady_clock::now();
  {
    AllocCounter allocs(state);
    while (state.KeepRunningBatch(kLockAcquisitions)) waited += run_round();
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
          .count() /
      static_cast<double>(state.iterations());
  state.counters["waited_per_acquisition"] =
      static_cast<double>(waited) / static_cast<double>(state.iterations());
  if (row != LockRow::kRaw && lock_raw_ns > 0) {
    state.counters["x_raw_lock"] = ns / lock_raw_ns;
  }
  if (row == LockRow::kAsyncio && lock_kj_ns > 0) {
    state.counters["x_kj_lock"] = ns / lock_kj_ns;
  }
  state.SetItemsProcessed(state.iterations());
  return ns;
}

// The raw-libevent lock: a flag and an intrusive FIFO of waiting tasks.
struct RawLockTask;

struct RawLock {
  bool locked = false;
  RawLockTask* head = nullptr;
  RawLockTask* tail = nullptr;
  std::int64_t waited = 0;

  void acquire(RawLockTask* t);
  void release();
};

struct RawLockTask {
  event* ev = nullptr;
  RawLockTask* next = nullptr;
  RawLock* lock = nullptr;
  int left = 0;  // acquisitions still to make
};

void RawLock::acquire(RawLockTask* t) {
  if (!locked) {
    locked = true;
    event_active(t->ev, EV_TIMEOUT, 0);  // resumes later, as a done future
    return;
  }
  ++waited;
  t->next = nullptr;
  if (tail != nullptr) {
    tail->next = t;
  } else {
    head = t;
  }
  tail = t;
}

void RawLock::release() {
  RawLockTask* t = head;
  if (t == nullptr) {
    locked = false;
    return;
  }
  head = t->next;
  if (head == nullptr) tail = nullptr;
  event_active(t->ev, EV_TIMEOUT, 0);  // the lock stays locked: handed over
}

// A task's step: it holds the lock.
void RawLockTaskCb(evutil_socket_t, short, void* arg) {
  auto* t = static_cast<RawLockTask*>(arg);
  t->lock->release();
  if (--t->left > 0) t->lock->acquire(t);
}

void BM_Raw_LockHandoff(benchmark::State& state) {
  event_base* base = event_base_new();
  RawLock lock;
  std::vector<RawLockTask> tasks(kLockTasks);
  for (RawLockTask& t : tasks) {
    t.ev = event_new(base, -1, 0, &RawLockTaskCb, &t);
    t.lock = &lock;
  }
  bool right = true;
  lock_raw_ns = RunLockRounds(state, LockRow::kRaw, [&] {
    lock.waited = 0;
    for (RawLockTask& t : tasks) {
      t.left = kLockRounds;
      lock.acquire(&t);
    }
    event_base_dispatch(base);  // returns when no event is active
    if (lock.locked) right = false;
    return lock.waited;
  });
  if (!right) state.SkipWithError("the lock was left locked");
  for (RawLockTask& t : tasks) event_free(t.ev);
  event_base_free(base);
}
BENCHMARK(BM_Raw_LockHandoff);

// The KJ lock: a flag and a FIFO (a ring of kLockTasks slots: each task
// waits at most once at a time) of fulfillers.
class KjLock {
 public:
  KjLock() : ring_(kLockTasks) {}

  kj::Promise<void> acquire() {
    if (!locked_) {
      locked_ = true;
      return kj::READY_NOW;
    }
    ++waited_;
    auto paf = kj::newPromiseAndFulfiller<void>();
    ring_[(head_ + count_++) % ring_.size()] = kj::mv(paf.fulfiller);
    return kj::mv(paf.promise);
  }
  void release() {
    if (count_ == 0) {
      locked_ = false;
      return;
    }
    kj::Own<kj::PromiseFulfiller<void>> first = kj::mv(ring_[head_]);
    head_ = (head_ + 1) % ring_.size();
    --count_;
    first->fulfill();  // the lock stays locked: handed over
  }
  std::int64_t take_waited() { return std::exchange(waited_, 0); }
  bool locked() const { return locked_; }

 private:
  std::vector<kj::Own<kj::PromiseFulfiller<void>>> ring_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool locked_ = false;
  std::int64_t waited_ = 0;
};

kj::Promise<void> KjLockLoop(KjLock& lock, int left) {
  return lock.acquire().then([&lock, left]() -> kj::Promise<void> {
    lock.release();
    if (left == 1) return kj::READY_NOW;
    return KjLockLoop(lock, left - 1);
  });
}

void BM_KJ_LockHandoff(benchmark::State& state) {
  kj::EventLoop loop;
  kj::WaitScope wait_scope(loop);
  KjLock lock;
  lock_kj_ns = RunLockRounds(state, LockRow::kKj, [&] {
    auto loops = kj::heapArrayBuilder<kj::Promise<void>>(kLockTasks);
    for (int i = 0; i < kLockTasks; ++i) loops.add(KjLockLoop(lock, kLockRounds));
    kj::joinPromises(loops.finish()).wait(wait_scope);
    return lock.take_waited();
  });
  if (lock.locked()) state.SkipWithError("the lock was left locked");
}
BENCHMARK(BM_KJ_LockHandoff);

void BM_Asyncio_LockHandoff(benchmark::State& state) {
  asyncio::EventLoop loop;
  bool right = true;
  RunLockRounds(state, LockRow::kAsyncio, [&] {
    std::int64_t waited = 0;
    asyncio::Lock lock;
    loop.run_until_complete([&] {
      std::vector<asyncio::Task<void>> tasks;
      tasks.reserve(kLockTasks);
      for (int i = 0; i < kLockTasks; ++i) {
        tasks.push_back(asyncio::create_task([lock, &waited] {
          return asyncio::repeat([lock, &waited, left = kLockRounds]() mutable {
            asyncio::Future<void> acquired = lock.acquire();
            if (!acquired.done()) ++waited;
            return acquired.then([lock, &left] {
              lock.release();
              return --left == 0 ? asyncio::Repeat::STOP : asyncio::Repeat::CONTINUE;
            });
          });
        }));
      }
      return asyncio::gather(tasks).then([](const std::vector<std::monostate>&) {});
    });
    if (lock.locked()) right = false;
    return waited;
  });
  if (!right) state.SkipWithError("the lock was left locked");
}
BENCHMARK(BM_Asyncio_LockHandoff);

// Heap per waiter: the lock is held, N acquire()s wait; N from state.range(0).
void SetWaiterCounters(benchmark::State& state, double bytes, double blocks) {
  const auto n = static_cast<double>(state.range(0));
  state.counters["bytes_per_waiter"] = bytes / n;
  state.counters["allocs_per_waiter"] = blocks / n;
}

void BM_Memory_LockWaiter(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  double bytes = 0;
  double blocks = 0;
  for (auto _ : state) {
    asyncio::EventLoop loop;
    loop.run_until_complete([&] {
      asyncio::Lock lock;
      (void)lock.acquire();  // held; also makes the lock's shared done future
      std::vector<asyncio::Future<void>> waiting;
      waiting.reserve(n);
      {
        heap::Window window;
        for (std::size_t i = 0; i < n; ++i) waiting.push_back(lock.acquire());
        bytes = static_cast<double>(window.bytes());
        blocks = static_cast<double>(window.blocks());
      }
      for (std::size_t i = 0; i <= n; ++i) lock.release();  // hands to each in turn
    });
  }
  SetWaiterCounters(state, bytes, blocks);
}
BENCHMARK(BM_Memory_LockWaiter)->Arg(1000)->Iterations(3);

void BM_Memory_KJLockWaiter(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  if (n > static_cast<std::size_t>(kLockTasks)) {
    state.SkipWithError("the KJ lock's ring holds kLockTasks waiters");
    return;
  }
  double bytes = 0;
  double blocks = 0;
  for (auto _ : state) {
    kj::EventLoop loop;
    kj::WaitScope wait_scope(loop);
    KjLock lock;
    (void)lock.acquire();
    auto waiting = kj::heapArrayBuilder<kj::Promise<void>>(n);
    {
      heap::Window window;
      for (std::size_t i = 0; i < n; ++i) waiting.add(lock.acquire());
      bytes = static_cast<double>(window.bytes());
      blocks = static_cast<double>(window.blocks());
    }
    for (std::size_t i = 0; i <= n; ++i) lock.release();
    kj::joinPromises(waiting.finish()).wait(wait_scope);
  }
  SetWaiterCounters(state, bytes, blocks);
}
BENCHMARK(BM_Memory_KJLockWaiter)->Arg(100)->Iterations(3);

void BM_Memory_RawLockWaiter(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  double bytes = 0;
  double blocks = 0;
  for (auto _ : state) {
    event_base* base = event_base_new();
    RawLock lock;
    lock.locked = true;
    std::vector<RawLockTask*> tasks;
    tasks.reserve(n);
    {
      heap::Window window;
      for (std::size_t i = 0; i < n; ++i) {
        auto* t = new RawLockTask;
        t->ev = event_new(base, -1, 0, &RawLockTaskCb, t);
        t->lock = &lock;
        lock.acquire(t);
        tasks.push_back(t);
      }
      bytes = static_cast<double>(window.bytes());
      blocks = static_cast<double>(window.blocks());
    }
    for (RawLockTask* t : tasks) {
      event_free(t->ev);
      delete t;
    }
    event_base_free(base);
  }
  SetWaiterCounters(state, bytes, blocks);
}
BENCHMARK(BM_Memory_RawLockWaiter)->Arg(1000)->Iterations(3);

}  // namespace

// Ratios to the raw-libevent floors (a row may have several), x_raw_event
// on the pending-task rows; the summary prints the performance targets and
// the sequential-step ratios (for reading, not asserted).
int main(int argc, char** argv) {
  const std::vector<bench::TimeFloor> floors = {
      {"BM_Asyncio_ThenBatch", "BM_Raw_CallbackStep", "x_raw_step"},
      {"BM_Asyncio_ThenChain", "BM_Raw_TimerStep", "x_raw_timer_step"},
      {"BM_Asyncio_CallSoonBatch", "BM_Raw_Spawn", "x_raw_spawn"},
      {"BM_Asyncio_CallSoonChain", "BM_Raw_TimerStep", "x_raw_timer_step"},
      {"BM_Asyncio_TaskBatch", "BM_Raw_Spawn", "x_raw_spawn"},
      {"BM_Asyncio_TaskReadyFutureBatch", "BM_Raw_Spawn", "x_raw_spawn"},
      {"BM_KJ_EvalLaterChain", "BM_Raw_CallbackStep", "x_raw_step"},
      {"BM_KJ_ThenChain", "BM_Raw_CallbackStep", "x_raw_step"},
      {"BM_KJ_ThenChain", "BM_KJ_EvalLaterChain", "x_kj"},
      {"BM_Asyncio_SequentialNested", "BM_Raw_CallbackStep", "x_raw_step"},
      {"BM_Asyncio_SequentialNested", "BM_KJ_EvalLaterChain", "x_kj"},
      {"BM_Asyncio_SequentialRepeat", "BM_Raw_CallbackStep", "x_raw_step"},
      {"BM_Asyncio_SequentialRepeat", "BM_KJ_EvalLaterChain", "x_kj"},
      {"BM_KJ_QueuePipe", "BM_Raw_QueuePipe", "x_raw_queue"},
      {"BM_Asyncio_QueuePipe", "BM_Raw_QueuePipe", "x_raw_queue"},
      {"BM_Asyncio_QueuePipe", "BM_KJ_QueuePipe", "x_kj_queue"},
      {"BM_Asyncio_QueuePipeNested", "BM_Raw_QueuePipe", "x_raw_queue"},
      {"BM_Asyncio_QueuePipeNested", "BM_KJ_QueuePipe", "x_kj_queue"},
  };
  const std::vector<bench::CounterFloor> counter_floors = {
      {"BM_Memory_PendingTask", "bytes_per_task", "BM_Memory_RawEvent",
       "bytes_per_event", "x_raw_event"},
  };
  auto summary = [](const bench::RatioReporter& r, std::ostream& out) {
    const double step = r.ns("BM_Asyncio_ThenBatch");
    const double raw = r.ns("BM_Raw_CallbackStep");
    if (step > 0 && raw > 0) {
      bench::Printf(out,
                    "  continuation step (batched) %.1f ns = %.2fx the raw "
                    "libevent callback step %.1f ns (target <= 4x)\n",
                    step, step / raw, raw);
    }
    const double chain = r.ns("BM_Asyncio_ThenChain");
    const double timer = r.ns("BM_Raw_TimerStep");
    if (chain > 0 && timer > 0) {
      bench::Printf(out,
                    "  continuation step (one loop iteration each) %.1f ns = "
                    "%.2fx the raw libevent zero-timeout step %.1f ns\n",
                    chain, chain / timer, timer);
    }
    const double task = r.ns("BM_Asyncio_TaskBatch");
    if (task > 0) {
      bench::Printf(out,
                    "  spawn + complete a task %.1f ns (target <= 1000 ns)\n",
                    task);
    }
    const double kj = r.ns("BM_KJ_EvalLaterChain");
    for (const char* name :
         {"BM_Asyncio_SequentialNested", "BM_Asyncio_SequentialRepeat"}) {
      const double seq = r.ns(name);
      if (seq > 0 && raw > 0 && kj > 0) {
        bench::Printf(out,
                      "  sequential step (%s) %.1f ns = %.2fx the raw "
                      "libevent callback step, %.2fx KJ's evalLater step "
                      "%.1f ns\n",
                      name + 3, seq, seq / raw, seq / kj, kj);
      }
    }
    for (const auto& [args, bytes] :
         r.counters("BM_Memory_PendingTask", "bytes_per_task")) {
      bench::Printf(out,
                    "  pending task with one pending stage (N=%s) %.1f bytes "
                    "(target <= 256)\n",
                    args.c_str(), bytes);
    }
  };
  return bench::Main(argc, argv, floors, counter_floors, summary);
}
