// Tests for asyncio/sleep.h: exact virtual times, sleep(0) yielding once,
// sleep(delay, result), chrono delays, negative delays and cancellation
// removing the timer.
#include "asyncio/sleep.h"

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/asyncio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

namespace {

using asyncio::CancelledError;
using asyncio::EventLoop;
using asyncio::Future;
using asyncio::Outcome;
using asyncio::RuntimeError;
using asyncio::Task;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;
using asyncio_test::IterationCounter;
using asyncio_test::PassRecorder;
using asyncio_test::VirtualClock;

// --- Virtual times --------------------------------------------------------

TEST(SleepTest, CompletesAtExactVirtualTime) {
  EventLoop loop(VirtualClock());
  bool pending_at_start = false;
  double at = loop.run_until_complete([&] {
    Future<void> s = asyncio::sleep(1.5);
    pending_at_start = !s.done();
    return s.then([&] { return loop.time(); });
  });
  EXPECT_TRUE(pending_at_start);
  EXPECT_EQ(at, 1.5);
  EXPECT_EQ(loop.time(), 1.5);
}

TEST(SleepTest, ConsecutiveSleepsAddUpExactly) {
  EventLoop loop(VirtualClock());
  std::vector<double> times;
  loop.run_until_complete([&] {
    return asyncio::sleep(1)
        .then([&] {
          times.push_back(loop.time());
          return asyncio::sleep(2);
        })
        .then([&] {
          times.push_back(loop.time());
          return asyncio::sleep(0.25);
        })
        .then([&] { times.push_back(loop.time()); });
  });
  EXPECT_THAT(times, ElementsAre(1.0, 3.0, 3.25));
}

TEST(SleepTest, ConcurrentSleepsCompleteInDueOrder) {
  EventLoop loop(VirtualClock());
  std::vector<std::pair<int, double>> done;
  auto sleeper = [&](int id, double delay) {
    return [&done, &loop, id, delay] {
      return asyncio::sleep(delay).then([&done, &loop, id] { done.emplace_back(id, loop.time()); });
    };
  };
  Task<void> a = loop.create_task(sleeper(1, 3));
  Task<void> b = loop.create_task(sleeper(2, 1));
  Task<void> c = loop.create_task(sleeper(3, 2));
  loop.run_until_complete(a);
  EXPECT_THAT(done, ElementsAre(std::make_pair(2, 1.0), std::make_pair(3, 2.0),
                                std::make_pair(1, 3.0)));
}

TEST(SleepTest, LongSleepIsExactAndTakesNoRealTime) {
  EventLoop loop(VirtualClock());
  double at = loop.run_until_complete(
      [&] { return asyncio::sleep(30 * 24 * 3600.0).then([&] { return loop.time(); }); });
  EXPECT_EQ(at, 2592000.0);
}

TEST(SleepTest, RealClockSleepNeverCompletesEarly) {
  EventLoop loop;
  const double start = loop.time();
  double end = loop.run_until_complete(
      [&] { return asyncio::sleep(0.002).then([&] { return loop.time(); }); });
  EXPECT_GE(end - start, 0.002);
}

// --- sleep(0) ----------------------------------------------------------------

TEST(SleepTest, SleepZeroIsDoneAndItsContinuationRunsNextIteration) {
  EventLoop loop;
  IterationCounter counter(loop);
  std::vector<std::pair<std::string, int>> log;
  Future<void> after;
  loop.call_soon([&] {
    log.emplace_back("start", counter.iteration());
    loop.call_soon([&] { log.emplace_back("soon before", counter.iteration()); });
    Future<void> y = asyncio::sleep(0);
    EXPECT_TRUE(y.done());
    after = y.then([&] { log.emplace_back("after sleep(0)", counter.iteration()); });
    loop.call_soon([&] {
      log.emplace_back("soon after", counter.iteration());
      loop.call_soon([&] {
        log.emplace_back("next", counter.iteration());
        counter.Stop();
        loop.stop();
      });
    });
    EXPECT_FALSE(after.done());
  });
  loop.run_forever();
  using P = std::pair<std::string, int>;
  EXPECT_THAT(log, ElementsAre(P("start", 1), P("soon before", 2), P("after sleep(0)", 2),
                               P("soon after", 2), P("next", 3)));
}

TEST(SleepTest, SleepZeroLetsOtherTasksRunBetweenSteps) {
  // Two tasks that yield with sleep(0) alternate, as in asyncio.
  EventLoop loop;
  std::vector<std::string> log;
  auto worker = [&](std::string name) {
    return [&log, name] {
      log.push_back(name + "0");
      return asyncio::sleep(0).then([&log, name] { log.push_back(name + "1"); });
    };
  };
  Task<void> a = loop.create_task(worker("a"));
  Task<void> b = loop.create_task(worker("b"));
  loop.run_until_complete(b);
  EXPECT_THAT(log, ElementsAre("a0", "b0", "a1", "b1"));
}

TEST(SleepTest, SleepZeroDoesNotAdvanceVirtualClock) {
  EventLoop loop(VirtualClock());
  loop.call_later(5, [] {});  // a timer the clock could jump to
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_EQ(loop.time(), 0.0);
}

// --- sleep(delay, result) and chrono delays ---------------------------------------

TEST(SleepTest, SleepWithResultCompletesWithIt) {
  EventLoop loop(VirtualClock());
  EXPECT_EQ(loop.run_until_complete([] { return asyncio::sleep(2, 42); }), 42);
  EXPECT_EQ(loop.time(), 2.0);
  std::string s = loop.run_until_complete([] { return asyncio::sleep(0.5, std::string("text")); });
  EXPECT_EQ(s, "text");
  EXPECT_EQ(loop.time(), 2.5);
}

TEST(SleepTest, SleepWithStringLiteralResultIsStdString) {
  EventLoop loop(VirtualClock());
  std::string s = loop.run_until_complete([] {
    auto f = asyncio::sleep(1, "literal");
    static_assert(std::is_same_v<decltype(f), Future<std::string>>);
    return f;
  });
  EXPECT_EQ(s, "literal");
}

TEST(SleepTest, SleepWithMoveOnlyResult) {
  EventLoop loop(VirtualClock());
  std::unique_ptr<int> p =
      loop.run_until_complete([] { return asyncio::sleep(1, std::make_unique<int>(9)); });
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 9);
}

TEST(SleepTest, SleepZeroWithResultIsDoneWithIt) {
  EventLoop loop;
  int v = loop.run_until_complete([] {
    Future<int> f = asyncio::sleep(0, 5);
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), 5);
    return f;
  });
  EXPECT_EQ(v, 5);
}

TEST(SleepTest, ChronoDurations) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] { return asyncio::sleep(std::chrono::seconds(3)); });
  EXPECT_EQ(loop.time(), 3.0);
  std::string s = loop.run_until_complete(
      [] { return asyncio::sleep(std::chrono::milliseconds(250), std::string("x")); });
  EXPECT_EQ(s, "x");
  EXPECT_EQ(loop.time(), 3.25);
  loop.run_until_complete([] { return asyncio::sleep(std::chrono::microseconds(500)); });
  EXPECT_EQ(loop.time(), 3.2505);
}

// --- Negative delays --------------------------------------------------------------

TEST(SleepTest, NegativeDelayIsDoneAtOnceLikeSleepZero) {
  EventLoop loop(VirtualClock());
  loop.call_later(5, [] {});
  std::vector<std::string> log;
  int v = loop.run_until_complete([&] {
    Future<void> a = asyncio::sleep(-1);
    Future<int> b = asyncio::sleep(-2.5, 7);
    Future<void> c = asyncio::sleep(std::chrono::seconds(-3));
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(b.done());
    EXPECT_TRUE(c.done());
    return b;
  });
  EXPECT_EQ(v, 7);
  EXPECT_EQ(loop.time(), 0.0);
}

// --- Cancellation -------------------------------------------------------------------

TEST(SleepTest, CancelCompletesSleepCancelledWithMessage) {
  EventLoop loop(VirtualClock());
  std::string message;
  bool was_cancelled = false;
  loop.run_until_complete([&] {
    Future<void> s = asyncio::sleep(100);
    EXPECT_FALSE(s.done());
    EXPECT_TRUE(s.cancel("enough"));
    EXPECT_TRUE(s.cancelled());  // at once
    EXPECT_FALSE(s.cancel());    // already done
    return s.then_outcome([&](Outcome<void> o) {
      was_cancelled = o.cancelled();
      try {
        o.value();
      } catch (const CancelledError& e) {
        message = e.message();
      }
    });
  });
  EXPECT_TRUE(was_cancelled);
  EXPECT_EQ(message, "enough");
  EXPECT_EQ(loop.time(), 0.0);
}

TEST(SleepTest, CancellingSleepRemovesItsTimer) {
  // If the timer stayed, the virtual clock would stop at 10 on its way to 20.
  EventLoop loop(VirtualClock());
  PassRecorder passes(loop);
  loop.run_until_complete([] {
    Future<void> dead = asyncio::sleep(10);
    dead.cancel();
    return asyncio::sleep(20);
  });
  EXPECT_EQ(loop.time(), 20.0);
  EXPECT_THAT(passes.times(), Not(Contains(10.0)));
}

TEST(SleepTest, CancellingContinuationOfSleepRemovesTheSleepsTimer) {
  EventLoop loop(VirtualClock());
  PassRecorder passes(loop);
  bool ran = false;
  loop.run_until_complete([&] {
    Future<int> chain = asyncio::sleep(10).then([&] {
      ran = true;
      return 1;
    });
    EXPECT_TRUE(chain.cancel());
    return asyncio::sleep(20);
  });
  EXPECT_FALSE(ran);
  EXPECT_THAT(passes.times(), Not(Contains(10.0)));
}

TEST(SleepTest, CancelledSleepDoesNotKeepLoopFromFinishingEarlier) {
  // A task that cancels a long sleep and returns: the loop finishes without
  // the virtual clock ever reaching the sleep's time.
  EventLoop loop(VirtualClock());
  PassRecorder passes(loop);
  loop.run_until_complete([] {
    Future<void> s = asyncio::sleep(3600);
    s.cancel();
    return s.then_outcome([](Outcome<void>) { return asyncio::sleep(1); });
  });
  EXPECT_EQ(loop.time(), 1.0);
  EXPECT_THAT(passes.times(), Not(Contains(3600.0)));
}

TEST(SleepTest, CancelFromTimerWhileSleeping) {
  EventLoop loop(VirtualClock());
  Future<void> s;
  double cancelled_at = -1;
  loop.call_later(4, [&] {
    EXPECT_FALSE(s.done());
    EXPECT_TRUE(s.cancel());
    cancelled_at = loop.time();
  });
  EXPECT_THROW(loop.run_until_complete([&] {
                 s = asyncio::sleep(10);
                 return s;
               }),
               CancelledError);
  EXPECT_EQ(cancelled_at, 4.0);
  EXPECT_EQ(loop.time(), 4.0);
}

TEST(SleepTest, CancelAfterSleepCompletedReturnsFalse) {
  EventLoop loop(VirtualClock());
  Future<void> s;
  loop.run_until_complete([&] {
    s = asyncio::sleep(1);
    return s;
  });
  EXPECT_TRUE(s.done());
  EXPECT_FALSE(s.cancel());
  EXPECT_FALSE(s.cancelled());
}

TEST(SleepTest, ClosingLoopCancelsPendingSleep) {
  EventLoop loop(VirtualClock());
  Future<void> s;
  loop.call_soon([&] {
    s = asyncio::sleep(10);
    loop.stop();
  });
  loop.run_forever();
  EXPECT_FALSE(s.done());
  loop.close();
  EXPECT_TRUE(s.cancelled());
}

// --- Misuse ----------------------------------------------------------------------------

TEST(SleepTest, SleepOutsideRunningLoopThrowsRuntimeError) {
  EXPECT_THROW((void)asyncio::sleep(1), RuntimeError);
  EXPECT_THROW((void)asyncio::sleep(0), RuntimeError);
  EXPECT_THROW((void)asyncio::sleep(1, 2), RuntimeError);
}

}  // namespace
