// Tests for asyncio/task_group.h: the group waits for every child; the first
// failure cancels the rest and the body; errors come back as one
// ExceptionGroup; outside cancellation is not swallowed; the parent's
// cancelling() count; misuse; reports and closing the loop. Also
// ExceptionGroup's matching (contains / subgroup / split), which the group's
// users need.
//
// Expected behaviour was checked against CPython 3.11.7 and, where 3.13
// differs (the parent's uncancel() after the wait; re-cancelling a parent
// cancelled from outside when errors win), against 3.13's taskgroups.py.
// Timing is tested on the virtual clock.
#include "asyncio/task_group.h"

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
using asyncio::ExceptionGroup;
using asyncio::Future;
using asyncio::Outcome;
using asyncio::RuntimeError;
using asyncio::Task;
using asyncio::TaskGroup;
using asyncio::TimeoutError;
using ::testing::ElementsAre;
using asyncio_test::CancelMessage;
using asyncio_test::CancelMessageOf;
using asyncio_test::VirtualClock;

// A child that sleeps `delay`, then throws E(what).
template <class E>
auto FailAfter(double delay, std::string what) {
  return [delay, what] {
    return asyncio::sleep(delay).then([what] { throw E(what); });
  };
}

// A child that sleeps `delay` and logs when it is cancelled.
auto Sleeper(double delay, std::vector<std::string>* log, std::string name) {
  return [delay, log, name] {
    return asyncio::sleep(delay).catch_error<CancelledError>(
        [log, name](const CancelledError& e) -> Future<void> {
          log->push_back(name + " cancelled");
          throw e;
        });
  };
}

// The what() of each exception in `eg`.
std::vector<std::string> Whats(const ExceptionGroup& eg) {
  std::vector<std::string> out;
  for (const std::exception_ptr& e : eg.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      out.push_back(x.what());
    }
  }
  return out;
}

// The ExceptionGroup a failed future holds (fails the test otherwise).
template <class T>
ExceptionGroup GroupOf(const Future<T>& f) {
  try {
    f.result();
  } catch (const ExceptionGroup& eg) {
    return eg;
  } catch (...) {
    ADD_FAILURE() << "not an ExceptionGroup";
  }
  return ExceptionGroup("none", {});
}

TEST(TaskGroupTest, GroupWaitsForEveryChild) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  Task<int> a;
  Task<int> b;
  loop.run_until_complete([&] {
    return asyncio::task_group([&](TaskGroup tg) {
             a = tg.create_task([&] {
               return asyncio::sleep(2, 1).then([&](int v) {
                 log.push_back("a done");
                 return v;
               });
             });
             b = tg.create_task([&] {
               return asyncio::sleep(1, 2).then([&](int v) {
                 log.push_back("b done");
                 return v;
               });
             });
             log.push_back("body done");
           })
        .then([&] { log.push_back("group done"); });
  });
  EXPECT_THAT(log, ElementsAre("body done", "b done", "a done", "group done"));
  EXPECT_EQ(a.result(), 1);
  EXPECT_EQ(b.result(), 2);
  EXPECT_EQ(loop.time(), 2.0);
}

TEST(TaskGroupTest, BodyValueComesBackAfterTheChildren) {
  EventLoop loop(VirtualClock());
  bool child_done = false;
  std::string r = loop.run_until_complete([&] {
    return asyncio::task_group([&](TaskGroup tg) {
      tg.create_task([&] { return asyncio::sleep(3).then([&] { child_done = true; }); });
      return asyncio::sleep(1, std::string("body"));
    });
  });
  EXPECT_EQ(r, "body");
  EXPECT_TRUE(child_done);
  EXPECT_EQ(loop.time(), 3.0);
}

TEST(TaskGroupTest, EmptyGroupWithAValueCompletesAtOnce) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Future<int> g = asyncio::task_group([](TaskGroup) { return 4; });
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.result(), 4);
  });
}

TEST(TaskGroupTest, MoveOnlyBodyValue) {
  EventLoop loop(VirtualClock());
  std::unique_ptr<int> p = loop.run_until_complete([] {
    return asyncio::task_group([](TaskGroup tg) {
      tg.create_task([] { return asyncio::sleep(2); });
      return asyncio::sleep(1).then([] { return std::make_unique<int>(8); });
    });
  });
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 8);
}

TEST(TaskGroupTest, ChildrenMayBeAddedAfterTheBodyReturned) {
  EventLoop loop(VirtualClock());
  Task<std::string> late;
  loop.run_until_complete([&] {
    return asyncio::task_group([&](TaskGroup tg) {
      tg.create_task([&, tg] {
        return asyncio::sleep(1).then([&, tg] {
          late = tg.create_task([] { return asyncio::sleep(2, std::string("late")); },
                                "late child");
        });
      });
    });
  });
  EXPECT_EQ(late.result(), "late");
  EXPECT_EQ(late.get_name(), "late child");
  EXPECT_EQ(loop.time(), 3.0);
}

TEST(TaskGroupTest, CreateTaskAfterTheGroupEndedIsRuntimeError) {
  EventLoop loop(VirtualClock());
  TaskGroup kept;
  loop.run_until_complete([&] {
    return asyncio::task_group([&](TaskGroup tg) { kept = tg; });
  });
  try {
    kept.create_task([] {});
    ADD_FAILURE() << "no RuntimeError";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "TaskGroup is finished");
  }
}

TEST(TaskGroupTest, CreateTaskWhileShuttingDownIsRuntimeError) {
  EventLoop loop(VirtualClock());
  std::string error;
  Future<void> g;
  loop.run_until_complete([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      tg.create_task([]() -> Future<void> { throw std::out_of_range("x"); });
      return asyncio::sleep(1).catch_error<CancelledError>(
          [&, tg](const CancelledError& e) -> Future<void> {
            try {
              tg.create_task([] {});
            } catch (const RuntimeError& r) {
              error = r.what();
            }
            throw e;
          });
    });
    return g.then_outcome([](Outcome<void>) {});
  });
  EXPECT_EQ(error, "TaskGroup is shutting down");
  EXPECT_THAT(Whats(GroupOf(g)), ElementsAre("x"));
}

TEST(TaskGroupTest, EmptyHandleIsInvalidStateError) {
  TaskGroup tg;
  EXPECT_FALSE(tg.valid());
  EXPECT_THROW(tg.create_task([] {}), asyncio::InvalidStateError);
}

TEST(TaskGroupTest, OutsideATaskIsRuntimeError) {
  EventLoop loop(VirtualClock());
  bool threw = false;
  bool called = false;
  loop.call_soon([&] {
    try {
      (void)asyncio::task_group([&](TaskGroup) { called = true; });
    } catch (const RuntimeError&) {
      threw = true;
    }
  });
  loop.run_until_complete(asyncio::make_ready_future(loop));
  EXPECT_TRUE(threw);
  EXPECT_FALSE(called);
}

// --- Failures ---------------------------------------------------------------

TEST(TaskGroupTest, FirstChildFailureCancelsTheOthersAndTheBody) {
  // CPython: ['sib cancelled', 'body cancelled', eg at t=1, cancelling 0].
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  Task<void> sibling;
  Future<void> g;
  int cancelling_in_body = -1;
  int cancelling_after = -1;
  std::string after;
  loop.run_until_complete([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      tg.create_task(FailAfter<std::out_of_range>(1, "a"));
      sibling = tg.create_task(Sleeper(10, &log, "sibling"));
      return asyncio::sleep(5).catch_error<CancelledError>(
          [&](const CancelledError& e) -> Future<void> {
            log.push_back("body cancelled");
            cancelling_in_body = asyncio::current_task().cancelling();
            throw e;
          });
    });
    return g.catch_error<ExceptionGroup>([&](const ExceptionGroup& eg) {
                log.push_back("group failed at " +
                              std::to_string(asyncio::get_running_loop().time()));
                cancelling_after = asyncio::current_task().cancelling();
              })
        .then([&] { return asyncio::sleep(1, std::string("parent went on")); })
        .then([&](std::string s) { after = s; });
  });
  EXPECT_THAT(log, ElementsAre("sibling cancelled", "body cancelled",
                               "group failed at 1.000000"));
  EXPECT_EQ(cancelling_in_body, 1);  // the group's own request
  EXPECT_EQ(cancelling_after, 0);    // taken back
  EXPECT_EQ(after, "parent went on");
  EXPECT_TRUE(sibling.cancelled());
  EXPECT_THAT(Whats(GroupOf(g)), ElementsAre("a"));
  EXPECT_EQ(std::string(GroupOf(g).what()),
            "unhandled errors in a TaskGroup (1 sub-exception)");
}

TEST(TaskGroupTest, ChildrenFailingInOneIterationAreAllInTheGroupInOrder) {
  EventLoop loop(VirtualClock());
  Future<void> g;
  loop.run_until_complete([&] {
    g = asyncio::task_group([](TaskGroup tg) {
      tg.create_task(FailAfter<std::out_of_range>(1, "1"));
      tg.create_task(FailAfter<std::invalid_argument>(1, "2"));
    });
    return g.then_outcome([](Outcome<void>) {});
  });
  ExceptionGroup eg = GroupOf(g);
  EXPECT_THAT(Whats(eg), ElementsAre("1", "2"));
  EXPECT_TRUE(eg.contains<std::out_of_range>());
  EXPECT_TRUE(eg.contains<std::invalid_argument>());
}

TEST(TaskGroupTest, CancelledChildIsNotAnError) {
  EventLoop loop(VirtualClock());
  Task<void> child;
  loop.run_until_complete([&] {
    return asyncio::task_group([&](TaskGroup tg) {
      child = tg.create_task([] { return asyncio::sleep(10); });
      return asyncio::sleep(1).then([&] { child.cancel("by the body"); });
    });
  });
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TaskGroupTest, ChildFailingWhileTheGroupExitsCancelsTheOthers) {
  // CPython 3.13: eg, sibling cancelled, t=1, cancelling() 0 (3.11 left 1).
  EventLoop loop(VirtualClock());
  Task<void> sibling;
  Future<void> g;
  int cancelling_after = -1;
  loop.run_until_complete([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      tg.create_task(FailAfter<std::out_of_range>(1, "late"));
      sibling = tg.create_task([] { return asyncio::sleep(5); });
    });
    return g.then_outcome([&](Outcome<void>) {
      cancelling_after = asyncio::current_task().cancelling();
    });
  });
  EXPECT_THAT(Whats(GroupOf(g)), ElementsAre("late"));
  EXPECT_TRUE(sibling.cancelled());
  EXPECT_EQ(cancelling_after, 0);
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TaskGroupTest, BodyFailureCancelsTheChildrenAndJoinsTheGroup) {
  // CPython's "body raises": (KeyError('body'),), child cancelled.
  EventLoop loop(VirtualClock());
  Task<void> child;
  Future<void> g;
  int cancelling_after = -1;
  loop.run_until_complete([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      child = tg.create_task([] { return asyncio::sleep(10); });
      return asyncio::sleep(1).then([] { throw std::out_of_range("body"); });
    });
    return g.then_outcome([&](Outcome<void>) {
      cancelling_after = asyncio::current_task().cancelling();
    });
  });
  EXPECT_THAT(Whats(GroupOf(g)), ElementsAre("body"));
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(cancelling_after, 0);
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TaskGroupTest, BodyThrowingSynchronouslyCancelsChildrenBeforeTheyStart) {
  // As in CPython, a child cancelled before its first step never runs its
  // code; the group still waits for it to end.
  EventLoop loop(VirtualClock());
  bool child_ran = false;
  Task<void> child;
  Future<int> g;
  loop.run_until_complete([&] {
    g = asyncio::task_group([&](TaskGroup tg) -> int {
      child = tg.create_task([&] { child_ran = true; });
      throw std::out_of_range("sync");
    });
    EXPECT_FALSE(g.done());
    return g.then_outcome([](Outcome<int>) {});
  });
  EXPECT_FALSE(child_ran);
  EXPECT_TRUE(child.cancelled());
  EXPECT_THAT(Whats(GroupOf(g)), ElementsAre("sync"));
  EXPECT_EQ(loop.time(), 0.0);
}

TEST(TaskGroupTest, ChildErrorsComeBeforeTheBodysError) {
  // CPython: (ValueError('in cleanup'), KeyError('body')).
  EventLoop loop(VirtualClock());
  Future<void> g;
  loop.run_until_complete([&] {
    g = asyncio::task_group([](TaskGroup tg) {
      tg.create_task([] {
        return asyncio::sleep(10).catch_error<CancelledError>(
            [](const CancelledError&) -> Future<void> { throw std::invalid_argument("in cleanup"); });
      });
      return asyncio::sleep(1).then([] { throw std::out_of_range("body"); });
    });
    return g.then_outcome([](Outcome<void>) {});
  });
  EXPECT_THAT(Whats(GroupOf(g)), ElementsAre("in cleanup", "body"));
}

// --- Cancellation from outside ----------------------------------------------

TEST(TaskGroupTest, OutsideCancelWhileTheBodyRunsEndsTheGroupCancelled) {
  // CPython: CancelledError('out') once the slow child is done (t=2),
  // cancelling() 1, the child cancelled.
  EventLoop loop(VirtualClock());
  Task<void> child;
  Future<void> g;
  int cancelling_after = -1;
  Task<void> parent = loop.create_task([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      child = tg.create_task([] {
        return asyncio::sleep(10).catch_error<CancelledError>(
            [](const CancelledError& e) { return asyncio::sleep(1).then([e] { throw e; }); });
      });
      return asyncio::sleep(5);
    });
    return g.then_outcome([&](Outcome<void> o) {
      cancelling_after = asyncio::current_task().cancelling();
      return o;
    });
  });
  loop.call_later(1, [&] { parent.cancel("out"); });
  loop.run_until_complete(parent.then_outcome([](Outcome<void>) {}));
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessage(g), "out");
  EXPECT_TRUE(parent.cancelled());
  EXPECT_EQ(cancelling_after, 1);
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(loop.time(), 2.0);
}

TEST(TaskGroupTest, OutsideCancelWhileTheGroupExitsEndsItCancelled) {
  // CPython: CancelledError('out2'), cancelling() 1, t=1.
  EventLoop loop(VirtualClock());
  Task<void> child;
  Future<void> g;
  Task<void> parent = loop.create_task([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      child = tg.create_task([] { return asyncio::sleep(10); });
    });
    return g;
  });
  loop.call_later(1, [&] { parent.cancel("out2"); });
  loop.run_until_complete(parent.then_outcome([](Outcome<void>) {}));
  EXPECT_EQ(CancelMessage(g), "out2");
  EXPECT_TRUE(parent.cancelled());
  EXPECT_EQ(parent.cancelling(), 1);
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TaskGroupTest, OutsideCancelCollidingWithAChildFailureIsNotLost) {
  // The outside cancel makes a child fail in its cleanup: errors win (the
  // group raises ExceptionGroup), and CPython 3.13 re-cancels the parent,
  // whose next await is cancelled. cancelling() stays 1.
  EventLoop loop(VirtualClock());
  Future<void> g;
  int cancelling_at_catch = -1;
  bool went_on = false;
  Task<void> parent = loop.create_task([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      tg.create_task([] {
        return asyncio::sleep(10).catch_error<CancelledError>(
            [](const CancelledError&) -> Future<void> { throw std::out_of_range("during cancel"); });
      });
      return asyncio::sleep(5);
    });
    return g.catch_error<ExceptionGroup>([&](const ExceptionGroup&) {
                cancelling_at_catch = asyncio::current_task().cancelling();
              })
        .then([&] { return asyncio::sleep(1).then([&] { went_on = true; }); });
  });
  loop.call_later(1, [&] { parent.cancel("out"); });
  loop.run_until_complete(parent.then_outcome([](Outcome<void>) {}));
  EXPECT_THAT(Whats(GroupOf(g)), ElementsAre("during cancel"));
  EXPECT_EQ(cancelling_at_catch, 1);
  EXPECT_FALSE(went_on);
  EXPECT_TRUE(parent.cancelled());
  EXPECT_EQ(parent.cancelling(), 1);
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TaskGroupTest, CancellingTheGroupsFutureCancelsTheChildren) {
  EventLoop loop(VirtualClock());
  Task<void> child;
  Future<void> g;
  loop.run_until_complete([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      child = tg.create_task([] { return asyncio::sleep(10); });
      return asyncio::sleep(5);
    });
    return asyncio::sleep(1)
        .then([&] { EXPECT_TRUE(g.cancel("direct")); })
        .then([&] { return g.then_outcome([](Outcome<void>) {}); });
  });
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(CancelMessage(g), "direct");
}

TEST(TaskGroupTest, TimeoutAroundAGroupCancelsTheChildren) {
  EventLoop loop(VirtualClock());
  Task<void> child;
  int cancelling_after = -1;
  bool timed_out = false;
  loop.run_until_complete([&] {
    return asyncio::timeout(1,
                            [&] {
                              return asyncio::task_group([&](TaskGroup tg) {
                                child = tg.create_task([] { return asyncio::sleep(10); });
                                return asyncio::sleep(5);
                              });
                            })
        .catch_error<TimeoutError>([&](const TimeoutError&) {
          timed_out = true;
          cancelling_after = asyncio::current_task().cancelling();
        });
  });
  EXPECT_TRUE(timed_out);
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(cancelling_after, 0);
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TaskGroupTest, NestedGroupsNestTheirExceptionGroups) {
  EventLoop loop(VirtualClock());
  Future<void> outer;
  loop.run_until_complete([&] {
    outer = asyncio::task_group([](TaskGroup tg) {
      tg.create_task([] { return asyncio::sleep(10); });
      return asyncio::task_group([](TaskGroup inner) {
        inner.create_task(FailAfter<std::out_of_range>(1, "deep"));
      });
    });
    return outer.then_outcome([](Outcome<void>) {});
  });
  ExceptionGroup eg = GroupOf(outer);
  ASSERT_EQ(eg.exceptions().size(), 1u);
  EXPECT_TRUE(eg.contains<std::out_of_range>());
  auto [ranges, rest] = eg.split<std::out_of_range>();
  ASSERT_TRUE(ranges.has_value());
  EXPECT_FALSE(rest.has_value());
  try {
    std::rethrow_exception(ranges->exceptions().at(0));
  } catch (const ExceptionGroup& inner) {
    EXPECT_THAT(Whats(inner), ElementsAre("deep"));
  }
}

// --- Reports and the loop's end ---------------------------------------------

TEST(TaskGroupTest, NothingIsReportedAsNeverRetrieved) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> reports;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext& c) {
    reports.push_back(c.message);
  });
  std::vector<Task<void>> children;
  loop.run_until_complete([&] {
    return asyncio::task_group([&](TaskGroup tg) {
             children.push_back(tg.create_task(FailAfter<std::out_of_range>(1, "1")));
             children.push_back(tg.create_task(FailAfter<std::out_of_range>(1, "2")));
             children.push_back(tg.create_task([] {
               return asyncio::sleep(10).catch_error<CancelledError>(
                   [](const CancelledError&) -> Future<void> { throw std::out_of_range("3"); });
             }));
             return asyncio::sleep(5).then([] { throw std::out_of_range("body"); });
           })
        .catch_error<ExceptionGroup>([](const ExceptionGroup& eg) {
          EXPECT_THAT(Whats(eg), ElementsAre("1", "2", "3"));
        });
  });
  children.clear();
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_TRUE(reports.empty()) << reports.front();
}

TEST(TaskGroupTest, UnretrievedGroupErrorIsReportedOnce) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> reports;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext& c) {
    reports.push_back(c.message);
  });
  {
    Task<void> parent = loop.create_task([] {
      return asyncio::task_group(
          [](TaskGroup tg) { tg.create_task(FailAfter<std::out_of_range>(1, "x")); });
    });
    loop.run_until_complete([] { return asyncio::sleep(2); });
    EXPECT_TRUE(parent.done());
  }
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_THAT(reports, ElementsAre("Task exception was never retrieved"));
}

TEST(TaskGroupTest, ChildFailingAfterTheParentEndedIsReported) {
  // Misuse: the parent does not wait for its group (CPython: "Task ... has
  // errored out but its parent task ... is already completed").
  EventLoop loop(VirtualClock());
  std::vector<std::string> reports;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext& c) {
    reports.push_back(c.message);
  });
  Future<void> g;
  Task<void> parent = loop.create_task(
      [&] {
        g = asyncio::task_group([](TaskGroup tg) {
          tg.create_task(FailAfter<std::out_of_range>(1, "x"), "child");
          return asyncio::sleep(5);
        });
      },
      "parent");
  loop.run_until_complete([] { return asyncio::sleep(2); });
  EXPECT_THAT(reports, ElementsAre("Task child has errored out but its parent task "
                                   "parent is already completed"));
  loop.run_until_complete([] { return asyncio::sleep(5); });
  EXPECT_THAT(Whats(GroupOf(g)), ElementsAre("x"));
}

TEST(TaskGroupTest, AwaitCycleThroughTheGroupCancelsTheChildren) {
  // The body ends up awaiting the group's own future: cancelling the parent
  // meets the group twice and ends it there; its children are cancelled.
  EventLoop loop(VirtualClock());
  Future<void> g;
  Task<void> child;
  Task<void> parent = loop.create_task([&] {
    g = asyncio::task_group([&](TaskGroup tg) {
      child = tg.create_task([] { return asyncio::sleep(10); });
      return asyncio::sleep(1).then([&] { return g; });
    });
    return g;
  });
  loop.call_later(2, [&] { parent.cancel("cycle"); });
  loop.run_until_complete(parent.then_outcome([](Outcome<void>) {}));
  EXPECT_TRUE(g.cancelled());
  EXPECT_TRUE(parent.cancelled());
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(loop.time(), 2.0);
  g = Future<void>();
}

TEST(TaskGroupTest, ClosingTheLoopEndsAGroupInItsBody) {
  Future<void> g;
  Task<void> child;
  {
    EventLoop loop(VirtualClock());
    Task<void> parent = loop.create_task([&] {
      g = asyncio::task_group([&](TaskGroup tg) {
        child = tg.create_task([] { return asyncio::sleep(100); });
        return asyncio::sleep(50);
      });
      return g;
    });
    loop.run_until_complete([] { return asyncio::sleep(1); });
    loop.close();
    EXPECT_TRUE(g.done());
    EXPECT_TRUE(child.done());
    EXPECT_TRUE(parent.done());
    g = Future<void>();
    child = Task<void>();
  }
}

TEST(TaskGroupTest, ClosingTheLoopEndsAGroupWaitingForChildren) {
  Future<int> g;
  TaskGroup kept;
  {
    EventLoop loop(VirtualClock());
    Task<int> parent = loop.create_task([&] {
      g = asyncio::task_group([&](TaskGroup tg) {
        kept = tg;
        tg.create_task([tg] { return asyncio::sleep(100); });  // the child keeps the handle
        return 1;
      });
      return g;
    });
    loop.run_until_complete([] { return asyncio::sleep(1); });
    EXPECT_FALSE(g.done());
    loop.close();
    EXPECT_TRUE(g.done());
    EXPECT_TRUE(g.cancelled());
    EXPECT_THROW(kept.create_task([] {}), RuntimeError);
    g = Future<int>();
    kept = TaskGroup();
  }
}

// --- ExceptionGroup -----------------------------------------------------------

ExceptionGroup Sample() {
  // ExceptionGroup("top", [out_of_range a, ExceptionGroup("nested",
  // [invalid_argument b, out_of_range c]), runtime_error d])
  return ExceptionGroup(
      "top", {std::make_exception_ptr(std::out_of_range("a")),
              std::make_exception_ptr(ExceptionGroup(
                  "nested", {std::make_exception_ptr(std::invalid_argument("b")),
                             std::make_exception_ptr(std::out_of_range("c"))})),
              std::make_exception_ptr(std::runtime_error("d"))});
}

TEST(ExceptionGroupTest, MessageAndWhat) {
  ExceptionGroup eg = Sample();
  EXPECT_EQ(eg.message(), "top");
  EXPECT_STREQ(eg.what(), "top (3 sub-exceptions)");
}

TEST(ExceptionGroupTest, ContainsLooksIntoNestedGroups) {
  ExceptionGroup eg = Sample();
  EXPECT_TRUE(eg.contains<std::out_of_range>());
  EXPECT_TRUE(eg.contains<std::invalid_argument>());
  EXPECT_TRUE(eg.contains<std::logic_error>());
  EXPECT_TRUE(eg.contains<ExceptionGroup>());  // the group itself
  EXPECT_FALSE(eg.contains<CancelledError>());
  EXPECT_FALSE(eg.contains<std::bad_alloc>());
}

TEST(ExceptionGroupTest, SplitKeepsMessagesAndNesting) {
  // Python: eg.split(IndexError) for the same shape.
  auto [match, rest] = Sample().split<std::out_of_range>();
  ASSERT_TRUE(match.has_value());
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(match->message(), "top");
  ASSERT_EQ(match->exceptions().size(), 2u);
  EXPECT_THAT(Whats(*match), ElementsAre("a", "nested (1 sub-exception)"));
  try {
    std::rethrow_exception(match->exceptions()[1]);
  } catch (const ExceptionGroup& nested) {
    EXPECT_EQ(nested.message(), "nested");
    EXPECT_THAT(Whats(nested), ElementsAre("c"));
  }
  EXPECT_THAT(Whats(*rest), ElementsAre("nested (1 sub-exception)", "d"));
}

TEST(ExceptionGroupTest, SubgroupAndWholeMatches) {
  ExceptionGroup eg = Sample();
  EXPECT_FALSE(eg.subgroup<CancelledError>().has_value());
  std::optional<ExceptionGroup> all = eg.subgroup<std::exception>();
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->exceptions().size(), 3u);  // the whole group matched
  auto [match, rest] = eg.split<ExceptionGroup>();
  EXPECT_TRUE(match.has_value());
  EXPECT_FALSE(rest.has_value());
  // std::runtime_error matches the top group itself (an ExceptionGroup is
  // a std::runtime_error): the whole group, as Python's condition(self).
  std::optional<ExceptionGroup> d = eg.subgroup<std::runtime_error>();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->message(), "top");
  EXPECT_EQ(d->exceptions().size(), 3u);
  // A nested group is kept whole when it matches as a whole.
  ExceptionGroup outer("outer", {std::make_exception_ptr(std::out_of_range("x")),
                                 std::make_exception_ptr(Sample())});
  auto [groups, leaves] = outer.split<ExceptionGroup>();
  EXPECT_TRUE(groups.has_value());  // the outer group itself matches
  EXPECT_FALSE(leaves.has_value());
  auto [logic, others] = outer.split<std::logic_error>();
  ASSERT_TRUE(logic.has_value());
  ASSERT_TRUE(others.has_value());
  EXPECT_THAT(Whats(*logic), ElementsAre("x", "top (2 sub-exceptions)"));
  EXPECT_THAT(Whats(*others), ElementsAre("top (1 sub-exception)"));
}

}  // namespace
