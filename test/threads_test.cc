// Tests for asyncio/threads.h: to_thread, ThreadPoolExecutor,
// run_in_executor, the default executor and run()'s shutdown of it,
// run_coroutine_threadsafe, one loop per thread, cancellation across the
// door, thread_context(). Run under --config=tsan too.
//
// Worker threads are synchronised with latches (std::promise), never with
// sleeps; the loop's timing is not what these tests check.
#include "asyncio/threads.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asyncio/asyncio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

// libstdc++ is not built with ThreadSanitizer, so the atomic reference
// count of a std::exception_ptr shared between the loop thread and a
// std::promise read by another thread is invisible to it and reported as a
// race on the count. Only those two functions are suppressed.
extern "C" const char* __tsan_default_suppressions() {
  return "race:std::__exception_ptr::exception_ptr::_M_release\n"
         "race:std::__exception_ptr::exception_ptr::_M_addref\n";
}

namespace {

using asyncio::CancelledError;
using asyncio::ConcurrentFuture;
using asyncio::EventLoop;
using asyncio::Future;
using asyncio::Outcome;
using asyncio::RuntimeError;
using asyncio::Task;
using asyncio::ThreadPoolExecutor;

TEST(ThreadsTest, ToThreadReturnsResultOnTheLoopThread) {
  EventLoop loop;
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id worker_thread;
  std::thread::id continuation_thread;
  int r = loop.run_until_complete([&] {
    return asyncio::to_thread([&](int a, int b) {
                               worker_thread = std::this_thread::get_id();
                               return a + b;
                             },
                             2, 3)
        .then([&](int v) {
          continuation_thread = std::this_thread::get_id();
          return v;
        });
  });
  EXPECT_EQ(r, 5);
  EXPECT_NE(worker_thread, loop_thread);
  EXPECT_EQ(continuation_thread, loop_thread);
}

TEST(ThreadsTest, ToThreadCarriesTheFunctionsException) {
  EventLoop loop;
  EXPECT_THROW(loop.run_until_complete([] {
    return asyncio::to_thread([]() -> int { throw std::out_of_range("in thread"); });
  }),
               std::out_of_range);
}

TEST(ThreadsTest, ToThreadWithVoidAndMoveOnlyResults) {
  EventLoop loop;
  std::atomic<bool> ran{false};
  loop.run_until_complete([&] { return asyncio::to_thread([&] { ran = true; }); });
  EXPECT_TRUE(ran);
  std::unique_ptr<int> p = loop.run_until_complete(
      [] { return asyncio::to_thread([] { return std::make_unique<int>(9); }); });
  EXPECT_EQ(*p, 9);
}

TEST(ThreadsTest, ThreadContextNamesTheCallingTask) {
  EventLoop loop;
  std::string seen;
  Task<void> t = loop.create_task(
      [&] {
        return asyncio::to_thread([&] { seen = asyncio::thread_context().task_name; });
      },
      "reader");
  loop.run_until_complete(t);
  EXPECT_EQ(seen, "reader");
  EXPECT_EQ(asyncio::thread_context().task_name, "");
}

TEST(ThreadsTest, DefaultExecutorIsSizedLikeAsyncioAndStartsThreadsLazily) {
  ThreadPoolExecutor ex;
  unsigned cores = std::thread::hardware_concurrency();
  EXPECT_EQ(ex.max_workers(), static_cast<int>(std::min(32u, (cores ? cores : 1) + 4)));
  EXPECT_EQ(ex.threads_started(), 0);
  std::promise<void> done;
  ex.submit([&] { done.set_value(); }, [] {});
  done.get_future().wait();
  EXPECT_EQ(ex.threads_started(), 1);
  ex.shutdown();
}

TEST(ThreadsTest, SubmitAfterShutdownIsRuntimeError) {
  ThreadPoolExecutor ex(2);
  ex.shutdown();
  EXPECT_THROW(ex.submit([] {}, [] {}), RuntimeError);
  EventLoop loop;
  loop.run_until_complete([&] {
    EXPECT_THROW((void)loop.run_in_executor(&ex, [] { return 1; }), RuntimeError);
  });
}

TEST(ThreadsTest, ShutdownWithCancelFuturesCancelsWorkNotStarted) {
  EventLoop loop;
  ThreadPoolExecutor ex(1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  Future<int> running;
  Future<int> queued;
  loop.run_until_complete([&] {
    running = loop.run_in_executor(&ex, [gate, &started] {
      started.set_value();
      gate.wait();
      return 1;
    });
    queued = loop.run_in_executor(&ex, [] { return 2; });
    started.get_future().wait();  // the first job runs; the second waits
    std::thread stopper([&] { ex.shutdown(false, true); });
    stopper.join();
    release.set_value();
    return running.then([](int) {}).then([&] {
      return queued.then_outcome([](Outcome<int>) {});
    });
  });
  EXPECT_EQ(running.result(), 1);
  EXPECT_TRUE(queued.cancelled());
  ex.shutdown(true);
}

TEST(ThreadsTest, RunInExecutorOnClosedLoopIsRuntimeError) {
  EventLoop loop;
  loop.close();
  EXPECT_THROW((void)loop.run_in_executor(nullptr, [] { return 1; }), RuntimeError);
}

TEST(ThreadsTest, SetDefaultExecutorIsUsedByToThread) {
  EventLoop loop;
  auto ex = std::make_shared<ThreadPoolExecutor>(1);
  loop.set_default_executor(ex);
  loop.run_until_complete([] { return asyncio::to_thread([] {}); });
  EXPECT_EQ(ex->threads_started(), 1);
  EXPECT_EQ(&loop.default_executor(), ex.get());
}

TEST(ThreadsTest, CancellingToThreadFutureLetsTheFunctionRunAndDropsItsResult) {
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  std::promise<void> finished;
  auto ex = std::make_shared<ThreadPoolExecutor>(1);
  Future<std::string> f;
  {
    EventLoop loop;
    loop.set_default_executor(ex);
    loop.run_until_complete([&] {
      f = asyncio::to_thread([open, &finished] {
        open.wait();
        finished.set_value();
        return std::string("late");
      });
      EXPECT_TRUE(f.cancel());
      EXPECT_TRUE(f.cancelled());  // at once, while the function still runs
    });
    f = Future<std::string>();
    loop.close();
  }  // the loop is destroyed while the function runs
  gate.set_value();
  finished.get_future().wait();
  ex->shutdown(true);  // the late result was dropped on the worker thread
}

TEST(ThreadsTest, LateResultAfterLoopCloseIsDropped) {
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  auto ex = std::make_shared<ThreadPoolExecutor>(1);
  Future<int> f;
  EventLoop loop;
  loop.set_default_executor(ex);
  loop.run_until_complete([&] {
    f = asyncio::to_thread([open] {
      open.wait();
      return 3;
    });
  });
  loop.close();
  EXPECT_TRUE(f.cancelled());  // close ends it
  gate.set_value();
  ex->shutdown(true);
}

TEST(ThreadsTest, RunWaitsForTheDefaultExecutor) {
  std::atomic<bool> finished{false};
  std::promise<void> started;
  std::future<void> started_f = started.get_future();
  asyncio::run([&] {
    (void)asyncio::to_thread([&] {
      started.set_value();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      finished = true;
    });
    started_f.wait();
  });
  EXPECT_TRUE(finished);
}

// --- run_coroutine_threadsafe -----------------------------------------------

// Runs a loop in a thread until stop() is called from elsewhere.
class LoopThread {
 public:
  LoopThread() {
    std::promise<EventLoop*> ready;
    std::future<EventLoop*> r = ready.get_future();
    thread_ = std::thread([this, &ready] {
      EventLoop loop;
      loop.call_soon([&] { ready.set_value(&loop); });
      loop.run_forever();
      loop.close();
    });
    loop_ = r.get();
  }
  ~LoopThread() {
    loop_->call_soon_threadsafe([l = loop_] { l->stop(); });
    thread_.join();
  }
  EventLoop& loop() { return *loop_; }

 private:
  std::thread thread_;
  EventLoop* loop_ = nullptr;
};

TEST(ThreadsTest, RunCoroutineThreadsafeReturnsTheResult) {
  LoopThread lt;
  ConcurrentFuture<int> f = asyncio::run_coroutine_threadsafe(
      [] { return asyncio::sleep(0.01, 41).then([](int v) { return v + 1; }); }, lt.loop());
  EXPECT_EQ(f.get(), 42);
}

TEST(ThreadsTest, RunCoroutineThreadsafeCarriesExceptions) {
  LoopThread lt;
  auto f = asyncio::run_coroutine_threadsafe(
      []() -> int { throw std::out_of_range("x"); }, lt.loop());
  EXPECT_THROW(f.get(), std::out_of_range);
}

TEST(ThreadsTest, CancelFromTheCallingThreadCancelsTheTask) {
  LoopThread lt;
  auto f = asyncio::run_coroutine_threadsafe([] { return asyncio::sleep(3600, 1); }, lt.loop());
  EXPECT_TRUE(f.cancel());
  EXPECT_THROW(f.get(), CancelledError);
}

TEST(ThreadsTest, CancelOnTheLoopSideShowsAsCancelledError) {
  LoopThread lt;
  auto f = asyncio::run_coroutine_threadsafe([] {
    asyncio::current_task().cancel("loop side");
    return asyncio::sleep(3600, 1);
  }, lt.loop());
  try {
    f.get();
    ADD_FAILURE() << "no exception";
  } catch (const CancelledError& e) {
    EXPECT_EQ(e.message(), "loop side");
  }
}

TEST(ThreadsTest, RunCoroutineThreadsafeOnClosedLoopIsRuntimeError) {
  EventLoop loop;
  loop.close();
  EXPECT_THROW(asyncio::run_coroutine_threadsafe([] { return 1; }, loop), RuntimeError);
}

TEST(ThreadsTest, LoopClosingEndsPendingCrossThreadCallWithCancelledError) {
  std::promise<EventLoop*> ready;
  std::promise<void> posted;
  std::future<void> posted_f = posted.get_future();
  std::future<EventLoop*> r = ready.get_future();
  std::thread t([&] {
    EventLoop loop;
    ready.set_value(&loop);
    posted_f.wait();
    loop.run_until_complete([] { return asyncio::sleep(0.01); });
    loop.close();
  });
  EventLoop* loop = r.get();
  auto f = asyncio::run_coroutine_threadsafe([] { return asyncio::sleep(3600, 1); }, *loop);
  posted.set_value();
  EXPECT_THROW(f.get(), CancelledError);
  t.join();
}

// --- One loop per thread ----------------------------------------------------

TEST(ThreadsTest, SeveralThreadsEachRunTheirOwnLoop) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&ok, i] {
      EventLoop loop;
      int r = loop.run_until_complete([&loop, i] {
        EXPECT_EQ(&asyncio::get_running_loop(), &loop);
        return asyncio::sleep(0.01, i);
      });
      if (r == i) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_THROW(asyncio::get_running_loop(), RuntimeError);
}

TEST(ThreadsTest, RunningALoopThatAnotherThreadRunsIsRuntimeError) {
  LoopThread lt;
  EXPECT_TRUE(lt.loop().is_running());
  EXPECT_THROW(lt.loop().run_forever(), RuntimeError);
}

TEST(ThreadsTest, CallSoonThreadsafeWakesABlockedLoopAtOnce) {
  LoopThread lt;
  std::promise<std::thread::id> ran;
  lt.loop().call_soon_threadsafe([&] { ran.set_value(std::this_thread::get_id()); });
  std::future<std::thread::id> f = ran.get_future();
  // The loop sleeps with no timer: only the wake-up can run the callback.
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(f.get(), std::this_thread::get_id());
}

}  // namespace
