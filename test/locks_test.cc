// Tests for asyncio/locks.h: Lock, Event, Condition, Semaphore,
// BoundedSemaphore, Barrier and with(). For each primitive: every method and
// error, FIFO fairness with three or more waiters, a waiter cancelled while
// it waits, a waiter woken and then cancelled before its task resumed (what
// it was handed passes on), and the primitive dropped with waiters pending
// when the loop closes (no leak under --config=asan, nothing reported to
// the exception handler).
//
// Timing is tested on the virtual clock.
#include "asyncio/locks.h"

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

using asyncio::Barrier;
using asyncio::BoundedSemaphore;
using asyncio::BrokenBarrierError;
using asyncio::CancelledError;
using asyncio::Condition;
using asyncio::Event;
using asyncio::EventLoop;
using asyncio::ExceptionContext;
using asyncio::Future;
using asyncio::Lock;
using asyncio::Outcome;
using asyncio::RuntimeError;
using asyncio::Semaphore;
using asyncio::Task;
using asyncio::ValueError;
using asyncio_test::CancelMessage;
using asyncio_test::VirtualClock;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// What reaches the loop's exception handler ("never retrieved" reports,
// callback errors): the tests expect nothing. Shared, so that a report the
// loop flushes when it is destroyed has somewhere to go.
std::shared_ptr<std::vector<std::string>> CaptureReports(EventLoop& loop) {
  auto reports = std::make_shared<std::vector<std::string>>();
  loop.set_exception_handler([reports](EventLoop&, const ExceptionContext& c) {
    reports->push_back(c.message);
  });
  return reports;
}

// The loop time now, as a whole number of seconds (virtual clock).
std::string Now() {
  return std::to_string(static_cast<int>(asyncio::get_running_loop().time()));
}

// A task that holds `primitive` through with() for `hold` seconds, logging
// "<name> in @<time>" and "<name> out @<time>".
template <class Primitive>
Task<void> WithHolder(Primitive primitive, std::vector<std::string>* log, std::string name,
                      double hold) {
  return asyncio::create_task([=] {
    return asyncio::with(primitive, [=] {
      log->push_back(name + " in @" + Now());
      return asyncio::sleep(hold).then([=] { log->push_back(name + " out @" + Now()); });
    });
  });
}

Future<void> All(const std::vector<Task<void>>& tasks) {
  return asyncio::gather(tasks).then([](const std::vector<std::monostate>&) {});
}

// Gives `task` `seconds` of loop time: a test whose hand-off got lost fails
// here instead of hanging.
Future<void> Within(double seconds, Task<void> task) {
  return asyncio::sleep(seconds).then([task] {
    EXPECT_TRUE(task.done()) << "a hand-off was lost";
    task.cancel();
  });
}

// A task that acquires `lock`, logs, holds it for `hold` seconds, releases.
Task<void> Holder(Lock lock, std::vector<std::string>* log, std::string name,
                  double hold) {
  return asyncio::create_task([=] {
    return lock.acquire().then([=] {
      log->push_back(name + " acquired");
      return asyncio::sleep(hold).then([=] {
        log->push_back(name + " releases");
        lock.release();
      });
    });
  });
}

// --- Lock --------------------------------------------------------------------

TEST(LockTest, FreeLockIsAcquiredAtOnce) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Lock lock;
    Future<void> f = lock.acquire();
    EXPECT_TRUE(f.done());
    EXPECT_TRUE(lock.locked());
    lock.release();
    EXPECT_FALSE(lock.locked());
  });
}

TEST(LockTest, WaitersAreServedInFifoOrder) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Lock lock;
    std::vector<Task<void>> tasks{Holder(lock, &log, "1", 1), Holder(lock, &log, "2", 1),
                                  Holder(lock, &log, "3", 1), Holder(lock, &log, "4", 1)};
    return asyncio::gather(tasks).then([](const std::vector<std::monostate>&) {});
  });
  EXPECT_THAT(log, ElementsAre("1 acquired", "1 releases", "2 acquired", "2 releases",
                               "3 acquired", "3 releases", "4 acquired", "4 releases"));
  EXPECT_EQ(loop.time(), 4.0);
}

TEST(LockTest, NoBargingNewcomerWaitsBehindWokenWaiter) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Lock lock;
    Future<void> first = lock.acquire();
    Future<void> waiter = lock.acquire().then([&, lock] {
      log.push_back("waiter");
      lock.release();
    });
    return asyncio::sleep(1).then([&, lock] {
      lock.release();  // hands the lock to the waiter
      Future<void> newcomer = lock.acquire();
      EXPECT_FALSE(newcomer.done());
      return newcomer.then([&, lock] {
        log.push_back("newcomer");
        lock.release();
      });
    });
  });
  EXPECT_THAT(log, ElementsAre("waiter", "newcomer"));
}

TEST(LockTest, CancelledWaiterDoesNotBlockThoseBehindIt) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Lock lock;
    (void)lock.acquire();
    Future<void> a = lock.acquire();
    Future<void> b = lock.acquire().then([&, lock] {
      log.push_back("b");
      lock.release();
    });
    a.cancel();
    lock.release();
    return b;
  });
  EXPECT_THAT(log, ElementsAre("b"));
}

TEST(LockTest, WokenWaiterCancelledBeforeItRanPassesTheLockOn) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  Lock lock;
  loop.run_until_complete([&] {
    (void)lock.acquire();
    Task<void> a = asyncio::create_task([&] {
      return lock.acquire().then([&] { log.push_back("a ran"); });
    });
    Task<void> b = asyncio::create_task([&] {
      return lock.acquire().then([&] {
        log.push_back("b acquired");
        lock.release();
      });
    });
    return asyncio::sleep(1).then([&, a, b] {
      lock.release();  // hands the lock to a ...
      a.cancel();      // ... whose task is cancelled before it resumes
      return b;
    }).then([a] { EXPECT_TRUE(a.cancelled()); });
  });
  EXPECT_THAT(log, ElementsAre("b acquired"));
  EXPECT_FALSE(lock.locked());
}

TEST(LockTest, ReleaseOfUnlockedLockIsRuntimeError) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Lock lock;
    EXPECT_THROW(lock.release(), RuntimeError);
  });
}

TEST(LockTest, WithReleasesOnValueErrorAndCancellation) {
  EventLoop loop(VirtualClock());
  Lock lock;
  EXPECT_EQ(loop.run_until_complete([&] {
    return asyncio::with(lock, [&] {
      EXPECT_TRUE(lock.locked());
      return asyncio::sleep(1, 5);
    });
  }), 5);
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(loop.run_until_complete([&] {
    return asyncio::with(lock, []() -> int { throw std::out_of_range("x"); });
  }), std::out_of_range);
  EXPECT_FALSE(lock.locked());
  Task<void> t;
  loop.run_until_complete([&] {
    t = asyncio::create_task([&] { return asyncio::with(lock, [] { return asyncio::sleep(10); }); });
    return asyncio::sleep(1).then([&] {
      EXPECT_TRUE(lock.locked());
      t.cancel();
      return t.then_outcome([](Outcome<void>) {});
    });
  });
  EXPECT_TRUE(t.cancelled());
  EXPECT_FALSE(lock.locked());
}

TEST(LockTest, WithWhoseAcquireIsCancelledNeverRunsTheBody) {
  EventLoop loop(VirtualClock());
  Lock lock;
  bool ran = false;
  loop.run_until_complete([&] {
    (void)lock.acquire();
    Future<void> w = asyncio::with(lock, [&] { ran = true; });
    w.cancel();
    return asyncio::sleep(1);
  });
  EXPECT_FALSE(ran);
  EXPECT_TRUE(lock.locked());  // still the first holder's
}

TEST(LockTest, UsingALockFromAnotherLoopIsRuntimeError) {
  Lock lock;
  EventLoop loop(VirtualClock());
  loop.run_until_complete([&] { (void)lock.acquire(); });
  EventLoop other(VirtualClock());
  other.run_until_complete([&] { EXPECT_THROW((void)lock.acquire(), RuntimeError); });
}

TEST(LockTest, LockedReportsTheStateAndHandlesCompareByIdentity) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Lock lock;
    Lock copy = lock;
    EXPECT_TRUE(copy == lock);
    EXPECT_FALSE(Lock() == lock);
    EXPECT_TRUE(Lock() != lock);
    EXPECT_FALSE(copy.locked());
    (void)lock.acquire();
    EXPECT_TRUE(copy.locked());
    copy.release();
    EXPECT_FALSE(lock.locked());
  });
}

TEST(LockTest, CancelledWaiterKeepsItsMessageAndOthersKeepTheirPlace) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Lock lock;
    (void)lock.acquire();
    Future<void> a = lock.acquire();
    Future<void> b = lock.acquire();
    Future<void> c = lock.acquire();
    EXPECT_TRUE(b.cancel("not needed"));
    EXPECT_EQ(CancelMessage(b), "not needed");
    lock.release();
    EXPECT_TRUE(a.done());
    EXPECT_FALSE(c.done());
    lock.release();
    EXPECT_TRUE(c.done());
    lock.release();
    EXPECT_FALSE(lock.locked());
  });
}

TEST(LockTest, DroppedWithWaitingTasksWhenTheLoopCloses) {
  auto loop = std::make_unique<EventLoop>(VirtualClock());
  auto reports = CaptureReports(*loop);
  std::vector<Task<void>> waiting;
  loop->run_until_complete([&] {
    Lock lock;
    (void)lock.acquire();  // never released
    for (int i = 0; i < 3; ++i) {
      waiting.push_back(asyncio::create_task([lock] { return asyncio::with(lock, [] {}); }));
    }
    return asyncio::sleep(1);
  });
  for (const Task<void>& t : waiting) EXPECT_FALSE(t.done());
  loop->close();  // cancels the tasks: their waiters leave the lock
  for (const Task<void>& t : waiting) EXPECT_TRUE(t.cancelled());
  waiting.clear();
  loop.reset();
  // The tasks still pending are reported as such (asyncio's "Task was
  // destroyed but it is pending!"), and nothing else is.
  EXPECT_THAT(*reports, ::testing::AllOf(::testing::Not(IsEmpty()),
                                         ::testing::Each(::testing::Eq(
                                             "Task was destroyed but it is pending!"))));
}

TEST(LockTest, DroppingTheLastHandleCancelsWaitersNoTaskAwaits) {
  EventLoop loop(VirtualClock());
  auto reports = CaptureReports(loop);
  Future<void> w;
  bool stage_ran = false;
  loop.run_until_complete([&] {
    {
      Lock lock;
      (void)lock.acquire();
      w = lock.acquire();
      // A stage nobody awaits: without the cancellation it would wait on
      // the lock's waiter forever, and the waiter would keep the lock alive.
      (void)lock.acquire().then_outcome([&](Outcome<void> o) {
        stage_ran = true;
        EXPECT_TRUE(o.cancelled());
      });
      EXPECT_FALSE(w.done());
    }  // the last handle goes: nobody could release the lock any more
    EXPECT_TRUE(w.cancelled());
    EXPECT_EQ(CancelMessage(w), "Lock dropped while tasks waited on it");
    return asyncio::sleep(0);
  });
  EXPECT_TRUE(stage_ran);
  loop.close();
  EXPECT_THAT(*reports, IsEmpty());
}

// --- Event -------------------------------------------------------------------

TEST(EventTest, SetWakesEveryWaiter) {
  EventLoop loop(VirtualClock());
  std::vector<int> woken;
  loop.run_until_complete([&] {
    Event ev;
    std::vector<Future<void>> ws;
    for (int i = 0; i < 3; ++i) ws.push_back(ev.wait().then([&, i] { woken.push_back(i); }));
    EXPECT_FALSE(ev.is_set());
    return asyncio::sleep(1).then([ev, ws] {
      ev.set();
      EXPECT_TRUE(ev.is_set());
      return asyncio::gather(ws).then([](const std::vector<std::monostate>&) {});
    });
  });
  EXPECT_THAT(woken, ElementsAre(0, 1, 2));
}

TEST(EventTest, WaitOnSetEventIsDoneAndClearUnsets) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Event ev;
    ev.set();
    EXPECT_TRUE(ev.wait().done());
    ev.clear();
    EXPECT_FALSE(ev.is_set());
    Future<void> w = ev.wait();
    EXPECT_FALSE(w.done());
    w.cancel();
  });
}

TEST(EventTest, SeedListener) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Event myevent;
    Task<void> handler = asyncio::create_task([&, myevent] {
      log.push_back("Waiting for event");
      return myevent.wait().then([&] { log.push_back("Event processed"); });
    });
    return asyncio::sleep(1).then([myevent] { myevent.set(); }).then([handler] { return handler; });
  });
  EXPECT_THAT(log, ElementsAre("Waiting for event", "Event processed"));
}

TEST(EventTest, CancelledWaiterLeavesAndSetWakesTheOthers) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Event ev;
    Future<void> a = ev.wait();
    Future<void> b = ev.wait();
    Future<void> c = ev.wait();
    EXPECT_TRUE(b.cancel());
    ev.set();
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(b.cancelled());
    EXPECT_TRUE(c.done());
    EXPECT_FALSE(b.cancel());
  });
}

TEST(EventTest, WokenWaiterCancelledBeforeItRanLeavesTheOthersWoken) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Event ev;
    std::vector<Task<void>> tasks;
    for (std::string name : {"a", "b", "c"}) {
      tasks.push_back(asyncio::create_task([&log, ev, name] {
        return ev.wait().then([&log, name] { log.push_back(name); });
      }));
    }
    return asyncio::sleep(1).then([ev, tasks] {
      ev.set();           // wakes all three ...
      tasks[1].cancel();  // ... and b's task is cancelled before it resumes
      return Within(5, tasks[2]).then([tasks] {
        EXPECT_TRUE(tasks[0].done());
        EXPECT_TRUE(tasks[1].cancelled());
      });
    });
  });
  EXPECT_THAT(log, ElementsAre("a", "c"));
}

TEST(EventTest, DroppedWithWaitingTasksWhenTheLoopCloses) {
  auto loop = std::make_unique<EventLoop>(VirtualClock());
  auto reports = CaptureReports(*loop);
  loop->run_until_complete([] {
    Event ev;
    for (int i = 0; i < 3; ++i) (void)asyncio::create_task([ev] { return ev.wait(); });
    // And a waiter no task awaits, cancelled when the last handle goes.
    (void)ev.wait().then([] { ADD_FAILURE() << "the event is never set"; });
    return asyncio::sleep(1);
  });
  loop.reset();
  EXPECT_THAT(*reports, IsEmpty());
}

// --- Condition ---------------------------------------------------------------

// A task that waits on `cond` inside with(), logging "<name> woke @<time>"
// with the lock held.
Task<void> CondWaiter(Condition cond, std::vector<std::string>* log, std::string name) {
  return asyncio::create_task([=] {
    return asyncio::with(cond, [=] {
      return cond.wait().then([=] {
        EXPECT_TRUE(cond.locked());
        log->push_back(name + " woke @" + Now());
      });
    });
  });
}

// Takes the condition's lock, calls f(cond) holding it, releases.
template <class F>
Future<void> Holding(Condition cond, F f) {
  return asyncio::with(cond, [cond, f] { f(cond); });
}

TEST(ConditionTest, WaitWithoutTheLockIsRuntimeError) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    EXPECT_FALSE(cond.locked());
    EXPECT_THROW((void)cond.wait(), RuntimeError);
    EXPECT_THROW((void)cond.wait_for([] { return false; }), RuntimeError);
  });
}

TEST(ConditionTest, NotifyWithoutTheLockIsRuntimeError) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    EXPECT_THROW(cond.notify(), RuntimeError);
    EXPECT_THROW(cond.notify(3), RuntimeError);
    EXPECT_THROW(cond.notify_all(), RuntimeError);
    EXPECT_THROW(cond.release(), RuntimeError);  // the lock's own error
  });
}

TEST(ConditionTest, WaitReleasesTheLockAndTakesItBackAfterNotify) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    EXPECT_TRUE(cond.acquire().done());
    Future<void> w = cond.wait();
    EXPECT_FALSE(cond.locked());  // released while it waits
    EXPECT_FALSE(w.done());
    EXPECT_TRUE(cond.acquire().done());
    cond.notify();
    EXPECT_FALSE(w.done());  // notified, now waiting for the lock
    cond.release();          // hands the lock to the waiter
    EXPECT_TRUE(w.done());
    EXPECT_TRUE(cond.locked());
    cond.release();
    EXPECT_FALSE(cond.locked());
  });
}

TEST(ConditionTest, NotifyWakesWaitersInFifoOrder) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Condition cond;
    std::vector<Task<void>> tasks;
    for (std::string name : {"1", "2", "3", "4", "5"}) {
      tasks.push_back(CondWaiter(cond, &log, name));
    }
    return asyncio::sleep(1)
        .then([cond] { return Holding(cond, [](Condition c) { c.notify(); }); })
        .then([] { return asyncio::sleep(1); })
        .then([cond] { return Holding(cond, [](Condition c) { c.notify(2); }); })
        .then([] { return asyncio::sleep(1); })
        .then([cond] { return Holding(cond, [](Condition c) { c.notify_all(); }); })
        .then([tasks] { return All(tasks); });
  });
  EXPECT_THAT(log, ElementsAre("1 woke @1", "2 woke @2", "3 woke @2", "4 woke @3", "5 woke @3"));
}

TEST(ConditionTest, NotifyWakesAtMostNAndNoneForNOfZeroOrLess) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    std::vector<Future<void>> ws;
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(cond.acquire().done());
      ws.push_back(cond.wait());
    }
    EXPECT_TRUE(cond.acquire().done());
    cond.notify(0);
    cond.notify(-1);
    cond.release();
    for (const Future<void>& w : ws) EXPECT_FALSE(w.done());
    EXPECT_TRUE(cond.acquire().done());
    cond.notify(10);  // more than wait: all three
    cond.release();   // to the first; each hands it on as it releases
    for (const Future<void>& w : ws) {
      EXPECT_TRUE(w.done());
      cond.release();
    }
    EXPECT_FALSE(cond.locked());
    EXPECT_TRUE(cond.acquire().done());
    cond.notify_all();  // nobody waits: nothing happens
    cond.release();
  });
}

TEST(ConditionTest, CancelledWaiterEndsOnlyOnceItHoldsTheLock) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    EXPECT_TRUE(cond.acquire().done());
    Future<void> w = cond.wait();
    EXPECT_TRUE(cond.acquire().done());  // someone else holds the lock now
    EXPECT_TRUE(w.cancel("stop"));
    EXPECT_FALSE(w.done());  // it re-acquires the lock first
    return asyncio::sleep(1).then([cond, w] {
      EXPECT_FALSE(w.done());
      cond.release();  // hands the lock to the cancelled waiter
      EXPECT_TRUE(w.cancelled());
      EXPECT_EQ(CancelMessage(w), "stop");
      EXPECT_TRUE(cond.locked());  // it holds the lock, as CPython's wait()
      cond.release();
    });
  });
}

TEST(ConditionTest, CancelledWaiterTakesAFreeLockAtOnce) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    EXPECT_TRUE(cond.acquire().done());
    Future<void> w = cond.wait();
    EXPECT_FALSE(cond.locked());
    EXPECT_TRUE(w.cancel());
    EXPECT_TRUE(w.cancelled());
    EXPECT_TRUE(cond.locked());
    EXPECT_FALSE(w.cancel());
    cond.release();
  });
}

TEST(ConditionTest, CancelWhileReacquiringIsKeptAndTheNotificationPassesOn) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    EXPECT_TRUE(cond.acquire().done());
    Future<void> w1 = cond.wait();
    EXPECT_TRUE(cond.acquire().done());
    Future<void> w2 = cond.wait();
    EXPECT_TRUE(cond.acquire().done());
    cond.notify(1);  // w1 now waits for the lock
    EXPECT_TRUE(w1.cancel("first"));
    EXPECT_TRUE(w1.cancel("second"));  // still pending: a new request
    EXPECT_FALSE(w1.done());
    cond.release();  // w1 takes the lock, ends cancelled, notifies w2
    EXPECT_TRUE(w1.cancelled());
    EXPECT_EQ(CancelMessage(w1), "second");  // the latest, as CPython
    EXPECT_FALSE(w2.done());                 // notified, waiting for the lock
    cond.release();                          // w1's turn is over
    EXPECT_TRUE(w2.done());
    cond.release();
  });
}

TEST(ConditionTest, WaiterCancelledBeforeItWasNotifiedWakesNobody) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    EXPECT_TRUE(cond.acquire().done());
    Future<void> w1 = cond.wait();
    EXPECT_TRUE(cond.acquire().done());
    Future<void> w2 = cond.wait();
    EXPECT_TRUE(w1.cancel());
    EXPECT_TRUE(w1.cancelled());
    cond.release();
    return asyncio::sleep(1).then([cond, w2] {
      EXPECT_FALSE(w2.done());  // no spurious wake-up (CPython has one)
      EXPECT_FALSE(cond.locked());
      w2.cancel();
      cond.release();
    });
  });
}

TEST(ConditionTest, WokenWaiterCancelledBeforeItRanPassesTheNotificationOn) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  Condition cond;
  loop.run_until_complete([&] {
    Task<void> a = CondWaiter(cond, &log, "a");
    Task<void> b = CondWaiter(cond, &log, "b");
    return asyncio::sleep(1).then([&, a, b] {
      return cond.acquire().then([&, a, b] {
        cond.notify(1);  // wakes a ...
        cond.release();  // ... which takes the lock ...
        a.cancel();      // ... and its task is cancelled before it resumes
        return Within(5, b).then([a] { EXPECT_TRUE(a.cancelled()); });
      });
    });
  });
  EXPECT_THAT(log, ElementsAre("b woke @1"));
  EXPECT_FALSE(cond.locked());
}

TEST(ConditionTest, CancelledWaitingTaskReleasesTheLockThroughWith) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  Condition cond;
  Task<void> t;
  loop.run_until_complete([&] {
    t = CondWaiter(cond, &log, "t");
    return asyncio::sleep(1).then([&] {
      return cond.acquire().then([&] {
        t.cancel();  // while it waits for a notification; we hold the lock
        return asyncio::sleep(1).then([&] {
          EXPECT_FALSE(t.done());  // waiting for the lock
          cond.release();
          return t.then_outcome([](Outcome<void>) {});
        });
      });
    });
  });
  EXPECT_TRUE(t.cancelled());
  EXPECT_THAT(log, IsEmpty());
  EXPECT_FALSE(cond.locked());  // with() released what wait() re-acquired
}

TEST(ConditionTest, WaitForReturnsThePredicatesFinalValue) {
  EventLoop loop(VirtualClock());
  int calls = 0;
  int value = 0;
  Condition cond;
  int result = loop.run_until_complete([&] {
    Task<void> producer = asyncio::create_task([&] {
      return asyncio::repeat([&] {
        return asyncio::sleep(1).then([&] {
          return Holding(cond, [&](Condition c) {
            ++value;
            c.notify_all();
          });
        }).then([&] { return value == 3 ? asyncio::Repeat::STOP : asyncio::Repeat::CONTINUE; });
      });
    });
    return asyncio::with(cond, [&] {
      return cond.wait_for([&] {
        ++calls;
        return value >= 3 ? value * 10 : 0;  // an int: 0 is false
      });
    });
  });
  EXPECT_EQ(result, 30);
  EXPECT_EQ(calls, 4);  // once now, once after each of three wake-ups
  EXPECT_EQ(loop.time(), 3.0);
  EXPECT_FALSE(cond.locked());
}

TEST(ConditionTest, WaitForWithATruePredicateDoesNotWait) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Condition cond;
    // As CPython: the predicate is checked first, so no lock is needed.
    Future<bool> f = cond.wait_for([] { return true; });
    EXPECT_TRUE(f.done());
    EXPECT_TRUE(f.result());
    // The predicate's own type: anything that converts to bool.
    Future<std::optional<std::string>> s =
        cond.wait_for([] { return std::optional<std::string>("x"); });
    EXPECT_EQ(s.result(), "x");
  });
}

struct NotReady : std::runtime_error {
  NotReady() : std::runtime_error("not ready") {}
};

TEST(ConditionTest, WaitForPropagatesThePredicatesException) {
  EventLoop loop(VirtualClock());
  int calls = 0;
  loop.run_until_complete([&calls] {
    Condition cond;
    EXPECT_THROW((void)cond.wait_for([]() -> bool { throw NotReady(); }), NotReady);
    EXPECT_TRUE(cond.acquire().done());
    Future<bool> f = cond.wait_for([&calls]() -> bool {
      if (++calls == 2) throw NotReady();
      return false;
    });
    EXPECT_FALSE(cond.locked());
    EXPECT_TRUE(cond.acquire().done());
    cond.notify();
    cond.release();
    return f.then_outcome([cond](Outcome<bool> o) {
      EXPECT_TRUE(o.has_exception());
      EXPECT_THROW(o.value(), NotReady);
      EXPECT_TRUE(cond.locked());  // wait() had re-acquired it
      cond.release();
    });
  });
  EXPECT_EQ(calls, 2);
}

TEST(ConditionTest, WithWorksOverTheConditionsLock) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  Condition cond;
  loop.run_until_complete([&] {
    std::vector<Task<void>> tasks{WithHolder(cond, &log, "a", 1), WithHolder(cond, &log, "b", 1),
                                  WithHolder(cond, &log, "c", 1)};
    return All(tasks);
  });
  EXPECT_THAT(log, ElementsAre("a in @0", "a out @1", "b in @1", "b out @2", "c in @2",
                               "c out @3"));
  EXPECT_FALSE(cond.locked());
}

TEST(ConditionTest, SharesTheLockItIsGiven) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Lock lock;
    Condition cond(lock);
    Condition other(lock);
    EXPECT_TRUE(lock.acquire().done());
    EXPECT_TRUE(cond.locked());
    EXPECT_TRUE(other.locked());
    Future<void> w = cond.wait();
    EXPECT_FALSE(lock.locked());
    EXPECT_TRUE(other.acquire().done());
    EXPECT_TRUE(lock.locked());
    other.notify_all();  // other's waiters: none; cond's waiter stays
    cond.notify();
    lock.release();
    EXPECT_TRUE(w.done());
    cond.release();
    EXPECT_FALSE(lock.locked());
  });
}

TEST(ConditionTest, SeedAsyncWithCondWait) {
  // cond = asyncio.Condition(); async with cond: await cond.wait()
  EventLoop loop(VirtualClock());
  bool notified = false;
  loop.run_until_complete([&] {
    Condition cond;
    Task<void> notifier = asyncio::create_task([&, cond] {
      return Holding(cond, [&](Condition c) {
        notified = true;
        c.notify();
      });
    });
    return asyncio::with(cond, [cond] { return cond.wait(); }).then([notifier] {
      return notifier;
    });
  });
  EXPECT_TRUE(notified);
}

TEST(ConditionTest, DroppedWithWaitingTasksWhenTheLoopCloses) {
  auto loop = std::make_unique<EventLoop>(VirtualClock());
  auto reports = CaptureReports(*loop);
  std::vector<std::string> log;
  loop->run_until_complete([&] {
    Condition cond;
    for (std::string name : {"a", "b", "c"}) (void)CondWaiter(cond, &log, name);
    // Notifies a and keeps the lock: a waits for the lock, b and c for a
    // notification, when the loop closes.
    (void)asyncio::create_task([cond] {
      return asyncio::sleep(1).then([cond] {
        return asyncio::with(cond, [cond] {
          cond.notify();
          return asyncio::sleep(100);
        });
      });
    });
    return asyncio::sleep(2);
  });
  loop.reset();
  EXPECT_THAT(log, IsEmpty());
  // The tasks still pending are reported as such (asyncio's "Task was
  // destroyed but it is pending!"), and nothing else is.
  EXPECT_THAT(*reports, ::testing::AllOf(::testing::Not(IsEmpty()),
                                         ::testing::Each(::testing::Eq(
                                             "Task was destroyed but it is pending!"))));
}

TEST(ConditionTest, DroppingTheLastHandleCancelsWaitersNoTaskAwaits) {
  EventLoop loop(VirtualClock());
  auto reports = CaptureReports(loop);
  loop.run_until_complete([] {
    Future<void> waiting;    // for a notification
    Future<void> notified;   // for the lock
    {
      Condition cond;
      EXPECT_TRUE(cond.acquire().done());
      notified = cond.wait();
      EXPECT_TRUE(cond.acquire().done());
      waiting = cond.wait();
      EXPECT_TRUE(cond.acquire().done());
      cond.notify();  // `notified` now waits for the lock we hold
    }
    EXPECT_TRUE(waiting.cancelled());
    EXPECT_TRUE(notified.cancelled());
  });
  loop.close();
  EXPECT_THAT(*reports, IsEmpty());
}

TEST(ConditionTest, DroppingTheConditionKeepsTheGivenLockUsable) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Lock lock;
    Future<void> w;
    {
      Condition cond(lock);
      EXPECT_TRUE(lock.acquire().done());
      w = cond.wait();
      EXPECT_TRUE(lock.acquire().done());
    }  // nobody can notify w: cancelled, it waits for the lock we hold
    EXPECT_FALSE(w.done());
    lock.release();
    EXPECT_TRUE(w.cancelled());
    EXPECT_TRUE(lock.locked());
    lock.release();
  });
}

// --- Semaphore and BoundedSemaphore --------------------------------------------

TEST(SemaphoreTest, NegativeInitialValueIsValueError) {
  EXPECT_THROW(Semaphore(-1), ValueError);
  EXPECT_THROW(BoundedSemaphore(-1), ValueError);
  EXPECT_NO_THROW(Semaphore(0));
}

TEST(SemaphoreTest, AcquireTakesPermitsUntilNoneIsLeft) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Semaphore sem(2);
    EXPECT_FALSE(sem.locked());
    EXPECT_TRUE(sem.acquire().done());
    EXPECT_FALSE(sem.locked());
    EXPECT_TRUE(sem.acquire().done());
    EXPECT_TRUE(sem.locked());
    Future<void> third = sem.acquire();
    EXPECT_FALSE(third.done());
    sem.release();  // the permit goes to the waiter
    EXPECT_TRUE(third.done());
    EXPECT_TRUE(sem.locked());
    sem.release();
    EXPECT_FALSE(sem.locked());
    sem.release();
  });
}

TEST(SemaphoreTest, DefaultIsOnePermitAndZeroIsLocked) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Semaphore one;
    EXPECT_TRUE(one.acquire().done());
    EXPECT_TRUE(one.locked());
    one.release();
    Semaphore zero(0);
    EXPECT_TRUE(zero.locked());
    Future<void> w = zero.acquire();
    EXPECT_FALSE(w.done());
    zero.release();
    EXPECT_TRUE(w.done());
  });
}

TEST(SemaphoreTest, WaitersAreServedInFifoOrder) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Semaphore sem(1);
    std::vector<Task<void>> tasks{WithHolder(sem, &log, "1", 1), WithHolder(sem, &log, "2", 1),
                                  WithHolder(sem, &log, "3", 1), WithHolder(sem, &log, "4", 1)};
    return All(tasks);
  });
  EXPECT_THAT(log, ElementsAre("1 in @0", "1 out @1", "2 in @1", "2 out @2", "3 in @2",
                               "3 out @3", "4 in @3", "4 out @4"));
}

TEST(SemaphoreTest, AtMostValueHoldersAtOnce) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Semaphore sem(2);
    std::vector<Task<void>> tasks;
    for (std::string name : {"a", "b", "c", "d", "e"}) tasks.push_back(WithHolder(sem, &log, name, 1));
    return All(tasks);
  });
  EXPECT_THAT(log, ElementsAre("a in @0", "b in @0", "a out @1", "b out @1", "c in @1", "d in @1",
                               "c out @2", "d out @2", "e in @2", "e out @3"));
  EXPECT_EQ(loop.time(), 3.0);
}

TEST(SemaphoreTest, NoBargingNewcomerWaitsBehindWokenWaiter) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Semaphore sem(1);
    EXPECT_TRUE(sem.acquire().done());
    Future<void> waiter = sem.acquire();
    sem.release();  // the permit is handed to the waiter ...
    EXPECT_TRUE(waiter.done());
    EXPECT_TRUE(sem.locked());
    Future<void> newcomer = sem.acquire();  // ... so the newcomer waits
    EXPECT_FALSE(newcomer.done());
    sem.release();
    EXPECT_TRUE(newcomer.done());
    sem.release();
  });
}

TEST(SemaphoreTest, CancelledWaiterDoesNotBlockThoseBehindIt) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Semaphore sem(0);
    Future<void> a = sem.acquire();
    Future<void> b = sem.acquire();
    Future<void> c = sem.acquire();
    EXPECT_TRUE(a.cancel());
    EXPECT_TRUE(sem.locked());
    sem.release();
    EXPECT_TRUE(b.done());
    EXPECT_FALSE(c.done());
    EXPECT_TRUE(c.cancel());
    EXPECT_TRUE(sem.locked());  // no permit free: b holds the only one
    sem.release();
    EXPECT_FALSE(sem.locked());
  });
}

TEST(SemaphoreTest, WokenWaiterCancelledBeforeItRanPassesThePermitOn) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  Semaphore sem(1);
  loop.run_until_complete([&] {
    EXPECT_TRUE(sem.acquire().done());
    Task<void> a = asyncio::create_task([&] {
      return sem.acquire().then([&] { log.push_back("a ran"); });
    });
    Task<void> b = asyncio::create_task([&] {
      return sem.acquire().then([&] {
        log.push_back("b acquired");
        sem.release();
      });
    });
    return asyncio::sleep(1).then([&, a, b] {
      sem.release();  // hands the permit to a ...
      a.cancel();     // ... whose task is cancelled before it resumes
      return Within(5, b);
    }).then([a] { EXPECT_TRUE(a.cancelled()); });
  });
  EXPECT_THAT(log, ElementsAre("b acquired"));
  EXPECT_FALSE(sem.locked());
  loop.run_until_complete([&] {  // exactly one permit is free again
    EXPECT_TRUE(sem.acquire().done());
    EXPECT_TRUE(sem.locked());
    sem.release();
  });
}

TEST(SemaphoreTest, ReleaseMayRaiseTheCountAboveTheInitialValue) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Semaphore sem(1);
    sem.release();
    EXPECT_TRUE(sem.acquire().done());
    EXPECT_TRUE(sem.acquire().done());
    EXPECT_TRUE(sem.locked());
  });
}

TEST(SemaphoreTest, WithReleasesThePermitOnEveryOutcome) {
  EventLoop loop(VirtualClock());
  Semaphore sem(1);
  EXPECT_EQ(loop.run_until_complete([&] {
    return asyncio::with(sem, [&] {
      EXPECT_TRUE(sem.locked());
      return asyncio::sleep(1, 7);
    });
  }), 7);
  EXPECT_FALSE(sem.locked());
  EXPECT_THROW(loop.run_until_complete([&] {
    return asyncio::with(sem, []() -> int { throw std::out_of_range("x"); });
  }), std::out_of_range);
  EXPECT_FALSE(sem.locked());
}

TEST(SemaphoreTest, DroppedWithWaitingTasksWhenTheLoopCloses) {
  auto loop = std::make_unique<EventLoop>(VirtualClock());
  auto reports = CaptureReports(*loop);
  loop->run_until_complete([] {
    Semaphore sem(1);
    BoundedSemaphore bounded(1);
    for (int i = 0; i < 3; ++i) {
      (void)asyncio::create_task([sem] { return asyncio::with(sem, [] { return asyncio::sleep(10); }); });
      (void)asyncio::create_task([bounded] { return asyncio::with(bounded, [] { return asyncio::sleep(10); }); });
    }
    (void)sem.acquire().then([] {});  // no task awaits it
    return asyncio::sleep(1);
  });
  loop.reset();
  // The tasks still pending are reported as such (asyncio's "Task was
  // destroyed but it is pending!"), and nothing else is.
  EXPECT_THAT(*reports, ::testing::AllOf(::testing::Not(IsEmpty()),
                                         ::testing::Each(::testing::Eq(
                                             "Task was destroyed but it is pending!"))));
}

TEST(BoundedSemaphoreTest, ReleaseAboveTheInitialValueIsValueError) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    BoundedSemaphore sem(2);
    EXPECT_THROW(sem.release(), ValueError);
    EXPECT_TRUE(sem.acquire().done());
    sem.release();
    EXPECT_THROW(sem.release(), ValueError);
    EXPECT_TRUE(sem.acquire().done());
    EXPECT_TRUE(sem.acquire().done());
    EXPECT_TRUE(sem.locked());
    sem.release();
    sem.release();
    EXPECT_THROW(sem.release(), ValueError);
    EXPECT_FALSE(sem.locked());
    BoundedSemaphore one;  // default: one permit
    EXPECT_THROW(one.release(), ValueError);
    Semaphore sliced = one;  // a Semaphore handle to the bounded state
    EXPECT_THROW(sliced.release(), ValueError);
  });
}

TEST(BoundedSemaphoreTest, WaitersAreServedInFifoOrderAndWokenCancelledPassesOn) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  BoundedSemaphore sem(1);
  loop.run_until_complete([&] {
    EXPECT_TRUE(sem.acquire().done());
    std::vector<Task<void>> tasks;
    for (std::string name : {"a", "b", "c", "d"}) {
      tasks.push_back(asyncio::create_task([&, name] {
        return sem.acquire().then([&, name] {
          log.push_back(name);
          sem.release();
        });
      }));
    }
    return asyncio::sleep(1).then([&, tasks] {
      sem.release();      // to a ...
      tasks[0].cancel();  // ... cancelled before it resumed: b, c, d follow
      return Within(5, tasks[3]).then([tasks] { EXPECT_TRUE(tasks[0].cancelled()); });
    });
  });
  EXPECT_THAT(log, ElementsAre("b", "c", "d"));
  EXPECT_FALSE(sem.locked());
  loop.run_until_complete([&] { EXPECT_THROW(sem.release(), ValueError); });
}

// --- Barrier -------------------------------------------------------------------

// A task that arrives at `barrier` after `delay` seconds and logs
// "<name> <index> @<time>" when released, or "<name> broken @<time>".
Task<void> Party(Barrier barrier, std::vector<std::string>* log, std::string name, double delay) {
  return asyncio::create_task([=] {
    return asyncio::sleep(delay)
        .then([=] { return barrier.wait(); })
        .then([=](int index) { log->push_back(name + " " + std::to_string(index) + " @" + Now()); })
        .catch_error<BrokenBarrierError>([=](const BrokenBarrierError&) {
          log->push_back(name + " broken @" + Now());
        });
  });
}

TEST(BarrierTest, PartiesBelowOneIsValueError) {
  EXPECT_THROW(Barrier(0), ValueError);
  EXPECT_THROW(Barrier(-2), ValueError);
  EXPECT_EQ(Barrier(1).parties(), 1);
}

TEST(BarrierTest, WaitReturnsTheArrivalIndexOnceAllHaveArrived) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  std::vector<int> n_waiting;
  loop.run_until_complete([&] {
    Barrier barrier(3);
    EXPECT_EQ(barrier.parties(), 3);
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
    std::vector<Task<void>> tasks{Party(barrier, &log, "a", 1), Party(barrier, &log, "b", 2),
                                  Party(barrier, &log, "c", 3)};
    Task<void> watch = asyncio::create_task([&, barrier] {
      return asyncio::sleep(1.5)
          .then([&, barrier] { n_waiting.push_back(barrier.n_waiting()); })
          .then([] { return asyncio::sleep(1); })
          .then([&, barrier] { n_waiting.push_back(barrier.n_waiting()); })
          .then([] { return asyncio::sleep(1); })
          .then([&, barrier] { n_waiting.push_back(barrier.n_waiting()); });
    });
    tasks.push_back(watch);
    return All(tasks);
  });
  EXPECT_THAT(log, ElementsAre("c 2 @3", "a 0 @3", "b 1 @3"));
  EXPECT_THAT(n_waiting, ElementsAre(1, 2, 0));
}

TEST(BarrierTest, TheLastPartyDoesNotWait) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Barrier single(1);
    Future<int> s = single.wait();
    EXPECT_TRUE(s.done());
    EXPECT_EQ(s.result(), 0);
    Barrier pair(2);
    Future<int> first = pair.wait();
    EXPECT_FALSE(first.done());
    EXPECT_EQ(pair.n_waiting(), 1);
    Future<int> second = pair.wait();
    EXPECT_TRUE(second.done());
    EXPECT_EQ(second.result(), 1);
    EXPECT_TRUE(first.done());
    EXPECT_EQ(first.result(), 0);
    EXPECT_EQ(pair.n_waiting(), 0);
  });
}

TEST(BarrierTest, PartiesAreReleasedInArrivalOrderRoundAfterRound) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Barrier barrier(4);
    std::vector<Task<void>> tasks;
    for (int round = 0; round < 2; ++round) {
      for (std::string name : {"a", "b", "c", "d"}) {
        tasks.push_back(Party(barrier, &log, name + std::to_string(round), round * 10 + 1));
      }
    }
    return All(tasks);
  });
  EXPECT_THAT(log, ElementsAre("d0 3 @1", "a0 0 @1", "b0 1 @1", "c0 2 @1",  //
                               "d1 3 @11", "a1 0 @11", "b1 1 @11", "c1 2 @11"));
}

TEST(BarrierTest, AbortBreaksTheWaitersAndLaterWaits) {
  EventLoop loop(VirtualClock());
  auto reports = CaptureReports(loop);
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Barrier barrier(3);
    std::vector<Task<void>> tasks{Party(barrier, &log, "a", 1), Party(barrier, &log, "b", 1)};
    return asyncio::sleep(2).then([&, barrier, tasks] {
      EXPECT_EQ(barrier.n_waiting(), 2);
      barrier.abort();
      EXPECT_TRUE(barrier.broken());
      EXPECT_EQ(barrier.n_waiting(), 0);
      Future<int> late = barrier.wait();
      EXPECT_TRUE(late.done());
      EXPECT_THROW(late.result(), BrokenBarrierError);
      barrier.abort();  // again: no change
      EXPECT_TRUE(barrier.broken());
      return All(tasks);
    });
  });
  EXPECT_THAT(log, ElementsAre("a broken @2", "b broken @2"));
  loop.close();
  EXPECT_THAT(*reports, IsEmpty());
}

TEST(BarrierTest, ResetBreaksTheWaitersAndStartsAFreshRound) {
  EventLoop loop(VirtualClock());
  auto reports = CaptureReports(loop);
  std::vector<std::string> log;
  loop.run_until_complete([&] {
    Barrier barrier(2);
    Task<void> a = Party(barrier, &log, "a", 1);
    return asyncio::sleep(2).then([&, barrier, a] {
      barrier.reset();
      EXPECT_FALSE(barrier.broken());
      EXPECT_EQ(barrier.n_waiting(), 0);
      std::vector<Task<void>> next{a, Party(barrier, &log, "b", 1), Party(barrier, &log, "c", 2)};
      return All(next);
    });
  });
  EXPECT_THAT(log, ElementsAre("a broken @2", "c 1 @4", "b 0 @4"));
  loop.close();
  EXPECT_THAT(*reports, IsEmpty());
}

TEST(BarrierTest, ResetRepairsABrokenBarrier) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Barrier barrier(2);
    barrier.abort();
    EXPECT_TRUE(barrier.broken());
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
    Future<int> a = barrier.wait();
    Future<int> b = barrier.wait();
    EXPECT_EQ(a.result(), 0);
    EXPECT_EQ(b.result(), 1);
  });
}

TEST(BarrierTest, CancelledWaiterLeavesTheBarrier) {
  EventLoop loop(VirtualClock());
  loop.run_until_complete([] {
    Barrier barrier(3);
    Future<int> a = barrier.wait();
    Future<int> b = barrier.wait();
    EXPECT_EQ(barrier.n_waiting(), 2);
    EXPECT_TRUE(a.cancel());
    EXPECT_EQ(barrier.n_waiting(), 1);
    Future<int> c = barrier.wait();  // the second of three again
    EXPECT_FALSE(c.done());
    Future<int> d = barrier.wait();
    EXPECT_TRUE(a.cancelled());
    // CPython's indices: the arrival count when each arrived.
    EXPECT_EQ(b.result(), 1);
    EXPECT_EQ(c.result(), 1);
    EXPECT_EQ(d.result(), 2);
  });
}

TEST(BarrierTest, ReleasedPartyCancelledBeforeItRanTakesTheCancellation) {
  EventLoop loop(VirtualClock());
  std::vector<std::string> log;
  Barrier barrier(3);
  loop.run_until_complete([&] {
    Task<void> a = Party(barrier, &log, "a", 1);
    Task<void> b = Party(barrier, &log, "b", 1);
    return asyncio::sleep(2).then([&, a, b] {
      Future<int> last = barrier.wait();  // releases a and b ...
      EXPECT_EQ(last.result(), 2);
      a.cancel();  // ... and a's task is cancelled before it resumes
      return Within(5, b).then([a] { EXPECT_TRUE(a.cancelled()); });
    });
  });
  EXPECT_THAT(log, ElementsAre("b 1 @2"));
  EXPECT_EQ(barrier.n_waiting(), 0);
  EXPECT_FALSE(barrier.broken());
  loop.run_until_complete([&] {  // the next round is unaffected
    Future<int> x = barrier.wait();
    Future<int> y = barrier.wait();
    Future<int> z = barrier.wait();
    EXPECT_EQ(x.result() + y.result() + z.result(), 3);
  });
}

TEST(BarrierTest, DroppedWithWaitingTasksWhenTheLoopCloses) {
  auto loop = std::make_unique<EventLoop>(VirtualClock());
  auto reports = CaptureReports(*loop);
  loop->run_until_complete([] {
    Barrier barrier(5);
    for (int i = 0; i < 3; ++i) (void)asyncio::create_task([barrier] { return barrier.wait(); });
    (void)barrier.wait().then([](int) { ADD_FAILURE() << "never released"; });
    return asyncio::sleep(1);
  });
  loop.reset();
  EXPECT_THAT(*reports, IsEmpty());
}

TEST(BarrierTest, UsingABarrierFromAnotherLoopIsRuntimeError) {
  Barrier barrier(2);
  EventLoop loop(VirtualClock());
  loop.run_until_complete([&] { (void)barrier.wait().cancel(); });
  EventLoop other(VirtualClock());
  other.run_until_complete([&] { EXPECT_THROW((void)barrier.wait(), RuntimeError); });
}

}  // namespace
