// Tests for asyncio/run.h: run(main) returns main's result or rethrows its
// exception, refuses to run inside a running loop, cancels and awaits
// leftover tasks, closes its loop, and runs on a virtual clock on request.
#include "asyncio/run.h"

#include <functional>
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
using asyncio::ExceptionContext;
using asyncio::Future;
using asyncio::RuntimeError;
using asyncio::Task;
using ::testing::ElementsAre;
using asyncio_test::VirtualClock;

// --- Results --------------------------------------------------------------------

TEST(RunTest, ReturnsMainsPlainResult) {
  EXPECT_EQ(asyncio::run([] { return 42; }), 42);
}

TEST(RunTest, ReturnsResultOfMainsFuture) {
  std::string s =
      asyncio::run([] { return asyncio::sleep(1, std::string("done")); }, VirtualClock());
  EXPECT_EQ(s, "done");
}

TEST(RunTest, ReturnsResultOfMainsTask) {
  int v = asyncio::run(
      [] { return asyncio::create_task([] { return asyncio::sleep(1, 5); }); }, VirtualClock());
  EXPECT_EQ(v, 5);
}

TEST(RunTest, ReturnsMoveOnlyResult) {
  std::unique_ptr<int> p = asyncio::run([] { return std::make_unique<int>(3); });
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 3);
}

TEST(RunTest, VoidMainRuns) {
  bool ran = false;
  asyncio::run([&] { return asyncio::sleep(1).then([&] { ran = true; }); }, VirtualClock());
  EXPECT_TRUE(ran);
}

TEST(RunTest, MainRunsAsTaskInsideRunningLoop) {
  bool in_task = false;
  bool loop_running = false;
  asyncio::run([&] {
    in_task = static_cast<bool>(asyncio::current_task());
    loop_running = asyncio::get_running_loop().is_running();
  });
  EXPECT_TRUE(in_task);
  EXPECT_TRUE(loop_running);
}

TEST(RunTest, RethrowsMainsException) {
  try {
    asyncio::run([]() -> int { throw std::domain_error("main failed"); });
    ADD_FAILURE() << "no exception";
  } catch (const std::domain_error& e) {
    EXPECT_STREQ(e.what(), "main failed");
  }
  EXPECT_THROW(asyncio::run(
                   [] {
                     return asyncio::sleep(1).then(
                         []() -> int { throw std::out_of_range("later"); });
                   },
                   VirtualClock()),
               std::out_of_range);
}

TEST(RunTest, MainCancellingItselfMakesRunThrowCancelledError) {
  EXPECT_THROW(asyncio::run(
                   [] {
                     asyncio::current_task().cancel("main cancelled");
                     return asyncio::sleep(1);
                   },
                   VirtualClock()),
               CancelledError);
}

// --- Misuse -----------------------------------------------------------------------

TEST(RunTest, RunInsideRunningLoopThrowsRuntimeError) {
  EventLoop loop;
  bool main_ran = false;
  std::string error;
  loop.call_soon([&] {
    try {
      asyncio::run([&] {
        main_ran = true;
        return 1;
      });
    } catch (const RuntimeError& e) {
      error = e.what();
    }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(main_ran);
}

TEST(RunTest, RunInsideRunsMainThrowsRuntimeError) {
  bool inner_ran = false;
  bool threw = asyncio::run([&] {
    try {
      asyncio::run([&] {
        inner_ran = true;
        return 0;
      });
    } catch (const RuntimeError&) {
      return true;
    }
    return false;
  });
  EXPECT_TRUE(threw);
  EXPECT_FALSE(inner_ran);
}

TEST(RunTest, RunCanBeCalledAgainAfterReturning) {
  EXPECT_EQ(asyncio::run([] { return 1; }), 1);
  EXPECT_THROW(asyncio::get_running_loop(), RuntimeError);
  EXPECT_EQ(asyncio::run([] { return asyncio::sleep(1, 2); }, VirtualClock()), 2);
}

// --- Leftover tasks -------------------------------------------------------------------

TEST(RunTest, LeftoverTasksAreCancelledBeforeRunReturns) {
  bool finished = false;
  std::string cancel_message = "<not cancelled>";
  int v = asyncio::run(
      [&] {
        // Waiting when main returns.
        Task<void> waiting = asyncio::create_task([&] {
          return asyncio::sleep(100).then([&] { finished = true; });
        });
        waiting.add_done_callback([&](Future<void> f) {
          try {
            f.result();
          } catch (const CancelledError& e) {
            cancel_message = e.message();
          }
        });
        return asyncio::sleep(1, 7);
      },
      VirtualClock());
  EXPECT_EQ(v, 7);
  EXPECT_FALSE(finished);
  EXPECT_EQ(cancel_message, "");  // cancelled (without a message)
}

TEST(RunTest, LeftoverTaskNotYetStartedIsCancelledWithoutRunningItsBody) {
  // The task is created in the iteration in which run_until_complete(main)
  // stops, so its first step has not run when the leftovers are cancelled.
  bool body_ran = false;
  bool cancelled = false;
  asyncio::run([&] {
    asyncio::get_running_loop().call_soon([&] {
      Task<int> late = asyncio::create_task([&] {
        body_ran = true;
        return 1;
      });
      late.add_done_callback([&](Future<int> f) { cancelled = f.cancelled(); });
    });
    return 0;
  });
  EXPECT_FALSE(body_ran);
  EXPECT_TRUE(cancelled);
}

TEST(RunTest, LeftoverTaskCatchingCancellationRunsItsHandlerToCompletion) {
  std::vector<std::string> log;
  asyncio::run(
      [&] {
        Task<void> worker = asyncio::create_task([&] {
          return asyncio::sleep(100)
              .then([&] { log.push_back("finished normally"); })
              .catch_error<CancelledError>([&](const CancelledError&) {
                log.push_back("cleanup started at " +
                              std::to_string(asyncio::get_running_loop().time()));
                // Cleanup that takes time: run() waits for it.
                return asyncio::sleep(5).then([&] {
                  log.push_back("cleanup done at " +
                                std::to_string(asyncio::get_running_loop().time()));
                });
              });
        });
        return asyncio::sleep(1);
      },
      VirtualClock());
  EXPECT_THAT(log, ElementsAre("cleanup started at " + std::to_string(1.0),
                               "cleanup done at " + std::to_string(6.0)));
}

TEST(RunTest, LeftoverTasksAreCancelledWhenMainFails) {
  bool cleaned_up = false;
  EXPECT_THROW(asyncio::run(
                   [&] {
                     Task<void> worker = asyncio::create_task([&] {
                       return asyncio::sleep(100).catch_error<CancelledError>(
                           [&](const CancelledError&) { cleaned_up = true; });
                     });
                     return asyncio::sleep(1).then(
                         []() -> int { throw std::runtime_error("main failed"); });
                   },
                   VirtualClock()),
               std::runtime_error);
  EXPECT_TRUE(cleaned_up);
}

TEST(RunTest, LeftoverTaskErrorDuringShutdownGoesToExceptionHandler) {
  std::vector<ExceptionContext> reports;
  std::string worker_name;
  asyncio::run(
      [&] {
        asyncio::get_running_loop().set_exception_handler(
            [&](EventLoop&, const ExceptionContext& c) { reports.push_back(c); });
        Task<void> worker = asyncio::create_task([&] {
          return asyncio::sleep(100).catch_error<CancelledError>(
              [](const CancelledError&) { throw std::runtime_error("cleanup failed"); });
        });
        worker_name = worker.get_name();
        return asyncio::sleep(1);
      },
      VirtualClock());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_THAT(reports[0].future, ::testing::HasSubstr(worker_name));
  ASSERT_NE(reports[0].exception, nullptr);
  try {
    std::rethrow_exception(reports[0].exception);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "cleanup failed");
  }
}

TEST(RunTest, LoopTurnsFourMoreIterationsAfterMainAsAsyncioShutdownDoes) {
  // asyncio.run: after main, cancelling leftovers (none here), then
  // shutdown_asyncgens() and shutdown_default_executor() take two loop
  // iterations each. A self-rescheduling callback chain started in main
  // prints callback 1..5 and a call_later(0) timer runs (CPython 3.11-3.13).
  std::vector<std::string> log;
  std::function<void(int)> chain = [&](int n) {
    log.push_back("callback " + std::to_string(n));
    asyncio::get_running_loop().call_soon([&chain, n] { chain(n + 1); });
  };
  std::string r = asyncio::run(
      [&] {
        EventLoop& loop = asyncio::get_running_loop();
        loop.call_soon([&chain] { chain(1); });
        loop.call_later(0, [&] { log.push_back("timer 0"); });
        return std::string("main done");
      },
      VirtualClock());
  EXPECT_EQ(r, "main done");
  EXPECT_THAT(log, ElementsAre("callback 1", "timer 0", "callback 2", "callback 3",
                               "callback 4", "callback 5"));
}

// --- The loop ---------------------------------------------------------------------

TEST(RunTest, LoopIsClosedAfterRunReturns) {
  // Work still queued when run() returns is dropped without running: its
  // captures are destroyed by the time run() returns.
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> weak = token;
  bool ran = false;
  EventLoop* loop_seen = nullptr;
  asyncio::run(
      [&, token]() mutable {
        EventLoop& loop = asyncio::get_running_loop();
        loop_seen = &loop;
        loop.call_later(1000, [&ran, token] { ran = true; });
        Future<void> pending = asyncio::sleep(500).then([&ran, token] { ran = true; });
        token.reset();
        return asyncio::sleep(1);
      },
      VirtualClock());
  token.reset();
  EXPECT_NE(loop_seen, nullptr);
  EXPECT_FALSE(ran);
  EXPECT_TRUE(weak.expired());
  EXPECT_THROW(asyncio::get_running_loop(), RuntimeError);
}

TEST(RunTest, VirtualClockOption) {
  double t = asyncio::run(
      [] {
        EXPECT_TRUE(asyncio::get_running_loop().virtual_clock());
        EXPECT_EQ(asyncio::get_running_loop().time(), 0.0);
        return asyncio::sleep(3600).then([] { return asyncio::get_running_loop().time(); });
      },
      VirtualClock());
  EXPECT_EQ(t, 3600.0);
}

TEST(RunTest, DefaultOptionsUseRealClock) {
  bool virtual_clock = true;
  asyncio::run([&] { virtual_clock = asyncio::get_running_loop().virtual_clock(); });
  EXPECT_FALSE(virtual_clock);
}

}  // namespace
