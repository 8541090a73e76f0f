// Tests for asyncio/queues.h: Queue, LifoQueue and PriorityQueue.
//
// QueuesTest is one behaviour suite over every queue kind with an int and a
// move-only item (std::unique_ptr<int>): put/get and the _nowait forms and
// their errors, waiting, FIFO fairness of getters and putters with three
// waiters, hand-off without barging, a waiter cancelled while it waits, a
// waiter woken and cancelled before its task resumed (getter, putter,
// joiner), task_done/join, shutdown (3.13), queues dropped with waiters.
// QueueTest, LifoQueueTest and PriorityQueueTest test the orders. Every
// test runs on the virtual clock, and its loop's exception handler must
// report nothing (no exception "never retrieved").
#include "asyncio/queues.h"

#include <cstdlib>
#include <functional>
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

using asyncio::EventLoop;
using asyncio::ExceptionContext;
using asyncio::Future;
using asyncio::LifoQueue;
using asyncio::PriorityQueue;
using asyncio::Queue;
using asyncio::QueueEmpty;
using asyncio::QueueFull;
using asyncio::QueueShutDown;
using asyncio::Repeat;
using asyncio::RuntimeError;
using asyncio::Task;
using asyncio::ValueError;
using asyncio_test::CancelMessage;
using asyncio_test::VirtualClock;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Log = std::vector<std::string>;

// --- Items ------------------------------------------------------------------

// Orders std::unique_ptr<int> items by the ints they point to.
struct PointeeLess {
  bool operator()(const std::unique_ptr<int>& a,
                  const std::unique_ptr<int>& b) const {
    return *a < *b;
  }
};

template <class T>
T Item(int v) {
  if constexpr (std::is_same_v<T, int>) {
    return v;
  } else {
    return std::make_unique<int>(v);
  }
}
int ValueOf(int v) { return v; }
int ValueOf(const std::unique_ptr<int>& p) { return p ? *p : -1; }

template <class Q>
using ItemOf = typename Q::value_type;

// --- Tasks ------------------------------------------------------------------

// A task that gets one item and logs "name:value".
template <class Q>
Task<void> Getter(const Q& q, Log* log, std::string name) {
  return asyncio::create_task([q, log, name] {
    return q.get().then([log, name](ItemOf<Q> item) {
      log->push_back(name + ":" + std::to_string(ValueOf(item)));
    });
  });
}

// A task that puts Item(v) and logs "name put".
template <class Q>
Task<void> Putter(const Q& q, Log* log, std::string name, int v) {
  return asyncio::create_task([q, log, name, v] {
    return q.put(Item<ItemOf<Q>>(v)).then([log, name] {
      log->push_back(name + " put");
    });
  });
}

// A task that joins the queue and logs "name joined".
template <class Q>
Task<void> Joiner(const Q& q, Log* log, std::string name) {
  return asyncio::create_task([q, log, name] {
    return q.join().then([log, name] { log->push_back(name + " joined"); });
  });
}

// Takes every stored item out with get_nowait(), in order.
template <class Q>
std::vector<int> Drain(const Q& q) {
  std::vector<int> out;
  while (!q.empty()) out.push_back(ValueOf(q.get_nowait()));
  return out;
}

// --- Fixture ----------------------------------------------------------------

// A loop on the virtual clock whose exception handler records every report;
// at the end the loop is closed (pending tasks are cancelled, pending
// reports flushed) and there must be none.
class LoopTest : public ::testing::Test {
 protected:
  LoopTest() : loop_(VirtualClock()) {
    loop_.set_exception_handler(
        [this](EventLoop&, const ExceptionContext& c) {
          reports_.push_back(c.message + " (" + c.future + ")");
        });
  }
  void TearDown() override {
    loop_.close();
    EXPECT_THAT(reports_, IsEmpty());
  }

  // Runs `f` inside the loop (in a task), then lets everything it started
  // settle: returns when the loop has nothing ready.
  template <class F>
  void Run(F&& f) {
    loop_.run_until_complete([&f] {
      f();
      return asyncio::sleep(1);
    });
  }

  EventLoop loop_;
  Log reports_;
};

// ============================================================================
// QueuesTest: every kind, int and move-only items.
// ============================================================================

template <class Q>
class QueuesTest : public LoopTest {};

// The file is compiled three times (test/BUILD.bazel), once per queue
// kind, so that no one translation unit instantiates the whole suite six
// times (it took 10+ minutes to compile under the sanitizers).
#if QUEUES_TEST_KIND == 0
using QueueKinds =
    ::testing::Types<Queue<int>, Queue<std::unique_ptr<int>>>;
#elif QUEUES_TEST_KIND == 1
using QueueKinds =
    ::testing::Types<LifoQueue<int>, LifoQueue<std::unique_ptr<int>>>;
#elif QUEUES_TEST_KIND == 2
using QueueKinds =
    ::testing::Types<PriorityQueue<int>,
                     PriorityQueue<std::unique_ptr<int>, PointeeLess>>;
#else
#error "QUEUES_TEST_KIND must be 0 (Queue), 1 (LifoQueue) or 2 (PriorityQueue)"
#endif
TYPED_TEST_SUITE(QueuesTest, QueueKinds);

// --- The _nowait forms and the sizes ----------------------------------------

TYPED_TEST(QueuesTest, NowaitRoundTripAndSizes) {
  using T = ItemOf<TypeParam>;
  TypeParam q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 0u);
  q.put_nowait(Item<T>(7));  // no loop needed
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
  q.put_nowait(Item<T>(7));
  EXPECT_TRUE(q.full());
  EXPECT_EQ(ValueOf(q.get_nowait()), 7);
  EXPECT_EQ(ValueOf(q.get_nowait()), 7);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(QueuesTest, GetNowaitOnEmptyQueueThrowsQueueEmpty) {
  TypeParam q;
  EXPECT_THROW((void)q.get_nowait(), QueueEmpty);
}

TYPED_TEST(QueuesTest, PutNowaitOnFullQueueThrowsQueueFull) {
  using T = ItemOf<TypeParam>;
  TypeParam q(1);
  q.put_nowait(Item<T>(1));
  EXPECT_THROW(q.put_nowait(Item<T>(2)), QueueFull);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(ValueOf(q.get_nowait()), 1);
}

TYPED_TEST(QueuesTest, UnboundedQueueIsNeverFull) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  EXPECT_EQ(q.maxsize(), 0u);
  for (int i = 0; i < 1000; ++i) q.put_nowait(Item<T>(i));
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 1000u);
}

// --- put and get that need not wait ------------------------------------------

TYPED_TEST(QueuesTest, PutOnNonFullQueueAndGetOnNonEmptyQueueAreDoneAtOnce) {
  using T = ItemOf<TypeParam>;
  this->Run([] {
    TypeParam q(1);
    Future<void> put = q.put(Item<T>(5));
    EXPECT_TRUE(put.done());
    EXPECT_TRUE(q.full());
    Future<T> got = q.get();
    EXPECT_TRUE(got.done());
    EXPECT_EQ(ValueOf(got.result()), 5);
    EXPECT_TRUE(q.empty());
  });
}

// --- Waiting -----------------------------------------------------------------

TYPED_TEST(QueuesTest, GetWaitsUntilAPutBringsAnItem) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  double got_at = -1;
  this->loop_.run_until_complete([&] {
    Future<void> got = q.get().then([&](T item) {
      log.push_back("got " + std::to_string(ValueOf(item)));
      got_at = this->loop_.time();
    });
    EXPECT_FALSE(got.done());
    return asyncio::sleep(2).then([&, got] {
      EXPECT_FALSE(got.done());
      q.put_nowait(Item<T>(9));
      return got;
    });
  });
  EXPECT_THAT(log, ElementsAre("got 9"));
  EXPECT_EQ(got_at, 2.0);
}

TYPED_TEST(QueuesTest, PutWaitsWhileFullAndGoesInWhenAGetFreesASlot) {
  using T = ItemOf<TypeParam>;
  TypeParam q(1);
  this->Run([&] {
    q.put_nowait(Item<T>(1));
    Future<void> put = q.put(Item<T>(2));
    EXPECT_FALSE(put.done());
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(ValueOf(q.get_nowait()), 1);
    // The slot went to the waiting putter at once: its item is in.
    EXPECT_TRUE(put.done());
    EXPECT_TRUE(q.full());
    EXPECT_EQ(ValueOf(q.get_nowait()), 2);
  });
}

// --- Fairness ----------------------------------------------------------------

TYPED_TEST(QueuesTest, GettersAreServedInFifoOrder) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  this->Run([&] {
    (void)Getter(q, &log, "g1");
    (void)Getter(q, &log, "g2");
    (void)Getter(q, &log, "g3");
  });
  this->Run([&] {
    q.put_nowait(Item<T>(1));
    q.put_nowait(Item<T>(2));
    q.put_nowait(Item<T>(3));
  });
  EXPECT_THAT(log, ElementsAre("g1:1", "g2:2", "g3:3"));
}

TYPED_TEST(QueuesTest, PuttersAreServedInFifoOrder) {
  using T = ItemOf<TypeParam>;
  TypeParam q(1);
  Log log;
  this->Run([&] {
    q.put_nowait(Item<T>(0));
    (void)Putter(q, &log, "p1", 1);
    (void)Putter(q, &log, "p2", 2);
    (void)Putter(q, &log, "p3", 3);
  });
  std::vector<int> got;
  for (int i = 0; i < 4; ++i) {
    this->Run([&] { got.push_back(ValueOf(q.get_nowait())); });
  }
  EXPECT_THAT(got, ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(log, ElementsAre("p1 put", "p2 put", "p3 put"));
}

// Hand-off: the item a put hands to a waiting getter is that getter's; a
// get that comes in between does not see it (and qsize() does not count
// it: a documented deviation).
TYPED_TEST(QueuesTest, ItemHandedToAWaitingGetterIsNotTakenByALaterGet) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  this->Run([&] { (void)Getter(q, &log, "g1"); });
  this->Run([&] {
    q.put_nowait(Item<T>(4));
    EXPECT_EQ(q.qsize(), 0u);
    EXPECT_TRUE(q.empty());
    EXPECT_THROW((void)q.get_nowait(), QueueEmpty);
    Future<T> later = q.get();
    EXPECT_FALSE(later.done());
    later.cancel();
  });
  EXPECT_THAT(log, ElementsAre("g1:4"));
}

TYPED_TEST(QueuesTest, SlotFreedForAWaitingPutterIsNotTakenByALaterPut) {
  using T = ItemOf<TypeParam>;
  TypeParam q(1);
  Log log;
  this->Run([&] {
    q.put_nowait(Item<T>(0));
    (void)Putter(q, &log, "p1", 1);
  });
  this->Run([&] {
    EXPECT_EQ(ValueOf(q.get_nowait()), 0);
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put_nowait(Item<T>(2)), QueueFull);
    Future<void> later = q.put(Item<T>(3));
    EXPECT_FALSE(later.done());
    later.cancel();
  });
  EXPECT_THAT(log, ElementsAre("p1 put"));
  EXPECT_THAT(Drain(q), ElementsAre(1));
}

// --- Cancelled while waiting -------------------------------------------------

TYPED_TEST(QueuesTest, CancelledGetterDoesNotBlockThoseBehindIt) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  Task<void> g2;
  this->Run([&] {
    (void)Getter(q, &log, "g1");
    g2 = Getter(q, &log, "g2");
    (void)Getter(q, &log, "g3");
  });
  this->Run([&] { EXPECT_TRUE(g2.cancel()); });
  this->Run([&] {
    q.put_nowait(Item<T>(1));
    q.put_nowait(Item<T>(2));
  });
  EXPECT_THAT(log, ElementsAre("g1:1", "g3:2"));
  EXPECT_TRUE(g2.cancelled());
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(QueuesTest, CancelledPutterInsertsNothingAndDoesNotBlockThoseBehindIt) {
  using T = ItemOf<TypeParam>;
  TypeParam q(1);
  Log log;
  Task<void> p2;
  this->Run([&] {
    q.put_nowait(Item<T>(0));
    (void)Putter(q, &log, "p1", 1);
    p2 = Putter(q, &log, "p2", 2);
    (void)Putter(q, &log, "p3", 3);
  });
  this->Run([&] { EXPECT_TRUE(p2.cancel()); });
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) {
    this->Run([&] { got.push_back(ValueOf(q.get_nowait())); });
  }
  EXPECT_THAT(got, ElementsAre(0, 1, 3));
  EXPECT_THAT(log, ElementsAre("p1 put", "p3 put"));
  EXPECT_TRUE(p2.cancelled());
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(QueuesTest, CancelledJoinerDoesNotKeepTheOthersWaiting) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  Task<void> j2;
  this->Run([&] {
    q.put_nowait(Item<T>(1));
    (void)Joiner(q, &log, "j1");
    j2 = Joiner(q, &log, "j2");
    (void)Joiner(q, &log, "j3");
  });
  this->Run([&] { EXPECT_TRUE(j2.cancel()); });
  EXPECT_THAT(log, IsEmpty());
  this->Run([&] {
    (void)q.get_nowait();
    q.task_done();
  });
  EXPECT_THAT(log, ElementsAre("j1 joined", "j3 joined"));
  EXPECT_TRUE(j2.cancelled());
}

// --- Woken, then cancelled before the task resumed ----------------------------

TYPED_TEST(QueuesTest, WokenGetterCancelledBeforeItResumedPassesItsItemToTheNextGetter) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  Task<void> g1;
  this->Run([&] {
    g1 = Getter(q, &log, "g1");
    (void)Getter(q, &log, "g2");
    (void)Getter(q, &log, "g3");
  });
  this->Run([&] {
    q.put_nowait(Item<T>(7));  // handed to g1 ...
    EXPECT_TRUE(g1.cancel());  // ... whose task is cancelled before it resumes
  });
  EXPECT_THAT(log, ElementsAre("g2:7"));
  EXPECT_TRUE(g1.cancelled());
  EXPECT_TRUE(q.empty());
  this->Run([&] { q.put_nowait(Item<T>(8)); });
  EXPECT_THAT(log, ElementsAre("g2:7", "g3:8"));
}

TYPED_TEST(QueuesTest, WokenGetterCancelledWithNobodyWaitingPutsItsItemBack) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  Task<void> g1;
  this->Run([&] { g1 = Getter(q, &log, "g1"); });
  this->Run([&] {
    q.put_nowait(Item<T>(7));
    g1.cancel();
  });
  EXPECT_THAT(log, IsEmpty());
  EXPECT_TRUE(g1.cancelled());
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_THAT(Drain(q), ElementsAre(7));
  // The item still counts as unfinished: it was put once.
  q.task_done();
  EXPECT_THROW(q.task_done(), ValueError);
}

// get() on a non-empty queue returns a done future that holds the item; a
// continuation cancelled before it ran gives the item back.
TYPED_TEST(QueuesTest, DoneGetCancelledBeforeItsContinuationRanKeepsTheItem) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  this->Run([&] {
    q.put_nowait(Item<T>(3));
    Future<void> f = q.get().then([&](T item) {
      log.push_back("got " + std::to_string(ValueOf(item)));
    });
    EXPECT_TRUE(q.empty());
    EXPECT_TRUE(f.cancel());
  });
  EXPECT_THAT(log, IsEmpty());
  EXPECT_THAT(Drain(q), ElementsAre(3));
}

TYPED_TEST(QueuesTest, WokenPutterCancelledBeforeItResumedLeavesItsItemIn) {
  using T = ItemOf<TypeParam>;
  TypeParam q(1);
  Log log;
  Task<void> p1;
  this->Run([&] {
    q.put_nowait(Item<T>(0));
    p1 = Putter(q, &log, "p1", 1);
    (void)Putter(q, &log, "p2", 2);
    (void)Putter(q, &log, "p3", 3);
  });
  this->Run([&] {
    EXPECT_EQ(ValueOf(q.get_nowait()), 0);  // p1's item goes in ...
    EXPECT_TRUE(p1.cancel());               // ... and its task is cancelled
  });
  EXPECT_TRUE(p1.cancelled());
  EXPECT_THAT(log, IsEmpty());
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) {
    this->Run([&] { got.push_back(ValueOf(q.get_nowait())); });
  }
  EXPECT_THAT(got, ElementsAre(1, 2, 3));  // documented: p1's item stays in
  EXPECT_THAT(log, ElementsAre("p2 put", "p3 put"));
}

TYPED_TEST(QueuesTest, WokenJoinerCancelledBeforeItResumedDoesNotAffectTheOthers) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  Task<void> j1;
  this->Run([&] {
    q.put_nowait(Item<T>(1));
    j1 = Joiner(q, &log, "j1");
    (void)Joiner(q, &log, "j2");
    (void)Joiner(q, &log, "j3");
  });
  this->Run([&] {
    (void)q.get_nowait();
    q.task_done();  // wakes every joiner ...
    EXPECT_TRUE(j1.cancel());  // ... and j1's task is cancelled
  });
  EXPECT_TRUE(j1.cancelled());
  EXPECT_THAT(log, ElementsAre("j2 joined", "j3 joined"));
  EXPECT_THROW(q.task_done(), ValueError);
}

// --- task_done and join -------------------------------------------------------

TYPED_TEST(QueuesTest, JoinCompletesWhenEveryItemIsDone) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  this->Run([&] {
    EXPECT_TRUE(q.join().done());  // nothing unfinished
    q.put_nowait(Item<T>(1));
    q.put_nowait(Item<T>(2));
    (void)Joiner(q, &log, "j");
  });
  this->Run([&] {
    (void)q.get_nowait();
    (void)q.get_nowait();
    q.task_done();
  });
  EXPECT_THAT(log, IsEmpty());  // one item is not done yet
  this->Run([&] { q.task_done(); });
  EXPECT_THAT(log, ElementsAre("j joined"));
  this->Run([&] { EXPECT_TRUE(q.join().done()); });
}

TYPED_TEST(QueuesTest, TaskDoneCalledMoreTimesThanItemsIsValueError) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  EXPECT_THROW(q.task_done(), ValueError);
  q.put_nowait(Item<T>(1));
  q.task_done();  // before the get: allowed, as in CPython
  EXPECT_THROW(q.task_done(), ValueError);
}

// --- shutdown (3.13) -----------------------------------------------------------

TYPED_TEST(QueuesTest, ShutdownFailsWaitingGettersAndEveryLaterPut) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  Task<void> g1, g2, g3;
  this->Run([&] {
    g1 = Getter(q, &log, "g1");
    g2 = Getter(q, &log, "g2");
    g3 = Getter(q, &log, "g3");
  });
  Future<void> put;
  Future<T> get;
  this->Run([&] {
    q.shutdown();
    put = q.put(Item<T>(1));
    get = q.get();
    EXPECT_THROW(q.put_nowait(Item<T>(2)), QueueShutDown);
    EXPECT_THROW((void)q.get_nowait(), QueueShutDown);  // not QueueEmpty
  });
  for (const Task<void>& g : {g1, g2, g3}) EXPECT_THROW(g.result(), QueueShutDown);
  EXPECT_THROW(put.result(), QueueShutDown);
  EXPECT_THROW((void)get.result(), QueueShutDown);
  EXPECT_THAT(log, IsEmpty());
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(QueuesTest, ShutdownFailsWaitingPuttersAndGetsDrainWhatIsLeft) {
  using T = ItemOf<TypeParam>;
  TypeParam q(2);
  Log log;
  Task<void> p1, p2, p3;
  this->Run([&] {
    q.put_nowait(Item<T>(1));
    q.put_nowait(Item<T>(2));
    p1 = Putter(q, &log, "p1", 3);
    p2 = Putter(q, &log, "p2", 4);
    p3 = Putter(q, &log, "p3", 5);
  });
  std::vector<int> got;
  this->Run([&] {
    q.shutdown();
    EXPECT_EQ(q.qsize(), 2u);  // the putters' items were not inserted
    Future<T> first = q.get();
    EXPECT_TRUE(first.done());
    got.push_back(ValueOf(first.result()));
    got.push_back(ValueOf(q.get_nowait()));
    EXPECT_THROW((void)q.get_nowait(), QueueShutDown);
  });
  for (const Task<void>& p : {p1, p2, p3}) EXPECT_THROW(p.result(), QueueShutDown);
  EXPECT_THAT(got, UnorderedElementsAre(1, 2));
  EXPECT_THAT(log, IsEmpty());
  // task_done still counts after shutdown.
  q.task_done();
  q.task_done();
  EXPECT_THROW(q.task_done(), ValueError);
}

TYPED_TEST(QueuesTest, ShutdownImmediateDropsTheItemsAndReleasesJoin) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  this->Run([&] {
    for (int i = 0; i < 3; ++i) q.put_nowait(Item<T>(i));
    (void)Joiner(q, &log, "j");
  });
  EXPECT_THAT(log, IsEmpty());
  Future<T> get;
  this->Run([&] {
    q.shutdown(true);
    EXPECT_TRUE(q.empty());
    get = q.get();
  });
  EXPECT_THAT(log, ElementsAre("j joined"));
  EXPECT_THROW((void)get.result(), QueueShutDown);
  EXPECT_THROW(q.task_done(), ValueError);  // every item was counted done
}

TYPED_TEST(QueuesTest, ShutdownImmediateCountsOnlyTheDroppedItemsAsDone) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  this->Run([&] {
    q.put_nowait(Item<T>(1));
    q.put_nowait(Item<T>(2));
    (void)q.get_nowait();  // taken, not yet done
    (void)Joiner(q, &log, "j");
  });
  this->Run([&] { q.shutdown(true); });
  EXPECT_THAT(log, IsEmpty());
  this->Run([&] { q.task_done(); });
  EXPECT_THAT(log, ElementsAre("j joined"));
}

TYPED_TEST(QueuesTest, ShutdownIsIdempotentAndImmediateAfterPlainDropsTheRest) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  q.put_nowait(Item<T>(1));
  q.put_nowait(Item<T>(2));
  q.shutdown();
  q.shutdown();
  EXPECT_EQ(q.qsize(), 2u);
  q.shutdown(true);
  EXPECT_TRUE(q.empty());
  q.shutdown();  // stays immediate
  EXPECT_THROW((void)q.get_nowait(), QueueShutDown);
  EXPECT_THROW(q.task_done(), ValueError);
}

TYPED_TEST(QueuesTest, WokenGetterCancelledAfterShutdownPutsItsItemBackToBeDrained) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  Task<void> g1;
  this->Run([&] { g1 = Getter(q, &log, "g1"); });
  this->Run([&] {
    q.put_nowait(Item<T>(7));
    q.shutdown();
    g1.cancel();
  });
  EXPECT_TRUE(g1.cancelled());
  EXPECT_THAT(Drain(q), ElementsAre(7));
  EXPECT_THROW((void)q.get_nowait(), QueueShutDown);
}

TYPED_TEST(QueuesTest, WokenGetterCancelledAfterShutdownImmediateDropsItsItem) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  Task<void> g1;
  this->Run([&] { g1 = Getter(q, &log, "g1"); });
  Future<void> joined;
  this->Run([&] {
    q.put_nowait(Item<T>(7));  // handed to g1; one item unfinished
    joined = q.join();
    q.shutdown(true);          // nothing stored to drop: join still waits
    EXPECT_FALSE(joined.done());
    g1.cancel();  // g1's item is dropped as shutdown would have: done
  });
  EXPECT_TRUE(g1.cancelled());
  EXPECT_THAT(log, IsEmpty());
  EXPECT_TRUE(joined.done());
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.task_done(), ValueError);
}

// Deviation: an item handed over before shutdown(true) is the getter's.
TYPED_TEST(QueuesTest, ItemHandedOverBeforeShutdownImmediateIsTheGetters) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  Log log;
  this->Run([&] { (void)Getter(q, &log, "g1"); });
  this->Run([&] {
    q.put_nowait(Item<T>(7));
    q.shutdown(true);
  });
  EXPECT_THAT(log, ElementsAre("g1:7"));
}

// --- Lifetime ----------------------------------------------------------------

// Dropping the last handle cancels the operations still waiting: the
// tasks awaiting them end cancelled, a waiting put's item is dropped.
TYPED_TEST(QueuesTest, DroppingTheLastHandleCancelsTheWaitingOperations) {
  using T = ItemOf<TypeParam>;
  Log log;
  std::vector<Task<void>> tasks;
  {
    TypeParam empty_q;
    TypeParam full_q(1);
    this->Run([&] {
      full_q.put_nowait(Item<T>(1));
      for (int i = 0; i < 3; ++i) {
        tasks.push_back(Getter(empty_q, &log, "g"));
        tasks.push_back(Putter(full_q, &log, "p", 2));
        tasks.push_back(Joiner(full_q, &log, "j"));
      }
    });
    for (const Task<void>& t : tasks) EXPECT_FALSE(t.done());
  }  // the last handles go (the tasks' bodies held copies until they ran)
  this->Run([] {});
  EXPECT_THAT(log, IsEmpty());
  for (const Task<void>& t : tasks) {
    ASSERT_TRUE(t.cancelled());
    EXPECT_EQ(CancelMessage(t), "Queue dropped while tasks waited on it");
  }
}

// The continuations of the waiting tasks hold handles (as a worker's loop
// does): the queues live until the loop closes and cancels the tasks, which
// unlinks their waiters and frees the queues. AddressSanitizer checks that
// nothing leaks.
TYPED_TEST(QueuesTest, QueueHeldByWaitingTasksWhenTheLoopCloses) {
  using T = ItemOf<TypeParam>;
  {
    TypeParam held_empty;
    TypeParam held_full(1);
    this->Run([&] {
      held_full.put_nowait(Item<T>(1));
      for (int i = 0; i < 3; ++i) {
        (void)asyncio::create_task([held_empty] {
          return held_empty.get().then([held_empty](T) {});
        });
        (void)asyncio::create_task([held_full] {
          return held_full.put(Item<T>(2)).then([held_full] {});
        });
        (void)asyncio::create_task([held_full] {
          return held_full.join().then([held_full] {});
        });
      }
    });
  }
  // The nine tasks still pending are reported as such (asyncio's "Task was
  // destroyed but it is pending!"), and nothing else is.
  this->loop_.close();
  EXPECT_THAT(this->reports_, ::testing::SizeIs(9));
  for (const std::string& r : this->reports_)
    EXPECT_EQ(r.rfind("Task was destroyed but it is pending! (Task-", 0), 0u) << r;
  this->reports_.clear();
}

// Operations nobody awaits, whose futures may be dropped: the last handle
// cancels them (which also frees them: no waiter <-> queue cycle is left).
TYPED_TEST(QueuesTest, DroppingTheLastHandleCancelsUnawaitedOperations) {
  using T = ItemOf<TypeParam>;
  this->Run([] {
    Future<T> kept_get;
    Future<void> kept_put;
    Future<void> kept_join;
    {
      TypeParam getters;
      TypeParam putters(1);
      putters.put_nowait(Item<T>(1));
      (void)getters.get();
      (void)putters.put(Item<T>(2));
      (void)putters.join();
      kept_get = getters.get();
      kept_put = TypeParam(putters).put(Item<T>(3));
      kept_join = putters.join();
      EXPECT_FALSE(kept_get.done());
    }
    EXPECT_TRUE(kept_get.cancelled());
    EXPECT_TRUE(kept_put.cancelled());
    EXPECT_TRUE(kept_join.cancelled());
  });
}

TYPED_TEST(QueuesTest, CopiesShareOneQueue) {
  using T = ItemOf<TypeParam>;
  TypeParam q(3);
  TypeParam copy = q;
  TypeParam assigned(1);
  assigned = copy;
  EXPECT_TRUE(assigned == q);
  EXPECT_FALSE(TypeParam(3) == q);
  copy.put_nowait(Item<T>(1));
  EXPECT_EQ(assigned.qsize(), 1u);
  EXPECT_EQ(assigned.maxsize(), 3u);
}

TYPED_TEST(QueuesTest, QueueBoundToOneLoopIsRuntimeErrorOnAnother) {
  using T = ItemOf<TypeParam>;
  TypeParam q;
  EXPECT_THROW((void)q.get(), RuntimeError);  // no running loop
  this->Run([&] { q.put_nowait(Item<T>(1)); (void)q.put(Item<T>(2)); });
  EventLoop other(VirtualClock());
  other.run_until_complete([&] {
    EXPECT_THROW((void)q.get(), RuntimeError);
    EXPECT_THROW((void)q.put(Item<T>(3)), RuntimeError);
    EXPECT_THROW((void)q.join(), RuntimeError);
    // The _nowait forms bind nothing.
    EXPECT_EQ(q.qsize(), 2u);
    (void)q.get_nowait();
    q.put_nowait(Item<T>(4));
    EXPECT_EQ(q.qsize(), 2u);
  });
}

// ============================================================================
// The orders.
// ============================================================================

class QueueTest : public LoopTest {};
class LifoQueueTest : public LoopTest {};
class PriorityQueueTest : public LoopTest {};

#if QUEUES_TEST_KIND == 0

TEST_F(QueueTest, ItemsComeOutFirstInFirstOut) {
  Queue<std::string> q;
  for (const char* s : {"a", "b", "c"}) q.put_nowait(s);
  EXPECT_EQ(q.get_nowait(), "a");
  q.put_nowait("d");
  EXPECT_EQ(q.get_nowait(), "b");
  EXPECT_EQ(q.get_nowait(), "c");
  EXPECT_EQ(q.get_nowait(), "d");
}

TEST_F(QueueTest, ItemOfACancelledWokenGetterGoesBackToTheHead) {
  Queue<int> q;
  Log log;
  Task<void> g1;
  Run([&] { g1 = Getter(q, &log, "g1"); });
  Run([&] {
    q.put_nowait(1);  // handed to g1
    q.put_nowait(2);
    q.put_nowait(3);
    g1.cancel();
  });
  EXPECT_THAT(Drain(q), ElementsAre(1, 2, 3));
}

// The seed's workers on the virtual clock: three workers take the sleeps
// in FIFO order as each becomes free; join() completes when the last is
// done.
TEST_F(QueueTest, SeedWorkersSleepInParallel) {
  Log log;
  double joined_at = -1;
  loop_.run_until_complete([&] {
    Queue<double> queue;
    for (double s : {1, 2, 3, 4, 5, 6}) queue.put_nowait(s);
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 3; ++i) {
      std::string name = "worker-" + std::to_string(i);
      tasks.push_back(asyncio::create_task([queue, name, &log] {
        return asyncio::repeat([queue, name, &log] {
          return queue.get().then([queue, name, &log](double sleep_for) {
            return asyncio::sleep(sleep_for).then([queue, name, &log, sleep_for] {
              queue.task_done();
              log.push_back(name + " " + std::to_string(static_cast<int>(sleep_for)));
              return Repeat::CONTINUE;
            });
          });
        });
      }));
    }
    return queue.join().then([&, tasks] {
      joined_at = loop_.time();
      for (const Task<void>& t : tasks) t.cancel();
      return asyncio::gather(asyncio::return_exceptions, tasks).then([](auto) {});
    });
  });
  EXPECT_THAT(log, ElementsAre("worker-0 1", "worker-1 2", "worker-2 3",
                               "worker-0 4", "worker-1 5", "worker-2 6"));
  EXPECT_EQ(joined_at, 9.0);  // 1+4, 2+5, 3+6 in parallel: 9 s, not 21
}

#elif QUEUES_TEST_KIND == 1

TEST_F(LifoQueueTest, ItemsComeOutLastInFirstOut) {
  LifoQueue<int> q;
  for (int i : {1, 2, 3}) q.put_nowait(i);
  EXPECT_EQ(q.get_nowait(), 3);
  q.put_nowait(4);
  EXPECT_THAT(Drain(q), ElementsAre(4, 2, 1));
}

TEST_F(LifoQueueTest, ItemOfACancelledWokenGetterGoesBackOnTop) {
  LifoQueue<int> q;
  Log log;
  Task<void> g1;
  Run([&] { g1 = Getter(q, &log, "g1"); });
  Run([&] {
    q.put_nowait(1);  // handed to g1
    q.put_nowait(2);
    g1.cancel();
  });
  EXPECT_THAT(Drain(q), ElementsAre(1, 2));
}

#else

TEST_F(PriorityQueueTest, LowestFirst) {
  PriorityQueue<int> q;
  for (int i : {5, 1, 4, 2, 3}) q.put_nowait(i);
  EXPECT_THAT(Drain(q), ElementsAre(1, 2, 3, 4, 5));
}

TEST_F(PriorityQueueTest, CustomCompareGreaterGivesTheHighestFirst) {
  PriorityQueue<int, std::greater<int>> q;
  for (int i : {5, 1, 4, 2, 3}) q.put_nowait(i);
  EXPECT_THAT(Drain(q), ElementsAre(5, 4, 3, 2, 1));
}

// A comparator with state, given to the constructor.
struct DistanceFrom {
  int origin;
  bool operator()(int a, int b) const {
    return std::abs(a - origin) < std::abs(b - origin);
  }
};

TEST_F(PriorityQueueTest, StatefulCompareGivenToTheConstructor) {
  PriorityQueue<int, DistanceFrom> q(0, DistanceFrom{10});
  for (int i : {0, 12, 30, 9, 15}) q.put_nowait(i);
  EXPECT_THAT(Drain(q), ElementsAre(9, 12, 15, 0, 30));
}

TEST_F(PriorityQueueTest, PairEntriesComeOutByPriorityThenData) {
  using Entry = std::pair<int, std::string>;
  PriorityQueue<Entry> q;
  q.put_nowait({2, "write"});
  q.put_nowait({1, "read"});
  q.put_nowait({3, "close"});
  q.put_nowait({1, "open"});
  std::vector<std::string> order;
  while (!q.empty()) order.push_back(q.get_nowait().second);
  EXPECT_THAT(order, ElementsAre("open", "read", "write", "close"));
}

TEST_F(PriorityQueueTest, PairEntriesWithMoveOnlyData) {
  using Entry = std::pair<int, std::unique_ptr<std::string>>;
  struct ByPriority {
    bool operator()(const Entry& a, const Entry& b) const { return a.first < b.first; }
  };
  PriorityQueue<Entry, ByPriority> q(2);
  Log log;
  Run([&] {
    q.put_nowait({3, std::make_unique<std::string>("low")});
    q.put_nowait({1, std::make_unique<std::string>("high")});
    // Full: this put waits, carrying its entry.
    (void)q.put({2, std::make_unique<std::string>("mid")});
  });
  std::vector<std::string> order;
  Run([&] {
    for (int i = 0; i < 3; ++i) order.push_back(*q.get_nowait().second);
  });
  EXPECT_THAT(order, ElementsAre("high", "mid", "low"));
}

TEST_F(PriorityQueueTest, ItemOfACancelledWokenGetterGoesBackIntoTheHeap) {
  PriorityQueue<int> q;
  Log log;
  Task<void> g1;
  Run([&] { g1 = Getter(q, &log, "g1"); });
  Run([&] {
    q.put_nowait(5);  // handed to g1
    q.put_nowait(9);
    q.put_nowait(1);
    g1.cancel();
  });
  EXPECT_THAT(Drain(q), ElementsAre(1, 5, 9));
}

#endif

}  // namespace
