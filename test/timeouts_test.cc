// Tests for asyncio/timeouts.h: values and errors pass through, the
// deadline turns the scope's own cancellation into TimeoutError, reschedule
// / when / expired, deadlines already past, nested scopes, outside cancels
// in every order around the deadline, the task's cancelling() count,
// misuse, reports and closing the loop.
//
// Every expected behaviour was checked against CPython (asyncio.timeout of
// 3.11.7, whose exit logic is 3.13's `uncancel() <= cancelling at entry`).
// Timing is tested on the virtual clock.
#include "asyncio/timeouts.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "asyncio/asyncio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

namespace {

using asyncio::AnyTask;
using asyncio::CancelledError;
using asyncio::EventLoop;
using asyncio::ExceptionContext;
using asyncio::Future;
using asyncio::Outcome;
using asyncio::Promise;
using asyncio::RuntimeError;
using asyncio::Task;
using asyncio::Timeout;
using asyncio::TimeoutError;
using asyncio_test::CancelMessage;
using asyncio_test::CancelMessageOf;
using asyncio_test::VirtualClock;

// What a scope ended with, seen from the task that entered it.
struct Seen {
  bool done = false;
  bool timeout_error = false;
  bool cancelled = false;
  std::string cancel_message;
  int cancelling = -1;  // the task's cancelling() right after the scope
  double time = -1;
};

template <class T>
Seen Observe(const Outcome<T>& o) {
  Seen s;
  s.done = true;
  s.cancelled = o.cancelled();
  if (o.has_exception()) {
    try {
      std::rethrow_exception(o.exception());
    } catch (const TimeoutError&) {
      s.timeout_error = true;
    } catch (const CancelledError& c) {
      s.cancel_message = c.message();
    } catch (...) {
      // another error: neither flag
    }
  }
  s.cancelling = asyncio::current_task().cancelling();
  s.time = asyncio::get_running_loop().time();
  return s;
}

// Records how `scope` ended into *seen and swallows the outcome, so the
// task itself completes normally.
template <class T>
Future<void> Record(Future<T> scope, Seen* seen) {
  return scope.then_outcome([seen](Outcome<T> o) { *seen = Observe(o); });
}

TEST(TimeoutsTest, BodyFinishingBeforeTheDeadlinePassesItsValue) {
  EventLoop loop(VirtualClock());
  Timeout cm;
  int r = loop.run_until_complete([&] {
    return asyncio::timeout(10, [&](Timeout t) {
      cm = t;
      return asyncio::sleep(1, 5);
    });
  });
  EXPECT_EQ(r, 5);
  EXPECT_FALSE(cm.expired());
  EXPECT_EQ(cm.when(), 10.0);
  EXPECT_EQ(loop.time(), 1.0);
  // The timer is gone: an idle loop does not jump to the old deadline.
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TimeoutsTest, DeadlineTurnsTheCancellationIntoTimeoutError) {
  EventLoop loop(VirtualClock());
  Seen seen;
  Timeout cm;
  bool body_saw_cancel = false;
  Task<void> task = loop.create_task([&] {
    return Record(asyncio::timeout(1,
                                   [&](Timeout t) {
                                     cm = t;
                                     return asyncio::sleep(10).catch_error<CancelledError>(
                                         [&](const CancelledError& e) -> Future<void> {
                                           body_saw_cancel = true;
                                           throw e;
                                         });
                                   }),
                  &seen);
  });
  loop.run_until_complete(task);
  EXPECT_TRUE(body_saw_cancel);
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_FALSE(seen.cancelled);
  EXPECT_EQ(seen.time, 1.0);
  EXPECT_EQ(seen.cancelling, 0);  // the scope's own request was taken back
  EXPECT_TRUE(cm.expired());
  EXPECT_FALSE(task.cancelled());
}

TEST(TimeoutsTest, TaskCatchesTimeoutErrorAndGoesOn) {
  EventLoop loop(VirtualClock());
  std::string r = loop.run_until_complete([] {
    return asyncio::timeout(1, [] { return asyncio::sleep(10, std::string("late")); })
        .catch_error<TimeoutError>([](const TimeoutError&) { return std::string("timed out"); })
        .then([](std::string s) { return asyncio::sleep(1, s + ", then slept"); });
  });
  EXPECT_EQ(r, "timed out, then slept");
  EXPECT_EQ(loop.time(), 2.0);
}

TEST(TimeoutsTest, NoDeadlineNeverExpires) {
  EventLoop loop(VirtualClock());
  Timeout cm;
  int r = loop.run_until_complete([&] {
    return asyncio::timeout(std::nullopt, [&](Timeout t) {
      cm = t;
      return asyncio::sleep(1000, 1);
    });
  });
  EXPECT_EQ(r, 1);
  EXPECT_EQ(cm.when(), std::nullopt);
  EXPECT_FALSE(cm.expired());
}

TEST(TimeoutsTest, InfiniteDeadlineNeverExpires) {
  // A finite far deadline would fire first on the virtual clock.
  EventLoop loop(VirtualClock());
  Timeout cm;
  int r = loop.run_until_complete([&] {
    return asyncio::timeout(std::numeric_limits<double>::infinity(), [&](Timeout t) {
      cm = t;
      return asyncio::sleep(1e12, 1);
    });
  });
  EXPECT_EQ(r, 1);
  EXPECT_EQ(cm.when(), std::numeric_limits<double>::infinity());
  EXPECT_FALSE(cm.expired());
}

TEST(TimeoutsTest, ChronoDelay) {
  EventLoop loop(VirtualClock());
  Seen seen;
  loop.run_until_complete([&] {
    return Record(asyncio::timeout(std::chrono::milliseconds(1500),
                                   [] { return asyncio::sleep(10); }),
                  &seen);
  });
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_EQ(seen.time, 1.5);
}

TEST(TimeoutsTest, TimeoutAtTakesLoopTime) {
  EventLoop loop(VirtualClock());
  Seen seen;
  Timeout cm;
  loop.run_until_complete([&] {
    return asyncio::sleep(2).then([&] {
      return Record(asyncio::timeout_at(5,
                                        [&](Timeout t) {
                                          cm = t;
                                          return asyncio::sleep(10);
                                        }),
                    &seen);
    });
  });
  EXPECT_EQ(cm.when(), 5.0);
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_EQ(seen.time, 5.0);
}

TEST(TimeoutsTest, WhenIsLoopTimePlusDelay) {
  EventLoop loop(VirtualClock());
  std::optional<double> when;
  loop.run_until_complete([&] {
    return asyncio::sleep(1).then([&] {
      return asyncio::timeout(2.5, [&](Timeout t) { when = t.when(); });
    });
  });
  EXPECT_EQ(when, 3.5);
}

TEST(TimeoutsTest, BodyReturningAPlainValueOrVoid) {
  EventLoop loop(VirtualClock());
  EXPECT_EQ(loop.run_until_complete([] { return asyncio::timeout(1, [] { return 7; }); }), 7);
  bool ran = false;
  loop.run_until_complete([&] { return asyncio::timeout(1, [&] { ran = true; }); });
  EXPECT_TRUE(ran);
}

TEST(TimeoutsTest, BodyCalledAtOnceAndScopeExitsAtOnceForADoneFuture) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    bool called = false;
    Future<int> f = asyncio::timeout(1, [&] {
      called = true;
      return asyncio::make_ready_future(3);
    });
    EXPECT_TRUE(called);
    EXPECT_TRUE(f.done());  // awaiting a done future does not suspend
    EXPECT_EQ(f.result(), 3);
  });
}

TEST(TimeoutsTest, MoveOnlyValuePassesThrough) {
  EventLoop loop(VirtualClock());
  std::unique_ptr<int> p = loop.run_until_complete([] {
    return asyncio::timeout(10, [] {
      return asyncio::sleep(1).then([] { return std::make_unique<int>(42); });
    });
  });
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 42);
}

TEST(TimeoutsTest, BodyErrorPassesThroughUnexpired) {
  EventLoop loop(VirtualClock());
  Timeout cm;
  EXPECT_THROW(loop.run_until_complete([&] {
                 return asyncio::timeout(10, [&](Timeout t) {
                   cm = t;
                   return asyncio::sleep(1).then([]() -> int { throw std::out_of_range("x"); });
                 });
               }),
               std::out_of_range);
  EXPECT_FALSE(cm.expired());
}

TEST(TimeoutsTest, BodyThrowingSynchronouslyFailsTheReturnedFuture) {
  EventLoop loop(VirtualClock());
  Timeout cm;
  loop.run_until_complete([&] {
    Future<int> f = asyncio::timeout(10, [&](Timeout t) -> int {
      cm = t;
      throw std::out_of_range("sync");
    });
    EXPECT_TRUE(f.done());
    EXPECT_THROW(f.result(), std::out_of_range);
  });
  EXPECT_FALSE(cm.expired());
}

TEST(TimeoutsTest, BodyThatSwallowsTheCancellationKeepsItsValue) {
  EventLoop loop(VirtualClock());
  Timeout cm;
  int cancelling = -1;
  int r = loop.run_until_complete([&] {
    return asyncio::timeout(1,
                            [&](Timeout t) {
                              cm = t;
                              return asyncio::sleep(10, 0).catch_error<CancelledError>(
                                  [](const CancelledError&) { return 42; });
                            })
        .then([&](int v) {
          cancelling = asyncio::current_task().cancelling();
          return v;
        });
  });
  EXPECT_EQ(r, 42);
  EXPECT_TRUE(cm.expired());
  EXPECT_EQ(cancelling, 0);
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TimeoutsTest, BodyReturningATaskCancelsThatTask) {
  EventLoop loop(VirtualClock());
  Task<void> child;
  Seen seen;
  loop.run_until_complete([&] {
    child = asyncio::create_task([] { return asyncio::sleep(10); });
    return Record(asyncio::timeout(1, [&] { return child; }), &seen);
  });
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(child.cancelling(), 1);  // as CPython: the child's own count
  EXPECT_EQ(seen.cancelling, 0);
}

TEST(TimeoutsTest, ScopeEnteredFromAContinuationBelongsToTheTask) {
  EventLoop loop(VirtualClock());
  Seen seen;
  loop.run_until_complete([&] {
    return asyncio::sleep(1).then([&] {
      return Record(asyncio::timeout(1, [] { return asyncio::sleep(10); }), &seen);
    });
  });
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_EQ(seen.time, 2.0);
}

// --- Deadlines already past ---------------------------------------------

TEST(TimeoutsTest, PastDeadlineFiresOnTheNextIteration) {
  // CPython: async with timeout(-1): await asyncio.sleep(0) -> TimeoutError.
  EventLoop loop(VirtualClock());
  Seen seen;
  Timeout cm;
  bool after_yield = false;
  loop.run_until_complete([&] {
    return Record(asyncio::timeout(-1,
                                   [&](Timeout t) {
                                     cm = t;
                                     return asyncio::sleep(0).then([&] { after_yield = true; });
                                   }),
                  &seen);
  });
  EXPECT_FALSE(after_yield);
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_TRUE(cm.expired());
  EXPECT_EQ(seen.cancelling, 0);
  EXPECT_EQ(loop.time(), 0.0);
}

TEST(TimeoutsTest, PastDeadlineWithABodyThatDoesNotWaitDoesNotExpire) {
  // CPython: async with timeout(-1): pass -> no error, expired() False.
  EventLoop loop(VirtualClock());
  Timeout cm;
  int r = loop.run_until_complete([&] {
    return asyncio::timeout(0, [&](Timeout t) {
      cm = t;
      return 1;
    });
  });
  EXPECT_EQ(r, 1);
  EXPECT_FALSE(cm.expired());
  // The queued timer entry runs and does nothing.
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_FALSE(cm.expired());
}

// --- reschedule -----------------------------------------------------------

TEST(TimeoutsTest, RescheduleLaterExtendsTheDeadline) {
  EventLoop loop(VirtualClock());
  Timeout cm;
  int r = loop.run_until_complete([&] {
    return asyncio::timeout(1, [&](Timeout t) {
      cm = t;
      t.reschedule(*t.when() + 2);
      return asyncio::sleep(2.5, 9);
    });
  });
  EXPECT_EQ(r, 9);
  EXPECT_EQ(cm.when(), 3.0);
  EXPECT_FALSE(cm.expired());
}

TEST(TimeoutsTest, RescheduleEarlierShortensTheDeadline) {
  EventLoop loop(VirtualClock());
  Seen seen;
  loop.run_until_complete([&] {
    return Record(asyncio::timeout(10,
                                   [&](Timeout t) {
                                     return asyncio::sleep(1).then([t] {
                                       t.reschedule(2);
                                       return asyncio::sleep(5);
                                     });
                                   }),
                  &seen);
  });
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_EQ(seen.time, 2.0);
}

TEST(TimeoutsTest, RescheduleToNoneDisablesTheDeadline) {
  EventLoop loop(VirtualClock());
  Timeout cm;
  loop.run_until_complete([&] {
    return asyncio::timeout(1, [&](Timeout t) {
      cm = t;
      t.reschedule(std::nullopt);
      return asyncio::sleep(2);
    });
  });
  EXPECT_FALSE(cm.expired());
  EXPECT_EQ(cm.when(), std::nullopt);
  EXPECT_EQ(loop.time(), 2.0);
}

TEST(TimeoutsTest, RescheduleToThePastExpiresOnTheNextIteration) {
  // CPython: cm.reschedule(loop.time() - 5); await asyncio.sleep(0) ->
  // TimeoutError at once, the code after the yield never runs.
  EventLoop loop(VirtualClock());
  Seen seen;
  bool after_yield = false;
  loop.run_until_complete([&] {
    return Record(asyncio::timeout(10,
                                   [&](Timeout t) {
                                     return asyncio::sleep(1).then([&, t] {
                                       t.reschedule(asyncio::get_running_loop().time() - 5);
                                       return asyncio::sleep(0).then([&] { after_yield = true; });
                                     });
                                   }),
                  &seen);
  });
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_FALSE(after_yield);
  EXPECT_EQ(seen.time, 1.0);
}

TEST(TimeoutsTest, RescheduleWhileTheExpiryIsQueuedMovesIt) {
  // A past deadline queues the expiry; moving the deadline to the future
  // before it runs keeps the scope open until the new deadline.
  EventLoop loop(VirtualClock());
  Seen seen;
  loop.run_until_complete([&] {
    return Record(asyncio::timeout(-1,
                                   [&](Timeout t) {
                                     t.reschedule(3);
                                     return asyncio::sleep(10);
                                   }),
                  &seen);
  });
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_EQ(seen.time, 3.0);
}

TEST(TimeoutsTest, RescheduleAfterTheScopeEndedIsRuntimeError) {
  EventLoop loop(VirtualClock());
  Timeout finished;
  Timeout expired;
  loop.run_until_complete([&] {
    return asyncio::timeout(1, [&](Timeout t) { finished = t; })
        .then([&] {
          return asyncio::timeout(0.5, [&](Timeout t) {
            expired = t;
            return asyncio::sleep(1);
          });
        })
        .catch_error<TimeoutError>([](const TimeoutError&) {});
  });
  try {
    finished.reschedule(5);
    ADD_FAILURE() << "no RuntimeError";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "Cannot change state of finished Timeout");
  }
  try {
    expired.reschedule(5);
    ADD_FAILURE() << "no RuntimeError";
  } catch (const RuntimeError& e) {
    EXPECT_STREQ(e.what(), "Cannot change state of expired Timeout");
  }
  EXPECT_EQ(finished.when(), 1.0);
}

TEST(TimeoutsTest, RescheduleWhileExpiringIsRuntimeError) {
  EventLoop loop(VirtualClock());
  std::string error;
  loop.run_until_complete([&] {
    return asyncio::timeout(1,
                            [&](Timeout t) {
                              return asyncio::sleep(10).catch_error<CancelledError>(
                                  [&, t](const CancelledError& c) -> Future<void> {
                                    try {
                                      t.reschedule(100);
                                    } catch (const RuntimeError& e) {
                                      error = e.what();
                                    }
                                    throw c;
                                  });
                            })
        .catch_error<TimeoutError>([](const TimeoutError&) {});
  });
  EXPECT_EQ(error, "Cannot change state of expiring Timeout");
}

TEST(TimeoutsTest, NanDeadlineIsValueErrorBeforeTheBodyRuns) {
  EventLoop loop(VirtualClock());
  bool called = false;
  bool threw = false;
  loop.run_until_complete([&] {
    try {
      (void)asyncio::timeout(std::nan(""), [&] { called = true; });
    } catch (const asyncio::ValueError&) {
      threw = true;
    }
  });
  EXPECT_TRUE(threw);
  EXPECT_FALSE(called);
}

TEST(TimeoutsTest, EmptyTimeoutHandleThrowsInvalidStateError) {
  Timeout t;
  EXPECT_FALSE(t.valid());
  EXPECT_THROW(t.expired(), asyncio::InvalidStateError);
}

// --- Misuse ---------------------------------------------------------------

TEST(TimeoutsTest, OutsideATaskIsRuntimeError) {
  EventLoop loop(VirtualClock());
  std::string error;
  bool called = false;
  loop.call_soon([&] {
    try {
      (void)asyncio::timeout(1, [&] { called = true; });
    } catch (const RuntimeError& e) {
      error = e.what();
    }
  });
  loop.run_until_complete(asyncio::make_ready_future(loop));
  EXPECT_EQ(error, "Timeout should be used inside a task");
  EXPECT_FALSE(called);
  EXPECT_THROW((void)asyncio::timeout(1, [] {}), RuntimeError);  // no loop
}

// --- Races with the deadline (each ordering its own case) ------------------

TEST(TimeoutsTest, OutsideCancelBeforeTheDeadlinePassesCancelledError) {
  EventLoop loop(VirtualClock());
  Seen seen;
  Timeout cm;
  Task<void> task = loop.create_task([&] {
    return Record(asyncio::timeout(5,
                                   [&](Timeout t) {
                                     cm = t;
                                     return asyncio::sleep(10);
                                   }),
                  &seen);
  });
  loop.call_later(1, [&] { task.cancel("outside"); });
  loop.run_until_complete(task);
  EXPECT_FALSE(seen.timeout_error);
  EXPECT_EQ(seen.cancel_message, "outside");
  EXPECT_FALSE(cm.expired());
  EXPECT_EQ(seen.cancelling, 1);
  EXPECT_EQ(seen.time, 1.0);
}

TEST(TimeoutsTest, OutsideCancelInTheDeadlinesIterationAfterItWins) {
  // Deadline and outside cancel due together, the deadline's timer first.
  // CPython: CancelledError (the first cancel's, without message),
  // cancelling() == 1.
  EventLoop loop(VirtualClock());
  Seen seen;
  Timeout cm;
  Task<void> task = loop.create_task([&] {
    return Record(asyncio::timeout(1,
                                   [&](Timeout t) {
                                     cm = t;
                                     asyncio::get_running_loop().call_at(
                                         *t.when(), [&] { task.cancel("outside"); });
                                     return asyncio::sleep(10);
                                   }),
                  &seen);
  });
  loop.run_until_complete(task);
  EXPECT_FALSE(seen.timeout_error);
  EXPECT_TRUE(seen.done);
  EXPECT_EQ(seen.cancel_message, "");
  EXPECT_TRUE(cm.expired());
  EXPECT_EQ(seen.cancelling, 1);
  EXPECT_EQ(seen.time, 1.0);
}

TEST(TimeoutsTest, OutsideCancelInTheDeadlinesIterationBeforeItWins) {
  // The outside cancel's timer first, then the deadline's, same iteration.
  // CPython: CancelledError('outside'), expired() True, cancelling() == 1.
  EventLoop loop(VirtualClock());
  Seen seen;
  Timeout cm;
  Task<void> task = loop.create_task([&] {
    asyncio::get_running_loop().call_at(1, [&] { task.cancel("outside"); });
    return Record(asyncio::timeout_at(1,
                                      [&](Timeout t) {
                                        cm = t;
                                        return asyncio::sleep(10);
                                      }),
                  &seen);
  });
  loop.run_until_complete(task);
  EXPECT_FALSE(seen.timeout_error);
  EXPECT_EQ(seen.cancel_message, "outside");
  EXPECT_TRUE(cm.expired());
  EXPECT_EQ(seen.cancelling, 1);
}

TEST(TimeoutsTest, DeadlineAfterTheBodyCompletedButBeforeTheScopeResumedTimesOut) {
  // The body's future completes, and the deadline fires before the scope's
  // step runs: the task's pending cancel replaces the value. CPython:
  // cm.reschedule(now) then fut.set_result(1) -> TimeoutError.
  EventLoop loop(VirtualClock());
  Seen seen;
  Promise<int> p(loop);
  Timeout cm;
  loop.run_until_complete([&] {
    return Record(asyncio::timeout(10,
                                   [&](Timeout t) {
                                     cm = t;
                                     asyncio::get_running_loop().call_soon([&] {
                                       cm.reschedule(asyncio::get_running_loop().time());
                                       p.set_result(1);
                                     });
                                     return p.get_future();
                                   }),
                  &seen);
  });
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_TRUE(cm.expired());
  EXPECT_EQ(seen.cancelling, 0);
}

TEST(TimeoutsTest, BodyCompletingBeforeTheDeadlineInTheSameIterationWins) {
  // CPython: fut.set_result(1) then cm.reschedule(now) -> the value.
  EventLoop loop(VirtualClock());
  Promise<int> p(loop);
  Timeout cm;
  int r = loop.run_until_complete([&] {
    return asyncio::timeout(10, [&](Timeout t) {
      cm = t;
      asyncio::get_running_loop().call_soon([&] {
        p.set_result(1);
        cm.reschedule(asyncio::get_running_loop().time());
      });
      return p.get_future();
    });
  });
  EXPECT_EQ(r, 1);
  EXPECT_FALSE(cm.expired());
}

TEST(TimeoutsTest, LeafCompletingAtTheDeadlineStillTimesOut) {
  // A future completed by a timer due at the deadline, scheduled before the
  // scope: the task wakes on the next iteration, after the deadline fired.
  // CPython: TimeoutError.
  EventLoop loop(VirtualClock());
  Seen seen;
  Promise<int> p(loop);
  loop.run_until_complete([&] {
    asyncio::get_running_loop().call_later(1, [&] { p.set_result(7); });
    return Record(asyncio::timeout(1, [&] { return p.get_future(); }), &seen);
  });
  EXPECT_TRUE(seen.timeout_error);
}

TEST(TimeoutsTest, ChainEndingInTheDeadlinesStepExitsUnexpired) {
  // The body's then-chain ends in the step that set a past deadline: the
  // scope exits in that same step (as `async with` exits right after the
  // body's last statement), before the queued expiry runs.
  EventLoop loop(VirtualClock());
  Timeout cm;
  int r = loop.run_until_complete([&] {
    return asyncio::timeout(10, [&](Timeout t) {
      cm = t;
      return asyncio::sleep(1).then([t] {
        t.reschedule(asyncio::get_running_loop().time());
        return 3;
      });
    });
  });
  EXPECT_EQ(r, 3);
  EXPECT_FALSE(cm.expired());
}

TEST(TimeoutsTest, ScopeEnteredWhileTheTaskIsBeingCancelledStillTimesOut) {
  // The task was cancelled and caught it without uncancel(): cancelling()
  // is 1 at entry. CPython 3.12+: TimeoutError, cancelling() stays 1.
  EventLoop loop(VirtualClock());
  Seen seen;
  int at_entry = -1;
  Task<void> task = loop.create_task([&] {
    return asyncio::sleep(1)
        .catch_error<CancelledError>([](const CancelledError&) {})
        .then([&] {
          at_entry = asyncio::current_task().cancelling();
          return Record(asyncio::timeout(1, [] { return asyncio::sleep(10); }), &seen);
        });
  });
  loop.call_soon([&] { task.cancel(); });
  loop.run_until_complete(task);
  EXPECT_EQ(at_entry, 1);
  EXPECT_TRUE(seen.timeout_error);
  EXPECT_EQ(seen.cancelling, 1);
}

// --- Nested scopes --------------------------------------------------------

TEST(TimeoutsTest, NestedInnerDeadlineFirst) {
  EventLoop loop(VirtualClock());
  Seen inner_seen;
  Timeout inner;
  Timeout outer;
  std::string r = loop.run_until_complete([&] {
    return asyncio::timeout(5, [&](Timeout o) {
      outer = o;
      return Record(asyncio::timeout(1,
                                     [&](Timeout i) {
                                       inner = i;
                                       return asyncio::sleep(10);
                                     }),
                    &inner_seen)
          .then([] { return asyncio::sleep(1, std::string("outer body went on")); });
    });
  });
  EXPECT_TRUE(inner_seen.timeout_error);
  EXPECT_EQ(inner_seen.cancelling, 0);
  EXPECT_TRUE(inner.expired());
  EXPECT_FALSE(outer.expired());
  EXPECT_EQ(r, "outer body went on");
  EXPECT_EQ(loop.time(), 2.0);
}

TEST(TimeoutsTest, NestedOuterDeadlineFirst) {
  EventLoop loop(VirtualClock());
  Seen inner_seen;
  Seen outer_seen;
  Timeout inner;
  Timeout outer;
  loop.run_until_complete([&] {
    return Record(asyncio::timeout(1,
                                   [&](Timeout o) {
                                     outer = o;
                                     auto in = asyncio::timeout(5, [&](Timeout i) {
                                       inner = i;
                                       return asyncio::sleep(10);
                                     });
                                     return in.then_outcome([&](Outcome<void> x) {
                                       inner_seen = Observe(x);
                                       return x;  // passes the outcome on
                                     });
                                   }),
                  &outer_seen);
  });
  EXPECT_FALSE(inner_seen.timeout_error);  // the inner scope's deadline did not fire
  EXPECT_TRUE(inner_seen.cancelled);
  EXPECT_EQ(inner_seen.cancelling, 1);
  EXPECT_FALSE(inner.expired());
  EXPECT_TRUE(outer_seen.timeout_error);
  EXPECT_EQ(outer_seen.cancelling, 0);
  EXPECT_TRUE(outer.expired());
}

TEST(TimeoutsTest, NestedSameDeadlineTheOuterScopeRaises) {
  // CPython: the inner scope passes CancelledError (inner.expired() True,
  // cancelling() 1 there), the outer one raises TimeoutError (cancelling()
  // 0).
  EventLoop loop(VirtualClock());
  Seen inner_seen;
  Seen outer_seen;
  Timeout inner;
  Timeout outer;
  loop.run_until_complete([&] {
    return Record(asyncio::timeout_at(1,
                                      [&](Timeout o) {
                                        outer = o;
                                        auto in = asyncio::timeout_at(1, [&](Timeout i) {
                                          inner = i;
                                          return asyncio::sleep(10);
                                        });
                                        return in.then_outcome([&](Outcome<void> x) {
                                          inner_seen = Observe(x);
                                          return x;
                                        });
                                      }),
                  &outer_seen);
  });
  EXPECT_FALSE(inner_seen.timeout_error);
  EXPECT_TRUE(inner_seen.cancelled);
  EXPECT_EQ(inner_seen.cancelling, 1);
  EXPECT_TRUE(inner.expired());
  EXPECT_TRUE(outer_seen.timeout_error);
  EXPECT_EQ(outer_seen.cancelling, 0);
  EXPECT_TRUE(outer.expired());
}

// --- Reports and the loop's end ---------------------------------------------

TEST(TimeoutsTest, NothingIsReportedAsNeverRetrieved) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> reports;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext& c) {
    reports.push_back(c.message);
  });
  Promise<int> p(loop);
  loop.run_until_complete([&] {
    // The TimeoutError (retrieved here); the body's CancelledError it
    // replaced; a body's value dropped by the deadline's race; a body's
    // exception passed through and retrieved.
    return asyncio::timeout(1, [] { return asyncio::sleep(10); })
        .catch_error<TimeoutError>([](const TimeoutError&) {})
        .then([&] {
          return asyncio::timeout(10, [&](Timeout t) {
            asyncio::get_running_loop().call_soon([&, t] {
              t.reschedule(asyncio::get_running_loop().time());
              p.set_exception(std::out_of_range("dropped by the race"));
            });
            return p.get_future();
          });
        })
        .then_outcome([](Outcome<int> o) { EXPECT_TRUE(o.has_exception()); })
        .then([] {
          return asyncio::timeout(10, [] {
            return asyncio::sleep(1).then([]() -> int { throw std::out_of_range("x"); });
          });
        })
        .then_outcome([](Outcome<int> o) { EXPECT_TRUE(o.has_exception()); });
  });
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_TRUE(reports.empty()) << reports.front();
}

TEST(TimeoutsTest, UnretrievedTimeoutErrorIsReportedOnceByTheTask) {
  // The task that awaited the scope took its TimeoutError; nobody took the
  // task's: one report, for the task.
  EventLoop loop(VirtualClock());
  std::vector<std::string> reports;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext& c) {
    reports.push_back(c.message);
  });
  {
    Task<void> task = loop.create_task(
        [] { return asyncio::timeout(1, [] { return asyncio::sleep(10); }); });
    loop.run_until_complete([] { return asyncio::sleep(2); });
    EXPECT_TRUE(task.done());
  }
  loop.run_until_complete([] { return asyncio::sleep(0); });
  EXPECT_THAT(reports, ::testing::ElementsAre("Task exception was never retrieved"));
}

TEST(TimeoutsTest, AwaitCycleThroughTheScopeEndsOnTheDeadline) {
  // The body ends up awaiting the scope's own future: the deadline's cancel
  // walk meets the scope twice and ends it cancelled there.
  EventLoop loop(VirtualClock());
  Future<void> scope;
  Task<void> task = loop.create_task([&] {
    scope = asyncio::timeout(10, [&] { return asyncio::sleep(1).then([&] { return scope; }); });
    return scope;
  });
  loop.run_until_complete(task.then_outcome([](Outcome<void>) {}));
  EXPECT_TRUE(scope.cancelled());
  EXPECT_TRUE(task.cancelled());
  EXPECT_EQ(loop.time(), 10.0);
  scope = Future<void>();
}

TEST(TimeoutsTest, ClosingTheLoopEndsAPendingScope) {
  Future<int> scope;
  Timeout cm;
  {
    EventLoop loop(VirtualClock());
    Task<int> task = loop.create_task([&] {
      scope = asyncio::timeout(50, [&](Timeout t) {
        cm = t;
        return asyncio::sleep(100, 1);
      });
      return scope;
    });
    loop.run_until_complete([] { return asyncio::sleep(1); });
    EXPECT_FALSE(scope.done());
    loop.close();
    EXPECT_TRUE(scope.done());
    EXPECT_TRUE(scope.cancelled());
    EXPECT_TRUE(task.done());
    EXPECT_FALSE(cm.expired());
    EXPECT_THROW(cm.reschedule(60), RuntimeError);
    scope = Future<int>();
    cm = Timeout();
  }
}

TEST(TimeoutsTest, ClosingTheLoopWithAnExpiryQueued) {
  Timeout cm;
  {
    EventLoop loop(VirtualClock());
    Task<void> task = loop.create_task([&] {
      return asyncio::timeout(10, [&](Timeout t) {
        cm = t;
        return asyncio::sleep(1).then([t] {
          t.reschedule(0);  // queued for the next iteration
          asyncio::get_running_loop().stop();
          return asyncio::sleep(5);
        });
      });
    });
    loop.run_forever();
    loop.close();
    EXPECT_FALSE(cm.expired());
    cm = Timeout();
  }
}

}  // namespace
