// Tests for asyncio/repeat.h: repeat(f) and for_each(range, f).
#include "asyncio/repeat.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "asyncio/asyncio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

namespace {

using asyncio::CancelledError;
using asyncio::EventLoop;
using asyncio::Future;
using asyncio::Repeat;
using asyncio::RuntimeError;
using ::testing::ElementsAre;
using asyncio_test::CancelMessage;
using asyncio_test::IterationCounter;
using asyncio_test::VirtualClock;

// --- repeat: sequencing --------------------------------------------------------

TEST(RepeatTest, CallsStepAtOnceThenAfterEachContinue) {
  EventLoop loop(VirtualClock());
  int calls = 0;
  std::vector<double> times;
  int calls_at_return = -1;
  bool done_at_return = true;
  loop.run_until_complete([&] {
    Future<void> r = asyncio::repeat([&] {
      ++calls;
      return asyncio::sleep(1).then([&] {
        times.push_back(loop.time());
        return times.size() == 3 ? Repeat::STOP : Repeat::CONTINUE;
      });
    });
    calls_at_return = calls;
    done_at_return = r.done();
    return r;
  });
  EXPECT_EQ(calls_at_return, 1);  // the first call happens at once
  EXPECT_FALSE(done_at_return);
  EXPECT_EQ(calls, 3);
  EXPECT_THAT(times, ElementsAre(1.0, 2.0, 3.0));
}

TEST(RepeatTest, StopOnFirstCallCompletesAfterOneCall) {
  EventLoop loop;
  int calls = 0;
  loop.run_until_complete([&] {
    return asyncio::repeat([&] {
      ++calls;
      return Repeat::STOP;
    });
  });
  EXPECT_EQ(calls, 1);
}

TEST(RepeatTest, PlainRepeatYieldsOneIterationBetweenCalls) {
  EventLoop loop;
  IterationCounter counter(loop);
  std::vector<int> at;
  Future<void> r;
  loop.call_soon([&] {
    r = asyncio::repeat([&] {
      at.push_back(counter.iteration());
      return at.size() == 5 ? Repeat::STOP : Repeat::CONTINUE;
    });
    r.add_done_callback([&] {
      counter.Stop();
      loop.stop();
    });
  });
  loop.run_forever();
  EXPECT_THAT(at, ElementsAre(1, 2, 3, 4, 5));
  ASSERT_TRUE(r.valid());
  EXPECT_TRUE(r.done());
}

TEST(RepeatTest, FutureRepeatNextCallIsNeverInline) {
  EventLoop loop;
  IterationCounter counter(loop);
  std::vector<int> at;
  loop.run_until_complete([&] {
    return asyncio::repeat([&] {
      at.push_back(counter.iteration());
      return asyncio::make_ready_future(at.size() == 4 ? Repeat::STOP : Repeat::CONTINUE);
    });
  });
  counter.Stop();
  ASSERT_EQ(at.size(), 4u);
  for (std::size_t i = 1; i < at.size(); ++i) EXPECT_GT(at[i], at[i - 1]) << i;
}

TEST(RepeatTest, PlainRepeatAndFutureRepeatStepsBothWork) {
  EventLoop loop(VirtualClock());
  int plain = 0, future = 0;
  loop.run_until_complete([&] {
    return asyncio::repeat([&] { return ++plain == 10 ? Repeat::STOP : Repeat::CONTINUE; });
  });
  loop.run_until_complete([&] {
    return asyncio::repeat([&] {
      return asyncio::sleep(0.5, ++future == 10 ? Repeat::STOP : Repeat::CONTINUE);
    });
  });
  EXPECT_EQ(plain, 10);
  EXPECT_EQ(future, 10);
  EXPECT_EQ(loop.time(), 5.0);
}

// --- repeat: errors ---------------------------------------------------------------

TEST(RepeatTest, ExceptionThrownByStepEndsLoop) {
  EventLoop loop;
  int calls = 0;
  Future<void> r;
  try {
    loop.run_until_complete([&] {
      r = asyncio::repeat([&]() -> Repeat {
        if (++calls == 3) throw std::runtime_error("step 3 failed");
        return Repeat::CONTINUE;
      });
      return r;
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "step 3 failed");
  }
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(r.cancelled());
  loop.run_until_complete([] { return asyncio::sleep(0).then([] {}).then([] {}); });
  EXPECT_EQ(calls, 3);  // no further call
}

TEST(RepeatTest, FailedFutureFromStepEndsLoop) {
  EventLoop loop(VirtualClock());
  int calls = 0;
  EXPECT_THROW(loop.run_until_complete([&] {
                 return asyncio::repeat([&] {
                   ++calls;
                   return asyncio::sleep(1).then([&]() -> Repeat {
                     if (calls == 2) throw std::length_error("async failure");
                     return Repeat::CONTINUE;
                   });
                 });
               }),
               std::length_error);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(loop.time(), 2.0);
}

TEST(RepeatTest, ExceptionOnFirstCallFailsReturnedFuture) {
  EventLoop loop;
  EXPECT_THROW(loop.run_until_complete([] {
                 return asyncio::repeat([]() -> Repeat { throw std::logic_error("first"); });
               }),
               std::logic_error);
}

// --- repeat: cancellation ---------------------------------------------------------

TEST(RepeatTest, CancelBetweenStepsRunsNoFurtherStep) {
  EventLoop loop;
  int calls = 0;
  Future<void> r;
  loop.call_soon([&] {
    r = asyncio::repeat([&] {
      ++calls;
      return Repeat::CONTINUE;  // forever, one call per iteration
    });
    r.add_done_callback([&] { loop.stop(); });
  });
  loop.call_soon([&] {
    // Same iteration as the first call: the repeat waits for its next step.
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(r.done());
    EXPECT_TRUE(r.cancel("between"));
  });
  loop.run_forever();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(r.cancelled());
  EXPECT_EQ(CancelMessage(r), "between");
}

TEST(RepeatTest, CancelFromInsideStepEndsCancelledWithoutFurtherStep) {
  EventLoop loop;
  int calls = 0;
  Future<void> r;
  loop.call_soon([&] {
    r = asyncio::repeat([&] {
      if (++calls == 2) r.cancel("from inside");
      return Repeat::CONTINUE;
    });
    r.add_done_callback([&] { loop.stop(); });
  });
  loop.run_forever();
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(r.cancelled());
  EXPECT_EQ(CancelMessage(r), "from inside");
}

TEST(RepeatTest, CancelDuringStepCancelsAwaitedFuture) {
  EventLoop loop(VirtualClock());
  int calls = 0;
  bool step_finished = false;
  Future<void> r;
  loop.call_later(3, [&] { EXPECT_TRUE(r.cancel("during")); });
  EXPECT_THROW(loop.run_until_complete([&] {
                 r = asyncio::repeat([&] {
                   ++calls;
                   return asyncio::sleep(10).then([&] {
                     step_finished = true;
                     return Repeat::CONTINUE;
                   });
                 });
                 return r;
               }),
               CancelledError);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(step_finished);
  EXPECT_TRUE(r.cancelled());
  EXPECT_EQ(CancelMessage(r), "during");
  EXPECT_EQ(loop.time(), 3.0);
}

TEST(RepeatTest, StepThatCatchesCancellationCanStopNormally) {
  EventLoop loop(VirtualClock());
  Future<void> r;
  loop.call_later(3, [&] { r.cancel(); });
  loop.run_until_complete([&] {
    r = asyncio::repeat([] {
      return asyncio::sleep(10)
          .then([] { return Repeat::CONTINUE; })
          .catch_error<CancelledError>([](const CancelledError&) { return Repeat::STOP; });
    });
    return r;
  });
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.cancelled());
  EXPECT_EQ(loop.time(), 3.0);
}

TEST(RepeatTest, CancellingTaskRunningRepeatCancelsCurrentStep) {
  EventLoop loop(VirtualClock());
  int calls = 0;
  auto task = loop.create_task([&] {
    return asyncio::repeat([&] {
      ++calls;
      return asyncio::sleep(1, Repeat::CONTINUE);
    });
  });
  loop.call_later(2.5, [&] { task.cancel(); });
  EXPECT_THROW(loop.run_until_complete(task), CancelledError);
  EXPECT_EQ(calls, 3);  // at 0, 1 and 2
  EXPECT_EQ(loop.time(), 2.5);
}

// --- repeat: many iterations -------------------------------------------------------

TEST(RepeatTest, HundredThousandPlainIterationsKeepStackFlat) {
  EventLoop loop;
  constexpr int kIterations = 100000;
  int calls = 0;
  std::uintptr_t lowest = UINTPTR_MAX, highest = 0;
  loop.run_until_complete([&] {
    return asyncio::repeat([&] {
      if (++calls > 1) {  // the first call runs inside repeat() itself
        auto frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
        if (frame < lowest) lowest = frame;
        if (frame > highest) highest = frame;
      }
      return calls == kIterations ? Repeat::STOP : Repeat::CONTINUE;
    });
  });
  EXPECT_EQ(calls, kIterations);
  EXPECT_LE(highest - lowest, 4096u);
}

TEST(RepeatTest, HundredThousandFutureIterationsKeepStackFlat) {
  EventLoop loop;
  constexpr int kIterations = 100000;
  int calls = 0;
  std::uintptr_t lowest = UINTPTR_MAX, highest = 0;
  loop.run_until_complete([&] {
    return asyncio::repeat([&] {
      if (++calls > 1) {
        auto frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
        if (frame < lowest) lowest = frame;
        if (frame > highest) highest = frame;
      }
      return asyncio::make_ready_future(calls == kIterations ? Repeat::STOP : Repeat::CONTINUE);
    });
  });
  EXPECT_EQ(calls, kIterations);
  EXPECT_LE(highest - lowest, 4096u);
}

// --- repeat: ownership and misuse -------------------------------------------------

TEST(RepeatTest, StepCallableIsDestroyedWhenLoopEnds) {
  EventLoop loop;
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> weak = token;
  Future<void> r;
  loop.run_until_complete([&, token]() mutable {
    r = asyncio::repeat([t = std::move(token)] { return ++*t == 3 ? Repeat::STOP : Repeat::CONTINUE; });
    return r;
  });
  token.reset();
  ASSERT_TRUE(r.done());
  EXPECT_TRUE(weak.expired());  // r is still held, f is gone
}

TEST(RepeatTest, RepeatOutsideRunningLoopThrowsRuntimeError) {
  int calls = 0;
  EXPECT_THROW((void)asyncio::repeat([&] {
                 ++calls;
                 return Repeat::STOP;
               }),
               RuntimeError);
  EXPECT_EQ(calls, 0);
}

// --- for_each -------------------------------------------------------------------------

TEST(RepeatTest, ForEachWithVoidFunctionVisitsElementsInOrder) {
  EventLoop loop;
  std::vector<int> seen;
  loop.run_until_complete(
      [&] { return asyncio::for_each(std::vector<int>{3, 1, 2}, [&](int n) { seen.push_back(n); }); });
  EXPECT_THAT(seen, ElementsAre(3, 1, 2));
}

TEST(RepeatTest, ForEachWaitsForEachFutureBeforeNextElement) {
  EventLoop loop(VirtualClock());
  std::vector<std::pair<int, double>> started;
  loop.run_until_complete([&] {
    return asyncio::for_each(std::vector<int>{1, 2, 3}, [&](int n) {
      started.emplace_back(n, loop.time());
      return asyncio::sleep(n);
    });
  });
  EXPECT_THAT(started, ElementsAre(std::make_pair(1, 0.0), std::make_pair(2, 1.0),
                                   std::make_pair(3, 3.0)));
  EXPECT_EQ(loop.time(), 6.0);
}

TEST(RepeatTest, ForEachOverEmptyRangeCompletes) {
  EventLoop loop;
  int calls = 0;
  loop.run_until_complete(
      [&] { return asyncio::for_each(std::vector<int>{}, [&](int) { ++calls; }); });
  EXPECT_EQ(calls, 0);
}

TEST(RepeatTest, ForEachTakesRangeByValue) {
  EventLoop loop;
  std::vector<std::string> items{"a", "b", "c"};
  std::vector<std::string> seen;
  Future<void> f;
  loop.call_soon([&] {
    f = asyncio::for_each(items, [&](const std::string& s) {
      seen.push_back(s);
      return asyncio::sleep(0);
    });
    items.clear();  // the loop iterates over its own copy
    items.shrink_to_fit();
  });
  loop.run_until_complete([&] {
    return asyncio::sleep(0).then([&] { return f; });
  });
  EXPECT_THAT(seen, ElementsAre("a", "b", "c"));
}

TEST(RepeatTest, ForEachStopsAtFirstFailure) {
  EventLoop loop;
  std::vector<int> seen;
  EXPECT_THROW(loop.run_until_complete([&] {
                 return asyncio::for_each(std::vector<int>{1, 2, 3, 4}, [&](int n) {
                   seen.push_back(n);
                   if (n == 2) throw std::out_of_range("two");
                 });
               }),
               std::out_of_range);
  EXPECT_THAT(seen, ElementsAre(1, 2));

  std::vector<int> seen_async;
  EXPECT_THROW(loop.run_until_complete([&] {
                 return asyncio::for_each(std::vector<int>{1, 2, 3}, [&](int n) {
                   seen_async.push_back(n);
                   return asyncio::sleep(0).then([n] {
                     if (n == 1) throw std::out_of_range("one");
                   });
                 });
               }),
               std::out_of_range);
  EXPECT_THAT(seen_async, ElementsAre(1));
}

TEST(RepeatTest, CancellingForEachStopsIteration) {
  EventLoop loop(VirtualClock());
  std::vector<int> seen;
  Future<void> f;
  loop.call_later(2.5, [&] { f.cancel("enough"); });
  EXPECT_THROW(loop.run_until_complete([&] {
                 f = asyncio::for_each(std::vector<int>{1, 2, 3, 4}, [&](int n) {
                   seen.push_back(n);
                   return asyncio::sleep(1);
                 });
                 return f;
               }),
               CancelledError);
  EXPECT_THAT(seen, ElementsAre(1, 2, 3));
  EXPECT_EQ(CancelMessage(f), "enough");
  EXPECT_EQ(loop.time(), 2.5);
}

}  // namespace
