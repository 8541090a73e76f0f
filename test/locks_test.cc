// Tests for asyncio/locks.h: Lock (FIFO, no barging, cancelled waiters,
// woken-then-cancelled waiters, release errors), Event, with().
//
// Timing is tested on the virtual clock.
#include "asyncio/locks.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "asyncio/asyncio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

namespace {

using asyncio::CancelledError;
using asyncio::Event;
using asyncio::EventLoop;
using asyncio::ExceptionContext;
using asyncio::Future;
using asyncio::Lock;
using asyncio::Outcome;
using asyncio::RuntimeError;
using asyncio::Task;
using ::testing::ElementsAre;
using asyncio_test::VirtualClock;

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

}  // namespace
