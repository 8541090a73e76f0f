// Tests of asyncio/debug.h: the debug switch, every report (captured with
// the log handler), the wrong-thread check per family of loop-affine
// methods, creation sites, and the task dump (on the virtual clock).
#include "asyncio/debug.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "asyncio/asyncio.h"
#include "test/test_util.h"

namespace {

using asyncio::EventLoop;
using asyncio::ExceptionContext;
using asyncio::Future;
using asyncio::LogLevel;
using asyncio::LogRecord;
using asyncio::Promise;
using asyncio::RuntimeError;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// libevent's debug mode can only be switched on before the process's first
// event_base: this binary's first loop is a debug loop, made before main().
const bool kFirstLoopWasDebug = [] {
  EventLoop::Options o;
  o.debug = true;
  EventLoop loop(o);
  return loop.get_debug();
}();

EventLoop::Options DebugVirtual() {
  EventLoop::Options o;
  o.virtual_clock = true;
  o.debug = true;
  return o;
}

std::string Site(int line) { return std::string(__FILE__) + ":" + std::to_string(line); }

// Captures every log record for the test's duration.
class DebugTest : public ::testing::Test {
 protected:
  void SetUp() override {
    asyncio::set_log_handler([this](const LogRecord& r) {
      std::lock_guard<std::mutex> lock(mu_);
      records_.push_back(r);
    });
  }
  void TearDown() override { asyncio::set_log_handler(nullptr); }

  std::vector<LogRecord> Records() {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }
  // The messages of the records whose message contains `part`.
  std::vector<std::string> Matching(const std::string& part) {
    std::vector<std::string> out;
    for (const LogRecord& r : Records())
      if (r.message.find(part) != std::string::npos) out.push_back(r.message);
    return out;
  }

  std::mutex mu_;
  std::vector<LogRecord> records_;
};

// --- The switch ---------------------------------------------------------------

TEST_F(DebugTest, OffByDefault) {
  EventLoop loop;
  EXPECT_FALSE(loop.get_debug());
  EXPECT_DOUBLE_EQ(loop.slow_callback_duration(), 0.1);
}

TEST_F(DebugTest, OptionsSetDebugAndGetDebugReportIt) {
  EventLoop loop(DebugVirtual());
  EXPECT_TRUE(loop.get_debug());
  loop.set_debug(false);
  EXPECT_FALSE(loop.get_debug());
  loop.set_debug(true);
  EXPECT_TRUE(loop.get_debug());
}

TEST_F(DebugTest, RunOptionsDebugTurnsItOn) {
  asyncio::RunOptions options;
  options.debug = true;
  bool seen = false;
  asyncio::run([&] { seen = asyncio::get_running_loop().get_debug(); }, options);
  EXPECT_TRUE(seen);
  asyncio::run([&] { seen = asyncio::get_running_loop().get_debug(); });
  EXPECT_FALSE(seen);
}

TEST_F(DebugTest, EnvironmentVariableTurnsItOnForNewLoops) {
  ::setenv("ASYNCIO_CPP_DEBUG", "1", 1);
  EventLoop on;
  ::setenv("ASYNCIO_CPP_DEBUG", "", 1);  // empty: off, as PYTHONASYNCIODEBUG
  EventLoop empty;
  ::unsetenv("ASYNCIO_CPP_DEBUG");
  EventLoop off;
  EXPECT_TRUE(on.get_debug());
  EXPECT_FALSE(empty.get_debug());
  EXPECT_FALSE(off.get_debug());
}

TEST_F(DebugTest, SlowCallbackDurationIsSettableAndChecked) {
  EventLoop loop;
  loop.set_slow_callback_duration(0.25);
  EXPECT_DOUBLE_EQ(loop.slow_callback_duration(), 0.25);
  EXPECT_THROW(loop.set_slow_callback_duration(-1), asyncio::ValueError);
  EXPECT_THROW(loop.set_slow_callback_duration(std::nan("")), asyncio::ValueError);
  EXPECT_DOUBLE_EQ(loop.slow_callback_duration(), 0.25);
}

TEST_F(DebugTest, LibeventDebugModeIsOnWhenTheFirstLoopWasADebugLoop) {
  EXPECT_TRUE(kFirstLoopWasDebug);
  EXPECT_TRUE(asyncio::libevent_debug_mode_enabled());
  EXPECT_TRUE(asyncio::enable_libevent_debug_mode());  // already on: true
}

// --- Slow callbacks -------------------------------------------------------------

TEST_F(DebugTest, SlowCallbackIsReportedWithItsSiteAndDuration) {
  EventLoop loop(DebugVirtual());
  loop.set_slow_callback_duration(0);  // every callback is "slow"
  const int line = __LINE__ + 1;
  loop.call_soon([] {});
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  std::vector<std::string> slow = Matching("Executing callback scheduled at " + Site(line));
  ASSERT_THAT(slow, SizeIs(1));
  EXPECT_THAT(slow[0], HasSubstr(" took 0."));
  EXPECT_THAT(slow[0], HasSubstr(" seconds"));
  for (const LogRecord& r : Records()) {
    if (r.message.find("Executing") == 0) {
      EXPECT_EQ(r.level, LogLevel::kWarning);
    }
  }
}

TEST_F(DebugTest, SlowTaskStepNamesTheTaskAndItsSite) {
  EventLoop loop(DebugVirtual());
  loop.set_slow_callback_duration(0);
  const int line = __LINE__ + 1;
  auto task = loop.create_task([] { return 7; }, "worker");
  EXPECT_EQ(loop.run_until_complete(task), 7);
  EXPECT_THAT(Matching("Executing worker created at " + Site(line) + " took "),
              SizeIs(1));
}

TEST_F(DebugTest, SlowTimerCallbackAndContinuationAreReported) {
  EventLoop loop(DebugVirtual());
  loop.set_slow_callback_duration(0);
  const int timer_line = __LINE__ + 1;
  loop.call_later(1.0, [] {});
  const int promise_line = __LINE__ + 1;
  Promise<int> p(loop);
  const int then_line = __LINE__ + 1;
  Future<int> f = p.get_future().then([](int v) { return v + 1; });
  p.get_future().add_done_callback([] {});
  p.set_result(1);
  loop.call_later(2.0, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_THAT(Matching("Executing callback scheduled at " + Site(timer_line)), SizeIs(1));
  EXPECT_THAT(Matching("Executing continuation created at " + Site(then_line)),
              SizeIs(1));
  EXPECT_THAT(Matching("Executing done-callback of Future created at " +
                       Site(promise_line)),
              SizeIs(1));
  EXPECT_EQ(f.result(), 2);
}

TEST_F(DebugTest, FastCallbacksAreNotReported) {
  EventLoop loop(DebugVirtual());
  loop.set_slow_callback_duration(1000);
  loop.call_soon([] {});
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_THAT(Matching("Executing"), IsEmpty());
}

TEST_F(DebugTest, SlowCallbacksAreNotReportedWithDebugOff) {
  EventLoop loop(asyncio_test::VirtualClock());
  loop.set_slow_callback_duration(0);
  loop.call_soon([] {});
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_THAT(Matching("Executing"), IsEmpty());
}

// --- Always-on reports ------------------------------------------------------------

TEST_F(DebugTest, NeverRetrievedExceptionIsReportedWithMessageAndSite) {
  EventLoop loop(DebugVirtual());
  const int line = __LINE__ + 1;
  Promise<int> p(loop);
  {
    Future<int> f = p.get_future();
    p.set_exception(std::runtime_error("lost boom"));
    p = Promise<int>(loop);
  }
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  std::vector<std::string> r = Matching("Future exception was never retrieved");
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_THAT(r[0], HasSubstr("created at " + Site(line)));
  EXPECT_THAT(r[0], HasSubstr("exception: lost boom"));
  for (const LogRecord& rec : Records()) {
    if (rec.message.find("never retrieved") != std::string::npos) {
      EXPECT_EQ(rec.level, LogLevel::kError);
      EXPECT_EQ(rec.where.line, line);
    }
  }
}

TEST_F(DebugTest, NeverRetrievedTaskExceptionIsReportedWithDebugOff) {
  EventLoop loop(asyncio_test::VirtualClock());
  {
    auto t = loop.create_task([]() -> int { throw std::runtime_error("task boom"); },
                              "thrower");
    loop.call_soon([&] { loop.call_soon([&] { loop.stop(); }); });
    loop.run_forever();
  }
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  std::vector<std::string> r = Matching("Task exception was never retrieved");
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_THAT(r[0], HasSubstr("future: thrower"));
  EXPECT_THAT(r[0], HasSubstr("task boom"));
  EXPECT_THAT(r[0], ::testing::Not(HasSubstr("created at")));  // no site
}

TEST_F(DebugTest, ExceptionHandlerGetsTheCreationSite) {
  EventLoop loop(DebugVirtual());
  std::vector<ExceptionContext> contexts;
  loop.set_exception_handler(
      [&](EventLoop&, const ExceptionContext& c) { contexts.push_back(c); });
  const int line = __LINE__ + 1;
  { Future<void> f = asyncio::make_ready_future(loop).then([] { throw std::runtime_error("x"); }); }
  loop.call_soon([&] { loop.call_soon([&] { loop.stop(); }); });
  loop.run_forever();
  ASSERT_THAT(contexts, SizeIs(1));
  EXPECT_EQ(contexts[0].message, "Future exception was never retrieved");
  EXPECT_EQ(contexts[0].created_at.line, line);
  EXPECT_STREQ(contexts[0].created_at.file, __FILE__);
  EXPECT_THAT(Records(), IsEmpty());  // the handler took it, not the log
}

TEST_F(DebugTest, TaskPendingAtCloseIsReportedWithItsSite) {
  EventLoop loop(DebugVirtual());
  const int line = __LINE__ + 1;
  auto t = loop.create_task([] { return asyncio::sleep(10); }, "sleeper");
  loop.call_later(1.0, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_THAT(Matching("Task was destroyed but it is pending!"), IsEmpty());
  loop.close();
  std::vector<std::string> r = Matching("Task was destroyed but it is pending!");
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_THAT(r[0], HasSubstr("future: sleeper created at " + Site(line)));
  EXPECT_TRUE(t.cancelled());
}

TEST_F(DebugTest, RunCancelsLeftoverTasksSoNothingIsReportedPending) {
  asyncio::run([] {
    asyncio::create_task([] { return asyncio::sleep(10); });
    return asyncio::sleep(0);
  }, asyncio_test::VirtualClock());
  EXPECT_THAT(Matching("pending"), IsEmpty());
}

TEST_F(DebugTest, CallbackExceptionIsReportedAndTheLoopGoesOn) {
  EventLoop loop;
  bool after = false;
  loop.call_soon([] { throw std::runtime_error("callback boom"); });
  loop.call_soon([&] { after = true; });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  EXPECT_TRUE(after);
  std::vector<std::string> r = Matching("Exception in callback");
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_THAT(r[0], HasSubstr("callback boom"));
}

TEST_F(DebugTest, DefaultLogHandlerWritesOneLinePerRecordToStderr) {
  asyncio::set_log_handler(nullptr);
  ::testing::internal::CaptureStderr();
  asyncio::log(LogRecord{LogLevel::kWarning, "hello log", {}});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "asyncio WARNING: hello log\n");
}

TEST_F(DebugTest, ThrowingLogHandlerFallsBackToStderr) {
  asyncio::set_log_handler([](const LogRecord&) { throw std::runtime_error("bad handler"); });
  ::testing::internal::CaptureStderr();
  asyncio::log(LogRecord{LogLevel::kError, "kept", {}});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("asyncio ERROR: kept\n"));
  EXPECT_THAT(err, HasSubstr("bad handler"));
}

// --- The wrong-thread check -------------------------------------------------------
//
// The loop runs on this thread; another thread tries one operation while the
// loop waits, records what it threw, and stops the loop through the one
// thread-safe door.

class WrongThreadTest : public DebugTest {
 protected:
  // Runs `op` on another thread while `loop` runs; returns the message of the
  // RuntimeError it threw ("" when it threw nothing).
  template <class Op>
  std::string FromOtherThread(EventLoop& loop, Op op) {
    std::string what = "<no exception>";
    std::thread other;
    loop.call_soon([&] {
      other = std::thread([&] {
        try {
          op();
        } catch (const RuntimeError& e) {
          what = e.what();
        }
        loop.call_soon_threadsafe([&] { loop.stop(); });
      });
    });
    loop.run_forever();
    other.join();
    return what;
  }
};

MATCHER_P(NamesWrongThread, op, "") {
  return arg.find("Non-thread-safe operation invoked on an event loop other "
                  "than the current one") == 0 &&
         arg.find(op) != std::string::npos;
}

TEST_F(WrongThreadTest, CallSoon) {
  EventLoop loop(DebugVirtual());
  EXPECT_THAT(FromOtherThread(loop, [&] { loop.call_soon([] {}); }),
              NamesWrongThread("call_soon"));
}

TEST_F(WrongThreadTest, CallLaterAndCallAt) {
  EventLoop loop(DebugVirtual());
  EXPECT_THAT(FromOtherThread(loop, [&] { loop.call_later(1.0, [] {}); }),
              NamesWrongThread("call_later"));
  EXPECT_THAT(FromOtherThread(loop, [&] { loop.call_at(1.0, [] {}); }),
              NamesWrongThread("call_at"));
}

TEST_F(WrongThreadTest, CreateTask) {
  EventLoop loop(DebugVirtual());
  EXPECT_THAT(FromOtherThread(loop, [&] { (void)loop.create_task([] {}); }),
              NamesWrongThread("create_task"));
  EXPECT_THAT(asyncio::all_tasks(loop), IsEmpty());
}

TEST_F(WrongThreadTest, Stop) {
  EventLoop loop(DebugVirtual());
  EXPECT_THAT(FromOtherThread(loop, [&] { loop.stop(); }), NamesWrongThread("stop"));
}

TEST_F(WrongThreadTest, PromiseSetResultAndSetException) {
  EventLoop loop(DebugVirtual());
  Promise<int> p(loop);
  Future<int> f = p.get_future();
  EXPECT_THAT(FromOtherThread(loop, [&] { p.set_result(1); }),
              NamesWrongThread("Promise::set_result"));
  EXPECT_THAT(FromOtherThread(loop, [&] {
                p.set_exception(std::make_exception_ptr(std::runtime_error("x")));
              }),
              NamesWrongThread("Promise::set_exception"));
  EXPECT_FALSE(f.done());
  p.set_result(2);  // on the loop's thread (the loop is not running): fine
  EXPECT_EQ(f.result(), 2);
}

TEST_F(WrongThreadTest, Cancel) {
  EventLoop loop(DebugVirtual());
  Promise<int> p(loop);
  Future<int> f = p.get_future();
  EXPECT_THAT(FromOtherThread(loop, [&] { f.cancel(); }),
              NamesWrongThread("Future::cancel"));
  EXPECT_FALSE(f.done());
}

TEST_F(WrongThreadTest, ThenAndAddDoneCallback) {
  EventLoop loop(DebugVirtual());
  Promise<int> p(loop);
  Future<int> f = p.get_future();
  EXPECT_THAT(FromOtherThread(loop, [&] { (void)f.then([](int) {}); }),
              NamesWrongThread("Future::then"));
  EXPECT_THAT(FromOtherThread(loop, [&] { f.add_done_callback([] {}); }),
              NamesWrongThread("add_done_callback"));
}

TEST_F(WrongThreadTest, NoCheckWithDebugOff) {
  // Debug off: no check (the operation is not made on the other thread
  // here, as it would race; only the debug flag is read).
  EventLoop loop(asyncio_test::VirtualClock());
  EXPECT_FALSE(loop.get_debug());
  EXPECT_EQ(FromOtherThread(loop, [&] { loop.check_thread("x"); }), "<no exception>");
}

TEST_F(WrongThreadTest, TheLoopsOwnThreadAndAStoppedLoopAreFine) {
  EventLoop loop(DebugVirtual());
  Promise<int> p(loop);
  Future<int> f = p.get_future();
  int ran = 0;
  loop.call_soon([&] {
    loop.call_soon([&] { ++ran; });
    loop.call_later(0.5, [&] { ++ran; });
    (void)loop.create_task([&] { ++ran; });
    p.set_result(1);
  });
  loop.call_later(1.0, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(f.result(), 1);
  // Not running: another thread may set it up (asyncio checks only a
  // running loop).
  std::thread([&] { loop.call_soon([] {}); }).join();
}

// --- Introspection ------------------------------------------------------------------

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

TEST_F(DebugTest, FormatTasksShowsTheTreeOfWhoWaitsForWhom) {
  EventLoop loop(DebugVirtual());
  asyncio::Queue<int> queue;
  asyncio::Lock lock;
  std::string text;
  int l_sleeper = 0, l_sleep = 0, l_waiter = 0, l_getter = 0, l_locker = 0,
      l_gatherer = 0, l_g1 = 0, l_g1_sleep = 0, l_g2 = 0, l_g2_sleep = 0;
  auto main_body = [&] {
    (void)lock.acquire();  // free: main holds it from now on
    l_sleeper = __LINE__ + 1;
    auto sleeper = asyncio::create_task([&] {
      l_sleep = __LINE__ + 1;
      return asyncio::sleep(5);
    }, "sleeper");
    l_waiter = __LINE__ + 1;
    (void)asyncio::create_task([sleeper] { return Future<void>(sleeper); }, "waiter");
    l_getter = __LINE__ + 1;
    (void)asyncio::create_task([&] { return queue.get().then([](int) {}); }, "getter");
    l_locker = __LINE__ + 1;
    (void)asyncio::create_task([&] { return lock.acquire(); }, "locker");
    l_gatherer = __LINE__ + 1;
    (void)asyncio::create_task([&] {
      l_g1 = __LINE__ + 1;
      auto g1 = asyncio::create_task([&] {
        l_g1_sleep = __LINE__ + 1;
        return asyncio::sleep(2);
      }, "g1");
      l_g2 = __LINE__ + 1;
      auto g2 = asyncio::create_task([&] {
        l_g2_sleep = __LINE__ + 1;
        return asyncio::sleep(3);
      }, "g2");
      return asyncio::gather(g1, g2);
    }, "gatherer");
    return asyncio::sleep(1).then([&] {
      text = asyncio::format_tasks(loop);
      for (const asyncio::AnyTask& t : asyncio::all_tasks())
        if (t != asyncio::current_task()) t.cancel();
    });
  };
  const int l_main = __LINE__ + 1;
  loop.run_until_complete(loop.create_task(main_body, "main"));
  EXPECT_THAT(
      Lines(text),
      ElementsAre(
          "8 pending tasks at loop time 1.000",
          "main (running) created at " + Site(l_main),
          "waiter (pending) created at " + Site(l_waiter) + ", waiting on sleeper",
          "  sleeper (pending) created at " + Site(l_sleeper) +
              ", waiting on sleep, due at 5.000 (in 4.000 s) created at " +
              Site(l_sleep),
          "getter (pending) created at " + Site(l_getter) + ", waiting on Queue.get",
          "locker (pending) created at " + Site(l_locker) +
              ", waiting on Lock.acquire",
          "gatherer (pending) created at " + Site(l_gatherer) +
              ", waiting on gather: g1, g2",
          "  g1 (pending) created at " + Site(l_g1) +
              ", waiting on sleep, due at 2.000 (in 1.000 s) created at " +
              Site(l_g1_sleep),
          "  g2 (pending) created at " + Site(l_g2) +
              ", waiting on sleep, due at 3.000 (in 2.000 s) created at " +
              Site(l_g2_sleep)));
}

TEST_F(DebugTest, FormatTasksStatesWithoutDebugMode) {
  // Debug off: no creation sites, the rest as in debug mode.
  EventLoop loop(asyncio_test::VirtualClock());
  std::string text;
  auto a = loop.create_task([] { return asyncio::sleep(2); }, "a");
  (void)loop.create_task([&] {
    (void)asyncio::create_task([] {}, "fresh");  // its first step is queued
    text = asyncio::format_tasks(asyncio::get_running_loop());
    return asyncio::sleep(3);
  }, "b");
  loop.call_later(1.0, [&] {
    a.cancel();  // its sleep ends cancelled: a's next step is queued
    text += asyncio::format_tasks(loop);
  });
  loop.run_until_complete(
      loop.create_task([] { return asyncio::sleep(1.5); }, "main"));
  EXPECT_THAT(Lines(text),
              ElementsAre("4 pending tasks at loop time 0.000",
                          "a (pending), waiting on sleep, due at 2.000 (in 2.000 s)",
                          "b (running)",
                          "main (not started)",
                          "fresh (not started)",
                          "3 pending tasks at loop time 1.000",
                          "a (ready, cancelling)",
                          "b (pending), waiting on sleep, due at 3.000 (in 2.000 s)",
                          "main (pending), waiting on sleep, due at 1.500 (in 0.500 s)"));
}

TEST_F(DebugTest, TaskAwaitedByTwoIsListedOnce) {
  EventLoop loop(asyncio_test::VirtualClock());
  auto shared = loop.create_task([] { return asyncio::sleep(5); }, "shared");
  auto w1 = loop.create_task([shared] { return Future<void>(shared); }, "w1");
  auto w2 = loop.create_task([shared] { return Future<void>(shared); }, "w2");
  loop.run_until_complete([] { return asyncio::sleep(0.5); });
  EXPECT_THAT(Lines(asyncio::format_tasks(loop)),
              ElementsAre("3 pending tasks at loop time 0.500",
                          "w1 (pending), waiting on shared",
                          "  shared (pending), waiting on sleep, due at 5.000 (in 4.500 s)",
                          "w2 (pending), waiting on shared",
                          "  shared (listed above)"));
}

TEST_F(DebugTest, DumpTasksLogsOneRecord) {
  EventLoop loop(DebugVirtual());
  (void)loop.create_task([] { return asyncio::sleep(5); }, "dumped");
  loop.run_until_complete(loop.create_task([] { asyncio::dump_tasks(); }, "dumper"));
  std::vector<std::string> r = Matching("Task dump: ");
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_THAT(r[0], HasSubstr("2 pending tasks at loop time 0.000\n"));
  EXPECT_THAT(r[0], HasSubstr("\ndumped (pending) created at "));
  EXPECT_THAT(r[0], HasSubstr("\ndumper (running) created at "));
  EXPECT_THROW(asyncio::dump_tasks(), RuntimeError);  // no running loop
}

TEST_F(DebugTest, DumpOnSignal) {
  EventLoop loop(asyncio_test::VirtualClock());
  loop.dump_tasks_on_signal();  // SIGUSR1
  (void)loop.create_task([] { return asyncio::sleep(5); }, "hung");
  loop.call_soon([] { std::raise(SIGUSR1); });
  loop.run_until_complete([] { return asyncio::sleep(1); });
  std::vector<std::string> r = Matching("Task dump: ");
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_THAT(r[0], HasSubstr("\nhung (pending), waiting on sleep"));
  loop.dump_tasks_on_signal(0);  // removed
  EXPECT_THROW(loop.dump_tasks_on_signal(-1), asyncio::ValueError);
  loop.close();
  EXPECT_THROW(loop.dump_tasks_on_signal(SIGUSR1), RuntimeError);
}

TEST_F(DebugTest, RunOptionDumpsOnSignal) {
  asyncio::RunOptions options;
  options.virtual_clock = true;
  options.dump_tasks_signal = SIGUSR2;
  asyncio::run([] {
    std::raise(SIGUSR2);
    return asyncio::sleep(1);
  }, options);
  // libevent runs the signal's callback on a later pass: main may be done.
  EXPECT_THAT(Matching("Task dump: "), SizeIs(1));
}

}  // namespace
