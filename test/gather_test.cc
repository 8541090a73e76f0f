// Tests for asyncio/gather.h: results in argument order, callables started
// in argument order, the first exception, cancelled children, cancelling the
// gather, return_exceptions, empty and duplicate arguments, bad arguments.
//
// Timing is tested on the virtual clock.
#include "asyncio/gather.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "asyncio/asyncio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

namespace {

using asyncio::CancelledError;
using asyncio::EventLoop;
using asyncio::ExceptionContext;
using asyncio::Future;
using asyncio::Outcome;
using asyncio::Promise;
using asyncio::Task;
using asyncio::ValueError;
using ::testing::ElementsAre;
using asyncio_test::CancelMessage;
using asyncio_test::CancelMessageOf;
using asyncio_test::VirtualClock;

// A "coroutine": prints when it starts and ends, sleeps, returns `value`.
auto Worker(std::vector<std::string>* log, std::string name, double delay) {
  return [log, name, delay] {
    log->push_back(name + " started");
    return asyncio::sleep(delay).then([log, name] {
      log->push_back(name + " finished");
      return name;
    });
  };
}

TEST(GatherTest, SeedProgramRunsConcurrentlyAndKeepsArgumentOrder) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  auto result = loop.run_until_complete([&] {
    return asyncio::gather(Worker(&log, "a", 2), Worker(&log, "b", 1),
                           Worker(&log, "c", 3));
  });
  EXPECT_EQ(result, std::make_tuple(std::string("a"), std::string("b"),
                                    std::string("c")));
  EXPECT_THAT(log, ElementsAre("a started", "b started", "c started",
                               "b finished", "a finished", "c finished"));
  EXPECT_EQ(loop.time(), 3.0);  // concurrently: 3 s, not 6 s
}

TEST(GatherTest, HeterogeneousTupleWithVoidPlaceholder) {
  EventLoop loop(VirtualClock());
  auto result = loop.run_until_complete([] {
    return asyncio::gather([] { return asyncio::sleep(1, 7); },
                           [] { return asyncio::sleep(2); },
                           [] { return std::string("s"); });
  });
  static_assert(std::is_same_v<decltype(result),
                               std::tuple<int, std::monostate, std::string>>);
  EXPECT_EQ(std::get<0>(result), 7);
  EXPECT_EQ(std::get<2>(result), "s");
}

// A value type without a default constructor (StreamPair, for one).
struct NoDefault {
  explicit NoDefault(int v) : value(v) {}
  int value;
};

TEST(GatherTest, ValuesWithoutADefaultConstructor) {
  EventLoop loop(VirtualClock());
  auto values = loop.run_until_complete([] {
    return asyncio::gather([] { return asyncio::sleep(2, NoDefault(1)); },
                           [] { return asyncio::sleep(1, NoDefault(2)); });
  });
  EXPECT_EQ(std::get<0>(values).value, 1);
  EXPECT_EQ(std::get<1>(values).value, 2);
  auto outcomes = loop.run_until_complete([] {
    return asyncio::gather(asyncio::return_exceptions,
                           [] { return asyncio::sleep(1, NoDefault(3)); });
  });
  EXPECT_EQ(std::get<0>(outcomes).value().value, 3);
}

TEST(GatherTest, VectorOfFuturesKeepsArgumentOrderNotCompletionOrder) {
  EventLoop loop(VirtualClock());
  auto result = loop.run_until_complete([] {
    std::vector<Future<int>> fs;
    for (int i = 0; i < 5; ++i) fs.push_back(asyncio::sleep(5 - i, i));
    return asyncio::gather(std::move(fs));
  });
  EXPECT_THAT(result, ElementsAre(0, 1, 2, 3, 4));
}

TEST(GatherTest, EmptyGatherCompletesAtOnce) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Future<std::tuple<>> t = asyncio::gather();
    EXPECT_TRUE(t.done());
    Future<std::vector<int>> v = asyncio::gather(std::vector<Future<int>>{});
    EXPECT_TRUE(v.done());
    EXPECT_TRUE(v.result().empty());
  });
}

TEST(GatherTest, FirstExceptionPropagatesAtOnceAndOthersKeepRunning) {
  EventLoop loop(VirtualClock());
  bool slow_finished = false;
  Task<void> slow;
  Future<std::tuple<int, std::monostate>> g;
  loop.run_until_complete([&] {
    slow = asyncio::create_task([&] {
      return asyncio::sleep(5).then([&] { slow_finished = true; });
    });
    g = asyncio::gather(
        [] { return asyncio::sleep(1).then([]() -> int { throw std::out_of_range("x"); }); },
        slow);
    return g.then_outcome([&](Outcome<std::tuple<int, std::monostate>> o) {
      EXPECT_TRUE(o.has_exception());
      EXPECT_EQ(asyncio::get_running_loop().time(), 1.0);
      EXPECT_FALSE(slow.done());
    });
  });
  EXPECT_THROW(g.result(), std::out_of_range);
  loop.run_until_complete(slow);
  EXPECT_TRUE(slow_finished);
}

TEST(GatherTest, LaterExceptionsOfOtherChildrenAreNotReported) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> reports;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext& c) {
    reports.push_back(c.message);
  });
  loop.run_until_complete([] {
    return asyncio::gather(
               [] { return asyncio::sleep(1).then([]() -> int { throw std::out_of_range("1"); }); },
               [] { return asyncio::sleep(2).then([]() -> int { throw std::out_of_range("2"); }); })
        .then_outcome([](Outcome<std::tuple<int, int>>) {
          return asyncio::sleep(5);
        });
  });
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_TRUE(reports.empty()) << reports.front();
}

TEST(GatherTest, CancelledChildCountsAsCancelledErrorAndGatherIsNotCancelled) {
  EventLoop loop(VirtualClock());
  Future<std::tuple<std::monostate, std::monostate>> g;
  loop.run_until_complete([&] {
    Task<void> child = asyncio::create_task([] { return asyncio::sleep(5); });
    g = asyncio::gather(child, [] { return asyncio::sleep(10); });
    return asyncio::sleep(1)
        .then([child] { child.cancel("child"); })
        .then([&] { return g; })
        .then_outcome([](Outcome<std::tuple<std::monostate, std::monostate>> o) {
          EXPECT_TRUE(o.cancelled());
        });
  });
  ASSERT_TRUE(g.done());
  EXPECT_FALSE(g.cancelled());
  EXPECT_EQ(CancelMessage(g), "child");
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(GatherTest, CancellingGatherCancelsPendingChildren) {
  EventLoop loop(VirtualClock());
  Task<int> a;
  Task<int> b;
  Future<std::tuple<int, int>> g;
  loop.run_until_complete([&] {
    a = asyncio::create_task([] { return asyncio::sleep(1, 1); });
    b = asyncio::create_task([] { return asyncio::sleep(10, 2); });
    g = asyncio::gather(a, b);
    return asyncio::sleep(2).then([&] {
      EXPECT_TRUE(g.cancel("stop"));
      return g.then_outcome([](Outcome<std::tuple<int, int>> o) {
        EXPECT_TRUE(o.cancelled());
      });
    });
  });
  EXPECT_FALSE(a.cancelled());
  EXPECT_TRUE(b.cancelled());
  EXPECT_FALSE(g.cancelled());  // as CPython: an exception, not cancelled()
  EXPECT_EQ(CancelMessage(g), "stop");
}

TEST(GatherTest, GatherEndsCancelledEvenIfChildSwallowsCancellation) {
  EventLoop loop(VirtualClock());
  Future<std::tuple<std::string>> g;
  loop.run_until_complete([&] {
    g = asyncio::gather([] {
      return asyncio::sleep(10, std::string("late"))
          .catch_error<CancelledError>(
              [](const CancelledError&) { return std::string("swallowed"); });
    });
    return asyncio::sleep(1).then([&] {
      g.cancel("m");
      return g.then_outcome([](Outcome<std::tuple<std::string>> o) {
        EXPECT_TRUE(o.cancelled());
      });
    });
  });
  EXPECT_THROW(g.result(), CancelledError);
}

TEST(GatherTest, ReturnExceptionsYieldsOutcomePerChild) {
  EventLoop loop(VirtualClock());
  auto result = loop.run_until_complete([] {
    Task<int> cancelled = asyncio::create_task([] { return asyncio::sleep(3, 0); });
    cancelled.cancel("c");
    return asyncio::gather(
        asyncio::return_exceptions, [] { return asyncio::sleep(1, 1); },
        [] { return asyncio::sleep(2).then([]() -> int { throw std::out_of_range("x"); }); },
        cancelled, [] { return asyncio::sleep(1); });
  });
  EXPECT_EQ(std::get<0>(result).value(), 1);
  EXPECT_TRUE(std::get<1>(result).has_exception());
  EXPECT_THROW(std::get<1>(result).value(), std::out_of_range);
  EXPECT_TRUE(std::get<2>(result).cancelled());
  EXPECT_EQ(CancelMessageOf(std::get<2>(result).exception()), "c");
  EXPECT_TRUE(std::get<3>(result).has_value());
}

TEST(GatherTest, ReturnExceptionsVectorForm) {
  EventLoop loop(VirtualClock());
  auto result = loop.run_until_complete([] {
    std::vector<Future<int>> fs{asyncio::sleep(1, 1),
                                asyncio::make_exception_future<int>(
                                    std::make_exception_ptr(std::out_of_range("x")))};
    return asyncio::gather(asyncio::return_exceptions, std::move(fs));
  });
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].value(), 1);
  EXPECT_TRUE(result[1].has_exception());
}

TEST(GatherTest, CancellingReturnExceptionsGatherStillRaisesCancelledError) {
  EventLoop loop(VirtualClock());
  Future<std::tuple<Outcome<int>>> g;
  loop.run_until_complete([&] {
    g = asyncio::gather(asyncio::return_exceptions,
                        [] { return asyncio::sleep(10, 1); });
    return asyncio::sleep(1).then([&] {
      g.cancel("rx");
      return g.then_outcome([](Outcome<std::tuple<Outcome<int>>> o) {
        EXPECT_TRUE(o.cancelled());
      });
    });
  });
  EXPECT_EQ(CancelMessage(g), "rx");
}

TEST(GatherTest, SameFuturePassedTwiceIsAwaitedOnce) {
  EventLoop loop(VirtualClock());
  int callbacks = 0;
  auto result = loop.run_until_complete([&] {
    Future<int> f = asyncio::sleep(1, 4);
    f.add_done_callback([&] { ++callbacks; });
    return asyncio::gather(f, f, [] { return 5; });
  });
  EXPECT_EQ(result, std::make_tuple(4, 4, 5));
  EXPECT_EQ(callbacks, 1);
}

TEST(GatherTest, CallablesBecomeTasksInArgumentOrder) {
  EventLoop loop(VirtualClock());
  std::vector<int> started;
  loop.run_until_complete([&] {
    return asyncio::gather([&] { started.push_back(1); }, [&] { started.push_back(2); },
                           [&] { started.push_back(3); });
  });
  EXPECT_THAT(started, ElementsAre(1, 2, 3));
}

TEST(GatherTest, FutureOfAnotherLoopIsValueError) {
  EventLoop loop(VirtualClock());
  EventLoop other(VirtualClock());
  Promise<int> p(other);
  bool threw = false;
  loop.run_until_complete([&] {
    try {
      (void)asyncio::gather(asyncio::sleep(1, 1), p.get_future());
    } catch (const ValueError&) {
      threw = true;
    }
  });
  EXPECT_TRUE(threw);
}

TEST(GatherTest, CancellingTaskAwaitingGatherCancelsChildren) {
  EventLoop loop(VirtualClock());
  Task<int> child;
  Task<void> waiter;
  loop.run_until_complete([&] {
    child = asyncio::create_task([] { return asyncio::sleep(10, 1); });
    waiter = asyncio::create_task([&] {
      return asyncio::gather(child).then([](std::tuple<int>) {});
    });
    return asyncio::sleep(1).then([&] { waiter.cancel("outer"); }).then([&] {
      return waiter.then_outcome([](Outcome<void>) {});
    });
  });
  EXPECT_TRUE(child.cancelled());
  EXPECT_TRUE(waiter.cancelled());
  EXPECT_EQ(CancelMessage(Future<void>(waiter)), "outer");
}

TEST(GatherTest, ClosingLoopEndsPendingGather) {
  Future<std::tuple<int>> g;
  {
    EventLoop loop(VirtualClock());
    loop.run_until_complete([&] {
      g = asyncio::gather([] { return asyncio::sleep(100, 1); });
      return asyncio::sleep(1);
    });
    loop.close();
    EXPECT_TRUE(g.done());
    g = Future<std::tuple<int>>();
  }
}

}  // namespace
