// Tests for asyncio/task.h: when a task starts, cancellation (before the
// first step, while waiting, caught by the chain, propagated to an awaited
// task), cancelling()/uncancel(), names, current_task(), all_tasks(), the
// loop keeping tasks alive, failures and their reporting.
//
// Timing is tested on the virtual clock.
#include "asyncio/task.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_set>
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
using asyncio::TimerHandle;
using ::testing::ElementsAre;
using ::testing::StartsWith;
using asyncio_test::CancelMessage;
using asyncio_test::VirtualClock;

// Runs the loop for `seconds` of (virtual) time.
void RunFor(EventLoop& loop, double seconds) {
  loop.run_until_complete([seconds] { return asyncio::sleep(seconds); });
}

// --- Starting ---------------------------------------------------------------

TEST(TaskTest, BodyRunsOnLaterIterationNotInline) {
  EventLoop loop;
  std::vector<std::string> order;
  loop.call_soon([&] { order.push_back("queued before"); });
  Task<int> t = loop.create_task([&] {
    order.push_back("body");
    return 1;
  });
  loop.call_soon([&] { order.push_back("queued after"); });
  EXPECT_TRUE(order.empty());
  EXPECT_FALSE(t.done());
  EXPECT_EQ(loop.run_until_complete(t), 1);
  // The first step is scheduled like call_soon: FIFO with other callbacks.
  EXPECT_THAT(order, ElementsAre("queued before", "body", "queued after"));
}

TEST(TaskTest, TaskCreatedInsideTaskStartsOnLaterIteration) {
  EventLoop loop;
  std::vector<std::string> order;
  Task<void> outer = loop.create_task([&] {
    Task<void> inner = asyncio::create_task([&] { order.push_back("inner body"); });
    order.push_back("outer after create_task");
    return inner;
  });
  loop.run_until_complete(outer);
  EXPECT_THAT(order, ElementsAre("outer after create_task", "inner body"));
}

TEST(TaskTest, CreateTaskOutsideRunningLoopThrowsRuntimeError) {
  EXPECT_THROW(asyncio::create_task([] { return 1; }), RuntimeError);
  EventLoop loop;  // exists but does not run
  EXPECT_THROW(asyncio::create_task([] { return 1; }), RuntimeError);
}

TEST(TaskTest, LoopCreateTaskWorksBeforeLoopRuns) {
  EventLoop loop;
  Task<std::string> t = loop.create_task([] { return std::string("ok"); });
  EXPECT_FALSE(t.done());
  EXPECT_EQ(loop.run_until_complete(t), "ok");
}

TEST(TaskTest, BodyMayReturnValueVoidFutureOrTask) {
  EventLoop loop(VirtualClock());
  Task<int> value = loop.create_task([] { return 1; });
  bool ran = false;
  Task<void> nothing = loop.create_task([&] { ran = true; });
  Task<int> future = loop.create_task([] { return asyncio::sleep(1, 2); });
  Task<int> task = loop.create_task(
      [] { return asyncio::create_task([] { return asyncio::sleep(2, 3); }); });
  Task<std::unique_ptr<int>> move_only =
      loop.create_task([] { return std::make_unique<int>(4); });
  std::unique_ptr<int> p = loop.run_until_complete(move_only);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 4);
  EXPECT_EQ(loop.run_until_complete(task), 3);
  EXPECT_EQ(value.result(), 1);
  EXPECT_TRUE(nothing.done());
  EXPECT_TRUE(ran);
  EXPECT_EQ(future.result(), 2);
}

// --- Cancellation -------------------------------------------------------------

TEST(TaskTest, CancelBeforeFirstStepBodyNeverRuns) {
  EventLoop loop;
  bool ran = false;
  Task<int> t = loop.create_task([&] {
    ran = true;
    return 1;
  });
  EXPECT_TRUE(t.cancel("too early"));
  EXPECT_EQ(t.cancelling(), 1);
  EXPECT_FALSE(t.done());  // as in asyncio, it ends cancelled on its step
  try {
    loop.run_until_complete(t);
    ADD_FAILURE() << "no exception";
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.message(), "too early");
  }
  EXPECT_FALSE(ran);
  EXPECT_TRUE(t.cancelled());
}

TEST(TaskTest, CancelWhileWaitingOnSleepFlowsThroughChain) {
  EventLoop loop(VirtualClock());
  bool after_sleep = false;
  std::string seen_by_chain = "<not seen>";
  Task<int> t = loop.create_task([&] {
    return asyncio::sleep(10)
        .then([&] {
          after_sleep = true;  // a value handler: skipped
          return 1;
        })
        .then_outcome([&](Outcome<int> o) {
          if (o.cancelled()) {
            try {
              std::rethrow_exception(o.exception());
            } catch (const CancelledError& e) {
              seen_by_chain = e.message();
            }
          }
          return o;  // passes the cancellation on
        });
  });
  double cancelled_at = -1;
  loop.call_later(3, [&] {
    EXPECT_FALSE(t.done());
    EXPECT_TRUE(t.cancel("deadline"));
    cancelled_at = loop.time();
  });
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(CancelMessage(Future<int>(t)), "deadline");
  EXPECT_EQ(seen_by_chain, "deadline");
  EXPECT_FALSE(after_sleep);
  EXPECT_EQ(cancelled_at, 3.0);
  EXPECT_EQ(loop.time(), 3.0);  // the sleep's timer went with it
}

TEST(TaskTest, CancelReachesInnerFutureOfFlattenedContinuation) {
  EventLoop loop(VirtualClock());
  Task<int> t = loop.create_task([] {
    return asyncio::sleep(1).then([] { return asyncio::sleep(10, 5); });
  });
  loop.call_later(4, [&] { t.cancel("inner"); });
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_EQ(CancelMessage(Future<int>(t)), "inner");
  EXPECT_EQ(loop.time(), 4.0);
}

TEST(TaskTest, TaskThatCatchesCancelledErrorCompletesNormally) {
  EventLoop loop(VirtualClock());
  std::string caught;
  Task<int> t = loop.create_task([&] {
    return asyncio::sleep(10)
        .then([] { return 1; })
        .catch_error<CancelledError>([&](const CancelledError& e) {
          caught = e.message();
          return 42;
        });
  });
  loop.call_later(2, [&] { t.cancel("please stop"); });
  EXPECT_EQ(loop.run_until_complete(t), 42);
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(caught, "please stop");
  EXPECT_EQ(t.cancelling(), 1);  // asyncio: the request is still counted
}

TEST(TaskTest, TaskMayWaitAfterCatchingCancelledError) {
  EventLoop loop(VirtualClock());
  Task<int> t = loop.create_task([&] {
    return asyncio::sleep(10).then([] { return 1; }).catch_error<CancelledError>(
        [](const CancelledError&) { return asyncio::sleep(2, 43); });
  });
  loop.call_later(3, [&] { t.cancel(); });
  EXPECT_EQ(loop.run_until_complete(t), 43);
  EXPECT_EQ(loop.time(), 5.0);
}

TEST(TaskTest, CancellingCountsRequestsAndUncancelTakesOneBack) {
  EventLoop loop(VirtualClock());
  Task<int> t = loop.create_task([] {
    return asyncio::sleep(10).then([] { return 1; }).catch_error<CancelledError>(
        [](const CancelledError&) { return 2; });
  });
  RunFor(loop, 1);
  EXPECT_EQ(t.cancelling(), 0);
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(t.cancelling(), 1);
  EXPECT_TRUE(t.cancel());  // still pending: counted again
  EXPECT_EQ(t.cancelling(), 2);
  EXPECT_EQ(t.uncancel(), 1);
  EXPECT_EQ(t.cancelling(), 1);
  EXPECT_EQ(loop.run_until_complete(t), 2);
  EXPECT_FALSE(t.cancel());  // done: no request
  EXPECT_EQ(t.cancelling(), 1);
  EXPECT_EQ(t.uncancel(), 0);
  EXPECT_EQ(t.uncancel(), 0);  // never below zero
}

TEST(TaskTest, UncancelToZeroBeforeFirstStepDropsTheRequest) {
  // asyncio 3.13: uncancel() reaching zero clears _must_cancel.
  EventLoop loop;
  bool ran = false;
  Task<int> t = loop.create_task([&] {
    ran = true;
    return 5;
  });
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(t.uncancel(), 0);
  EXPECT_EQ(loop.run_until_complete(t), 5);
  EXPECT_TRUE(ran);
  EXPECT_FALSE(t.cancelled());
}

TEST(TaskTest, CancelDoneTaskReturnsFalse) {
  EventLoop loop;
  Task<int> t = loop.create_task([] { return 1; });
  EXPECT_EQ(loop.run_until_complete(t), 1);
  EXPECT_FALSE(t.cancel());
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(t.result(), 1);
}

TEST(TaskTest, CancelAfterAwaitedFutureCompletedButBeforeTaskResumedEndsCancelled) {
  // asyncio: the waiter is done, so cancel() sets _must_cancel and the task
  // sees CancelledError when it resumes, even though the value was there.
  EventLoop loop;
  Promise<int> p(loop);
  Task<int> t = loop.create_task([&] { return p.get_future(); });
  loop.call_soon([&] {
    p.set_result(1);
    EXPECT_FALSE(t.done());
    EXPECT_TRUE(t.cancel("late"));
  });
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(CancelMessage(Future<int>(t)), "late");
}

TEST(TaskTest, UncancelToZeroAfterAwaitedFutureCompletedDropsTheDeferredRequest) {
  // CPython 3.13 test_uncancel_resets_must_cancel: the body waits on `fut`
  // through a stage; fut is set, then (before the stage ran) cancel() and
  // uncancel() — the request deferred onto the stage is dropped.
  EventLoop loop(VirtualClock());
  Promise<void> fut(loop);
  Future<void> ff = fut.get_future();
  Task<int> task = loop.create_task([ff] { return ff.then([] { return 42; }); });
  loop.run_until_complete([] { return asyncio::sleep(0); });  // the body ran
  fut.set_result();
  EXPECT_TRUE(task.cancel());
  EXPECT_EQ(task.cancelling(), 1);
  EXPECT_EQ(task.uncancel(), 0);
  EXPECT_EQ(loop.run_until_complete(task), 42);
  EXPECT_FALSE(task.cancelled());
}

TEST(TaskTest, SecondCancelMessageDoesNotReplaceTheFirstOneTheBodyCatches) {
  // asyncio: the first cancel() cancels the awaited sleep with "first"; the
  // second only sets _must_cancel, and __step keeps the awaited future's
  // CancelledError, so the body sees "first".
  EventLoop loop(VirtualClock());
  std::string caught = "<not caught>";
  Task<int> t = loop.create_task([&caught] {
    return asyncio::sleep(10)
        .catch_error<CancelledError>(
            [&caught](const CancelledError& e) { caught = e.message(); })
        .then([] { return 5; });
  });
  RunFor(loop, 1);
  EXPECT_TRUE(t.cancel("first"));
  EXPECT_TRUE(t.cancel("second"));
  EXPECT_EQ(t.cancelling(), 2);
  EXPECT_EQ(loop.run_until_complete(t), 5);
  EXPECT_EQ(caught, "first");
}

TEST(TaskTest, SecondCancelMessageDoesNotReplaceTheFirstOneTheTaskEndsWith) {
  EventLoop loop(VirtualClock());
  Task<void> t = loop.create_task([] { return asyncio::sleep(10); });
  RunFor(loop, 1);
  EXPECT_TRUE(t.cancel("first"));
  EXPECT_TRUE(t.cancel("second"));
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_EQ(CancelMessage(Future<void>(t)), "first");
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TaskTest, SelfCancelInBodyReturningValueEndsCancelled) {
  // asyncio: a coroutine that cancels its own task and returns without
  // awaiting ends cancelled (the request is delivered when it stops).
  EventLoop loop;
  Task<int> t;
  t = loop.create_task([&] {
    EXPECT_TRUE(t.cancel("self"));
    return 1;
  });
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(CancelMessage(Future<int>(t)), "self");
}

TEST(TaskTest, SelfCancelInBodyCancelsTheFutureItReturns) {
  EventLoop loop(VirtualClock());
  Task<int> t;
  t = loop.create_task([&] {
    t.cancel("self");
    return asyncio::sleep(10, 1);
  });
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_EQ(CancelMessage(Future<int>(t)), "self");
  EXPECT_EQ(loop.time(), 0.0);
}

TEST(TaskTest, BodyThrowingCancelledErrorEndsCancelled) {
  EventLoop loop;
  Task<int> t = loop.create_task([]() -> int { throw CancelledError("from body"); });
  EXPECT_THROW(loop.run_until_complete(t), CancelledError);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(CancelMessage(Future<int>(t)), "from body");
}

TEST(TaskTest, CancellingTaskThatAwaitsAnotherTaskCancelsTheAwaitedTask) {
  EventLoop loop(VirtualClock());
  Task<int> inner = loop.create_task([] { return asyncio::sleep(10, 1); });
  Task<int> outer = loop.create_task(
      [inner] { return inner.then([](int v) { return v + 1; }); });
  loop.call_later(2, [&] { outer.cancel("outer cancelled"); });
  EXPECT_THROW(loop.run_until_complete(outer), CancelledError);
  EXPECT_TRUE(outer.cancelled());
  EXPECT_TRUE(inner.cancelled());
  EXPECT_EQ(inner.cancelling(), 1);
  EXPECT_EQ(outer.cancelling(), 1);
  EXPECT_EQ(CancelMessage(Future<int>(inner)), "outer cancelled");
  EXPECT_EQ(CancelMessage(Future<int>(outer)), "outer cancelled");
  EXPECT_EQ(loop.time(), 2.0);
}

TEST(TaskTest, CancellingTaskThatReturnsAnotherTaskCancelsIt) {
  EventLoop loop(VirtualClock());
  Task<int> inner = loop.create_task([] { return asyncio::sleep(10, 1); });
  Task<int> outer = loop.create_task([inner] { return inner; });
  loop.call_later(2, [&] { outer.cancel(); });
  EXPECT_THROW(loop.run_until_complete(outer), CancelledError);
  EXPECT_TRUE(inner.cancelled());
}

// --- Several consumers ----------------------------------------------------------

TEST(TaskTest, SeveralTasksAwaitOneTask) {
  EventLoop loop(VirtualClock());
  Task<int> shared = loop.create_task([] { return asyncio::sleep(2, 10); });
  Task<int> a = loop.create_task([shared] { return shared.then([](int v) { return v + 1; }); });
  Task<int> b = loop.create_task(
      [shared] { return shared.then([](const int& v) { return v + 2; }); });
  Task<int> c = loop.create_task([shared] { return shared; });
  RunFor(loop, 3);
  ASSERT_TRUE(a.done());
  ASSERT_TRUE(b.done());
  ASSERT_TRUE(c.done());
  EXPECT_EQ(a.result(), 11);
  EXPECT_EQ(b.result(), 12);
  EXPECT_EQ(c.result(), 10);
  EXPECT_EQ(shared.result(), 10);
}

TEST(TaskTest, SeveralTasksAwaitingFailedTaskAllSeeTheError) {
  EventLoop loop(VirtualClock());
  Task<int> shared = loop.create_task([] {
    return asyncio::sleep(1).then([]() -> int { throw std::runtime_error("shared failed"); });
  });
  auto waiter = [shared] {
    return shared.catch_error<std::runtime_error>(
        [](const std::runtime_error& e) { return static_cast<int>(std::string(e.what()).size()); });
  };
  Task<int> a = loop.create_task(waiter);
  Task<int> b = loop.create_task(waiter);
  RunFor(loop, 2);
  EXPECT_EQ(a.result(), 13);
  EXPECT_EQ(b.result(), 13);
  EXPECT_THROW(shared.result(), std::runtime_error);
}

// --- Names ------------------------------------------------------------------------

TEST(TaskTest, TaskReturningItsOwnFutureFailsWithRuntimeError) {
  // asyncio raises RuntimeError for a task awaiting itself; it must not hang.
  EventLoop loop(VirtualClock());
  Task<void> t;
  t = loop.create_task([&t] { return Future<void>(t); });
  TimerHandle guard = loop.call_later(100, [&loop] { loop.stop(); });
  EXPECT_THROW(loop.run_until_complete(t), RuntimeError);
  guard.cancel();
  ASSERT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());
  EXPECT_THROW(t.result(), RuntimeError);
  EXPECT_EQ(loop.time(), 0.0);  // failed at once, not stopped by the guard
}

TEST(TaskTest, DefaultNamesAreTaskNWithIncreasingNumbers) {
  EventLoop loop;
  Task<int> a = loop.create_task([] { return 1; });
  Task<int> b = loop.create_task([] { return 2; });
  std::string name = a.get_name();
  ASSERT_THAT(name, StartsWith("Task-"));
  const unsigned long long n = std::stoull(name.substr(5));
  EXPECT_GE(n, 1u);
  EXPECT_EQ(b.get_name(), "Task-" + std::to_string(n + 1));
  loop.run_until_complete(b);
  EXPECT_EQ(b.get_name(), "Task-" + std::to_string(n + 1));  // stable
}

TEST(TaskTest, CustomNameAndSetName) {
  EventLoop loop;
  Task<int> t = loop.create_task([] { return 1; }, "worker");
  EXPECT_EQ(t.get_name(), "worker");
  t.set_name("renamed");
  EXPECT_EQ(t.get_name(), "renamed");
  AnyTask any = t;
  EXPECT_EQ(any.get_name(), "renamed");
  any.set_name("via AnyTask");
  EXPECT_EQ(t.get_name(), "via AnyTask");
  Task<int> d = loop.create_task([] { return 2; });
  d.set_name("named later");
  EXPECT_EQ(d.get_name(), "named later");
  loop.run_until_complete(d);
}

// --- current_task -------------------------------------------------------------------

TEST(TaskTest, CurrentTaskInsideBodyAndContinuationsOfItsChain) {
  EventLoop loop(VirtualClock());
  AnyTask in_body, in_then, in_nested, in_catch, in_done_callback;
  AnyTask in_soon = AnyTask();
  bool soon_ran = false;
  Task<int> t = loop.create_task([&] {
    in_body = asyncio::current_task();
    loop.call_soon([&] {
      soon_ran = true;
      in_soon = asyncio::current_task();
    });
    return asyncio::sleep(1).then([&] {
      in_then = asyncio::current_task();
      return asyncio::sleep(1)
          .then([&]() -> int {
            in_nested = asyncio::current_task();
            throw std::runtime_error("x");
          })
          .catch_error<std::runtime_error>([&](const std::runtime_error&) {
            in_catch = asyncio::current_task();
            return 7;
          });
    });
  });
  EXPECT_EQ(loop.run_until_complete(t), 7);
  EXPECT_TRUE(in_body == t);
  EXPECT_TRUE(in_then == t);
  EXPECT_TRUE(in_nested == t);
  EXPECT_TRUE(in_catch == t);
  EXPECT_TRUE(soon_ran);
  EXPECT_FALSE(in_soon);  // a plain callback runs outside any task
}

TEST(TaskTest, CurrentTaskIsEmptyInPlainCallbackAndDoneCallback) {
  EventLoop loop;
  bool soon_checked = false, done_checked = false;
  AnyTask in_soon, in_done;
  loop.call_soon([&] {
    in_soon = asyncio::current_task();
    soon_checked = true;
  });
  Task<int> t = loop.create_task([] { return 1; });
  t.add_done_callback([&] {
    in_done = asyncio::current_task();
    done_checked = true;
  });
  loop.run_until_complete(t);
  loop.run_until_complete(asyncio::make_ready_future(loop, 0).then([](int) {}));
  EXPECT_TRUE(soon_checked);
  EXPECT_TRUE(done_checked);
  EXPECT_FALSE(in_soon);
  EXPECT_FALSE(in_done);
}

TEST(TaskTest, CurrentTaskFollowsInterleavedTasks) {
  EventLoop loop(VirtualClock());
  std::vector<std::pair<std::string, AnyTask>> seen;
  auto body = [&](std::string tag, double first, double second) {
    return [&seen, tag, first, second] {
      seen.emplace_back(tag + " body", asyncio::current_task());
      return asyncio::sleep(first).then([&seen, tag, second] {
        seen.emplace_back(tag + " step 1", asyncio::current_task());
        return asyncio::sleep(second).then(
            [&seen, tag] { seen.emplace_back(tag + " step 2", asyncio::current_task()); });
      });
    };
  };
  Task<void> a = loop.create_task(body("a", 1, 2));  // steps at 1, 3
  Task<void> b = loop.create_task(body("b", 2, 2));  // steps at 2, 4
  RunFor(loop, 5);
  ASSERT_EQ(seen.size(), 6u);
  std::vector<std::string> tags;
  for (auto& [tag, task] : seen) {
    tags.push_back(tag);
    EXPECT_TRUE(task == (tag[0] == 'a' ? AnyTask(a) : AnyTask(b))) << tag;
  }
  EXPECT_THAT(tags, ElementsAre("a body", "b body", "a step 1", "b step 1", "a step 2",
                                "b step 2"));
}

TEST(TaskTest, CurrentTaskOutsideRunningLoopThrowsRuntimeError) {
  EXPECT_THROW(asyncio::current_task(), RuntimeError);
}

// --- all_tasks and the loop's registry ---------------------------------------------

TEST(TaskTest, AllTasksListsPendingTasksInCreationOrder) {
  EventLoop loop(VirtualClock());
  Task<void> a = loop.create_task([] { return asyncio::sleep(1); });
  Task<void> b = loop.create_task([] { return asyncio::sleep(3); });
  Task<void> c = loop.create_task([] { return asyncio::sleep(2); });
  std::vector<AnyTask> before = asyncio::all_tasks(loop);
  ASSERT_EQ(before.size(), 3u);
  EXPECT_TRUE(before[0] == a);
  EXPECT_TRUE(before[1] == b);
  EXPECT_TRUE(before[2] == c);

  std::vector<AnyTask> inside;
  AnyTask self;
  loop.run_until_complete([&] {
    return asyncio::sleep(1.5).then([&] {
      inside = asyncio::all_tasks();
      self = asyncio::current_task();
    });
  });
  // a is done; b, c and the running task are pending.
  ASSERT_EQ(inside.size(), 3u);
  EXPECT_TRUE(inside[0] == b);
  EXPECT_TRUE(inside[1] == c);
  EXPECT_TRUE(inside[2] == self);

  RunFor(loop, 5);
  EXPECT_TRUE(asyncio::all_tasks(loop).empty());
}

TEST(TaskTest, AllTasksOutsideRunningLoopThrowsRuntimeError) {
  EXPECT_THROW(asyncio::all_tasks(), RuntimeError);
}

TEST(TaskTest, LoopKeepsPendingTaskAliveWhenHandleIsDropped) {
  EventLoop loop(VirtualClock());
  int result = 0;
  {
    Task<void> t = loop.create_task(
        [&] { return asyncio::sleep(2).then([&] { result = 9; }); });
  }
  ASSERT_EQ(asyncio::all_tasks(loop).size(), 1u);
  RunFor(loop, 1);
  EXPECT_EQ(result, 0);
  std::vector<AnyTask> pending = asyncio::all_tasks(loop);
  ASSERT_EQ(pending.size(), 1u);
  pending.clear();
  RunFor(loop, 2);
  EXPECT_EQ(result, 9);
  EXPECT_TRUE(asyncio::all_tasks(loop).empty());
}

TEST(TaskTest, DetachedStageCapturesDestroyedAfterItsTaskFinishedMayUseTheLoop) {
  // The task's body creates a stage it does not wait on, then finishes; its
  // handle is gone too. The stage runs later, still on behalf of the task:
  // the task must stay alive until the stage's captures are destroyed, as
  // their destructor schedules work and asks for the current task.
  struct Guard {
    std::shared_ptr<std::vector<std::string>> log;
    explicit Guard(std::shared_ptr<std::vector<std::string>> l) : log(std::move(l)) {}
    Guard(Guard&& o) noexcept : log(std::move(o.log)) {}
    ~Guard() {
      if (!log) return;
      auto l = log;
      l->push_back("guard destroyed in " + asyncio::current_task().get_name());
      (void)asyncio::sleep(0).then([l] { l->push_back("cleanup ran"); });
    }
  };
  EventLoop loop(VirtualClock());
  auto log = std::make_shared<std::vector<std::string>>();
  Promise<void> p(loop);
  Future<void> pf = p.get_future();
  {
    Task<void> t = loop.create_task([pf, log] {
      (void)pf.then([g = Guard(log), log] { log->push_back("stage ran"); });
    });
    t.set_name("maker");
  }
  RunFor(loop, 1);
  EXPECT_TRUE(asyncio::all_tasks(loop).empty());  // the task finished
  EXPECT_TRUE(log->empty());
  p.set_result();
  RunFor(loop, 1);
  EXPECT_THAT(*log, ElementsAre("stage ran", "guard destroyed in maker", "cleanup ran"));
}

TEST(TaskTest, AnyTaskIsHashableAndComparableByIdentity) {
  EventLoop loop;
  Task<int> a = loop.create_task([] { return 1; });
  Task<int> b = loop.create_task([] { return 2; });
  std::unordered_set<AnyTask> set{AnyTask(a), AnyTask(b), AnyTask(a)};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(AnyTask(a) == AnyTask(a));
  EXPECT_TRUE(AnyTask(a) != AnyTask(b));
  EXPECT_FALSE(AnyTask());
  AnyTask any = b;
  EXPECT_FALSE(any.done());
  EXPECT_EQ(&any.get_loop(), &loop);
  loop.run_until_complete(b);
  EXPECT_TRUE(any.done());
  EXPECT_FALSE(any.cancelled());
  EXPECT_EQ(any.exception(), nullptr);
  EXPECT_THROW(AnyTask().done(), asyncio::InvalidStateError);
}

// --- Failures ---------------------------------------------------------------------

TEST(TaskTest, BodyExceptionFailsTask) {
  EventLoop loop;
  Task<int> t = loop.create_task([]() -> int { throw std::invalid_argument("bad"); });
  EXPECT_THROW(loop.run_until_complete(t), std::invalid_argument);
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());
  std::exception_ptr e = t.exception();
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), std::invalid_argument);
}

TEST(TaskTest, FailedFutureReturnedByBodyFailsTask) {
  EventLoop loop(VirtualClock());
  Task<int> t = loop.create_task([] {
    return asyncio::sleep(1).then([]() -> int { throw std::range_error("later"); });
  });
  try {
    loop.run_until_complete(t);
    ADD_FAILURE() << "no exception";
  } catch (const std::range_error& e) {
    EXPECT_STREQ(e.what(), "later");
  }
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(loop.time(), 1.0);
}

TEST(TaskTest, UnretrievedTaskExceptionIsReportedThroughExceptionHandler) {
  EventLoop loop(VirtualClock());
  std::vector<ExceptionContext> reports;
  loop.set_exception_handler(
      [&](EventLoop&, const ExceptionContext& c) { reports.push_back(c); });
  std::string name;
  {
    Task<int> t = loop.create_task([]() -> int { throw std::runtime_error("lost"); });
    name = t.get_name();
  }  // the only handle is gone; the loop still holds the task
  RunFor(loop, 1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].message, "Task exception was never retrieved");
  EXPECT_THAT(reports[0].future, ::testing::HasSubstr(name));
  ASSERT_NE(reports[0].exception, nullptr);
  try {
    std::rethrow_exception(reports[0].exception);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "lost");
  }
}

TEST(TaskTest, RetrievedTaskExceptionIsNotReported) {
  EventLoop loop(VirtualClock());
  int reports = 0;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext&) { ++reports; });
  {
    Task<int> failing = loop.create_task([]() -> int { throw std::runtime_error("seen"); });
    Task<int> awaiting = loop.create_task([failing] {
      return failing.catch_error<std::runtime_error>([](const std::runtime_error&) { return 0; });
    });
    Task<int> checked = loop.create_task([]() -> int { throw std::runtime_error("checked"); });
    RunFor(loop, 1);
    EXPECT_NE(checked.exception(), nullptr);
    EXPECT_EQ(awaiting.result(), 0);
  }
  RunFor(loop, 1);
  EXPECT_EQ(reports, 0);
}

TEST(TaskTest, CancelledTaskIsNotReportedAsUnretrieved) {
  EventLoop loop(VirtualClock());
  int reports = 0;
  loop.set_exception_handler([&](EventLoop&, const ExceptionContext&) { ++reports; });
  {
    Task<void> t = loop.create_task([] { return asyncio::sleep(5); });
    loop.call_later(1, [t] { t.cancel(); });
  }
  RunFor(loop, 10);
  EXPECT_EQ(reports, 0);
}

TEST(TaskTest, CancelDoneFailedTaskReturnsFalseAndSilencesItsReport) {
  // CPython test_tb_logger_not_called_after_cancel: cancel() on a done task
  // returns False and marks its exception as retrieved.
  EventLoop loop(VirtualClock());
  std::vector<ExceptionContext> reports;
  loop.set_exception_handler(
      [&](EventLoop&, const ExceptionContext& c) { reports.push_back(c); });
  {
    Task<int> t = loop.create_task([]() -> int { throw std::runtime_error("boom"); });
    RunFor(loop, 1);
    ASSERT_TRUE(t.done());
    EXPECT_FALSE(t.cancel());
    EXPECT_FALSE(t.cancelled());
    EXPECT_EQ(t.cancelling(), 0);
  }
  RunFor(loop, 1);
  EXPECT_TRUE(reports.empty());
}

TEST(TaskTest, CancelAfterAwaitedFutureFailedButBeforeTaskResumedReportsNothing) {
  // asyncio: the task's __wakeup reads the failed future's exception, so
  // the CancelledError that replaces it leaves nothing unretrieved.
  EventLoop loop(VirtualClock());
  std::vector<ExceptionContext> reports;
  loop.set_exception_handler(
      [&](EventLoop&, const ExceptionContext& c) { reports.push_back(c); });
  {
    Promise<int> p(loop);
    Task<int> t = loop.create_task([f = p.get_future()] { return f; });
    RunFor(loop, 1);
    p.set_exception(std::runtime_error("upstream failed"));
    EXPECT_TRUE(t.cancel("why"));
    EXPECT_THROW(loop.run_until_complete(t), CancelledError);
    EXPECT_EQ(CancelMessage(Future<int>(t)), "why");
  }
  RunFor(loop, 1);
  EXPECT_TRUE(reports.empty());
}

TEST(TaskTest, CancelAfterStageUpstreamFailedButBeforeTaskResumedReportsNothing) {
  // The same through a stage of the task's chain (the probe's case C).
  EventLoop loop(VirtualClock());
  std::vector<ExceptionContext> reports;
  loop.set_exception_handler(
      [&](EventLoop&, const ExceptionContext& c) { reports.push_back(c); });
  int handler_calls = 0;
  {
    Promise<void> p(loop);
    Task<void> t = loop.create_task([f = p.get_future(), &handler_calls] {
      return f.then_outcome([&handler_calls](Outcome<void> o) {
        ++handler_calls;
        return o;
      });
    });
    RunFor(loop, 1);
    p.set_exception(std::runtime_error("upstream failed"));
    EXPECT_TRUE(t.cancel("why"));
    EXPECT_THROW(loop.run_until_complete(t), CancelledError);
    EXPECT_EQ(CancelMessage(Future<void>(t)), "why");
  }
  RunFor(loop, 1);
  EXPECT_EQ(handler_calls, 1);  // it saw the CancelledError
  EXPECT_TRUE(reports.empty());
}

TEST(TaskTest, UnretrievedExceptionOfTaskDroppedAfterLoopStoppedIsStillReported) {
  // asyncio reports from Task.__del__, whether or not the loop runs again.
  // Here the last handle goes away after the loop's last run, then the loop
  // is closed: the exception must not vanish.
  std::vector<std::string> reports;
  {
    EventLoop loop;
    loop.set_exception_handler(
        [&](EventLoop&, const ExceptionContext& c) { reports.push_back(c.message); });
    {
      Task<int> t = loop.create_task([]() -> int { throw std::runtime_error("late"); });
      t.add_done_callback([&] { loop.stop(); });  // does not retrieve
      loop.run_forever();
      ASSERT_TRUE(t.done());
    }
    loop.close();
  }
  EXPECT_THAT(reports, ElementsAre("Task exception was never retrieved"));
}

}  // namespace

// --- Same-step forwarding ---------------------------------------------------
//
// A then-stage plays the part of a coroutine frame: when a task's body
// returns one, the task takes its outcome in the step that produced it, as
// a task awaiting a coroutine does in asyncio. Awaiting a leaf future or a
// Task wakes the task one iteration later, as in asyncio.

namespace forwarding {

using asyncio_test::IterationCounter;

// asyncio:
//   async def body(): await asyncio.sleep(0); return 42
//   t = create_task(body())
//   async def canceller(): await asyncio.sleep(0); print(t.cancel())
//   create_task(canceller()); print(await t)      # prints False, then 42
// In the second iteration t's coroutine returns 42 first; the canceller's
// step comes after it in the same iteration and finds t done.
TEST(TaskTest, CancelInTheIterationTheLastContinuationRanReturnsFalse) {
  EventLoop loop;
  bool cancel_returned = true;
  Task<int> t = loop.create_task(
      [] { return asyncio::sleep(0).then([] { return 42; }); });
  Task<void> canceller = loop.create_task([&] {
    return asyncio::sleep(0).then([&] { cancel_returned = t.cancel(); });
  });
  EXPECT_EQ(loop.run_until_complete(t), 42);
  loop.run_until_complete(canceller);
  EXPECT_FALSE(cancel_returned);
  EXPECT_FALSE(t.cancelled());
}

// level(k) returns a chain whose continuation returns level(k - 1): k
// nested then-stages; the innermost records the iteration it ran in.
Future<int> Level(int k, IterationCounter* counter, int* innermost_at) {
  return asyncio::make_ready_future(k).then(
      [counter, innermost_at](int v) -> Future<int> {
        if (v == 1) {
          *innermost_at = counter->iteration();
          return asyncio::make_ready_future(7);
        }
        return Level(v - 1, counter, innermost_at);
      });
}

void ExpectTaskFinishesWithInnermostContinuation(int levels) {
  EventLoop loop;
  IterationCounter counter(loop);
  int innermost_at = -1;
  int done_at = -1;
  Task<int> t = loop.create_task(
      [&] { return Level(levels, &counter, &innermost_at); });
  // The task's done-callback runs one iteration after the task completed.
  t.add_done_callback([&] { done_at = counter.iteration() - 1; });
  EXPECT_EQ(loop.run_until_complete(t), 7);
  loop.run_until_complete([] { return asyncio::sleep(0); });
  counter.Stop();
  ASSERT_GT(innermost_at, levels - 1);
  EXPECT_EQ(done_at, innermost_at);
}

TEST(TaskTest, TaskOverOneNestedThenFinishesWithInnermostContinuation) {
  ExpectTaskFinishesWithInnermostContinuation(1);
}
TEST(TaskTest, TaskOverTenNestedThensFinishesWithInnermostContinuation) {
  ExpectTaskFinishesWithInnermostContinuation(10);
}
TEST(TaskTest, TaskOverAMillionNestedThensFinishesWithInnermostContinuation) {
  // Completes and is destroyed with a flat stack (each level waits on the
  // next; the outcome climbs all of them in one step).
  ExpectTaskFinishesWithInnermostContinuation(1000000);
}

// Records, for tasks A and B, the iteration their done-callbacks ran in.
struct CompletionOrder {
  explicit CompletionOrder(EventLoop& loop) : counter(loop) {}
  void Watch(const AnyTask& t, std::string name) {
    t.add_done_callback([this, name] {
      order.push_back(name + "@" + std::to_string(counter.iteration()));
    });
  }
  IterationCounter counter;
  std::vector<std::string> order;
};

// B in every case below: async def b(): await asyncio.sleep(0); return 'b'
Future<std::string> B() {
  return asyncio::sleep(0).then([] { return std::string("b"); });
}
Future<std::string> Work() {
  return asyncio::sleep(0).then([] { return std::string("a"); });
}

template <class Body>
std::vector<std::string> RunAThenB(Body a_body) {
  EventLoop loop;
  CompletionOrder rec(loop);
  loop.run_until_complete([&] {
    Task<std::string> a = asyncio::create_task(a_body);
    Task<std::string> b = asyncio::create_task(B);
    rec.Watch(a, "A");
    rec.Watch(b, "B");
    return a.then([b](const std::string&) { return b; }).then([](const std::string&) {
      return asyncio::sleep(0);
    });
  });
  rec.counter.Stop();
  return rec.order;
}

// Iteration numbers below are relative: the CPython program records them
// with its own counter, and what it prints is the order and the gap.

// CPython: async def a(): return await work()     (work sleeps 0, returns)
// prints A and B done-callbacks in the same iteration, A first.
TEST(TaskTest, CompletionOrderForBodyAwaitingACoroutineMatchesAsyncio) {
  std::vector<std::string> order = RunAThenB(Work);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0].substr(0, 1), "A");
  EXPECT_EQ(order[1].substr(0, 1), "B");
  EXPECT_EQ(order[0].substr(1), order[1].substr(1));  // same iteration
}

// CPython: async def a(): fut = loop.create_future();
//          loop.call_soon(fut.set_result, 'a'); return await fut
// prints B first, A one iteration later: a Future wakes its task through
// call_soon.
TEST(TaskTest, CompletionOrderForBodyAwaitingAFutureMatchesAsyncio) {
  std::vector<std::string> order = RunAThenB([]() -> Future<std::string> {
    auto p = std::make_shared<Promise<std::string>>();
    asyncio::get_running_loop().call_soon([p] { p->set_result("a"); });
    return p->get_future();
  });
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0].substr(0, 1), "B");
  EXPECT_EQ(order[1].substr(0, 1), "A");
  EXPECT_EQ(std::stoi(order[1].substr(2)), std::stoi(order[0].substr(2)) + 1);
}

// CPython: async def a(): return await asyncio.create_task(work_now())
// (work_now returns at once) prints B first, A one iteration later: a Task
// is awaited like a Future.
TEST(TaskTest, CompletionOrderForBodyAwaitingATaskMatchesAsyncio) {
  std::vector<std::string> order = RunAThenB([] {
    return asyncio::create_task([] { return std::string("a"); });
  });
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0].substr(0, 1), "B");
  EXPECT_EQ(order[1].substr(0, 1), "A");
  EXPECT_EQ(std::stoi(order[1].substr(2)), std::stoi(order[0].substr(2)) + 1);
}

}  // namespace forwarding
