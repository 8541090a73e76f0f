// Tests for asyncio/shield.h: the outer completes as the inner does;
// cancelling the outer leaves the inner running; reports.
//
// Timing is tested on the virtual clock.
#include "asyncio/shield.h"

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
using asyncio::ExceptionContext;
using asyncio::Future;
using asyncio::Outcome;
using asyncio::Task;
using asyncio_test::CancelMessage;
using asyncio_test::VirtualClock;

TEST(ShieldTest, SeedProgram) {
  EventLoop loop(VirtualClock());
  std::string res = loop.run_until_complete([] {
    return asyncio::shield([] { return std::string("done"); })
        .catch_error<CancelledError>([](const CancelledError&) { return std::string(); });
  });
  EXPECT_EQ(res, "done");
}

TEST(ShieldTest, OuterCompletesWithInnerValueOrError) {
  EventLoop loop(VirtualClock());
  EXPECT_EQ(loop.run_until_complete([] { return asyncio::shield(asyncio::sleep(1, 3)); }), 3);
  EXPECT_THROW(loop.run_until_complete([] {
                 return asyncio::shield([] {
                   return asyncio::sleep(1).then([]() -> int { throw std::out_of_range("x"); });
                 });
               }),
               std::out_of_range);
}

TEST(ShieldTest, CancellingOuterLeavesInnerRunning) {
  EventLoop loop(VirtualClock());
  Task<int> inner;
  Future<int> outer;
  loop.run_until_complete([&] {
    inner = asyncio::create_task([] { return asyncio::sleep(5, 9); });
    outer = asyncio::shield(inner);
    return asyncio::sleep(1).then([&] {
      EXPECT_TRUE(outer.cancel("outer only"));
      EXPECT_TRUE(outer.cancelled());
      EXPECT_FALSE(inner.done());
      return inner;
    }).then([](int) {});
  });
  EXPECT_EQ(inner.result(), 9);
  EXPECT_EQ(CancelMessage(outer), "outer only");
  EXPECT_EQ(loop.time(), 5.0);
}

TEST(ShieldTest, CancellingTaskAwaitingShieldLeavesInnerRunning) {
  EventLoop loop(VirtualClock());
  Task<int> inner;
  Task<int> waiter;
  loop.run_until_complete([&] {
    inner = asyncio::create_task([] { return asyncio::sleep(5, 9); });
    waiter = asyncio::create_task([&] { return asyncio::shield(inner); });
    return asyncio::sleep(1).then([&] { waiter.cancel(); }).then([&] { return inner; }).then([](int) {});
  });
  EXPECT_TRUE(waiter.cancelled());
  EXPECT_EQ(inner.result(), 9);
}

TEST(ShieldTest, InnerCancelledCancelsOuter) {
  EventLoop loop(VirtualClock());
  Future<int> outer;
  loop.run_until_complete([&] {
    Task<int> inner = asyncio::create_task([] { return asyncio::sleep(5, 9); });
    outer = asyncio::shield(inner);
    return asyncio::sleep(1).then([inner] { inner.cancel("in"); }).then([&] {
      return outer.then_outcome([](Outcome<int>) {});
    });
  });
  EXPECT_TRUE(outer.cancelled());
  EXPECT_EQ(CancelMessage(outer), "in");
}

TEST(ShieldTest, DoneInnerIsReturnedAsIs) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Future<int> ready = asyncio::make_ready_future(1);
    Future<int> s = asyncio::shield(ready);
    EXPECT_TRUE(s.done());
    EXPECT_EQ(s.result(), 1);
  });
}

TEST(ShieldTest, InnerExceptionAfterOuterCancelledIsReportedOnce) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> reports;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext& c) {
    reports.push_back(c.message);
  });
  loop.run_until_complete([] {
    Future<int> outer = asyncio::shield(
        [] { return asyncio::sleep(2).then([]() -> int { throw std::out_of_range("late"); }); });
    outer.cancel();
    return asyncio::sleep(5);
  });
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_EQ(reports.size(), 1u);
}

}  // namespace
