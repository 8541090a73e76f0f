// Tests for asyncio/future.h: Future<T>, Promise<T>, make_ready_future and
// make_exception_future.
//
// Every test runs on a loop with the virtual clock and drives it one
// iteration at a time (RunOnce) or until a future is done (RunUntilDone), so
// the order in which continuations run is checked exactly and no test
// depends on real time.
#include "asyncio/future.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/outcome.h"
#include "asyncio/sleep.h"
#include "asyncio/task.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

namespace asyncio {
namespace {

using asyncio_test::CancelMessageOf;
using asyncio_test::CancelMessageThrownBy;

// --- Helpers ----------------------------------------------------------------

// Runs exactly one loop iteration: the stop callback is queued now, so it runs
// in the first iteration together with everything already ready, and what
// that iteration schedules waits for the next call.
//
// (event_loop.h says `loop.stop(); loop.run_forever();` does the same, but it
// does not: see LoopIterationTest.StopBeforeRunForeverRunsOneIteration.)
void RunOnce(EventLoop& loop) {
  Handle stop = loop.call_soon([&loop] { loop.stop(); });
  loop.run_forever();
}

// Runs the loop until `f` is done, or until the loop has nothing left to do
// (then the virtual clock jumps to the guard timer and the loop stops, so a
// future that never completes fails the test instead of hanging it).
template <class T>
bool RunUntilDone(EventLoop& loop, const Future<T>& f) {
  if (f.done()) return true;
  std::uint64_t id = f.add_done_callback([&loop] { loop.stop(); });
  TimerHandle guard = loop.call_later(1e6, [&loop] { loop.stop(); });
  loop.run_forever();
  guard.cancel();
  if (!f.done()) f.remove_done_callback(id);
  return f.done();
}

// Runs the loop until nothing is ready and no timer is due before the guard.
void RunUntilIdle(EventLoop& loop) {
  TimerHandle guard = loop.call_later(1e6, [&loop] { loop.stop(); });
  loop.run_forever();
  guard.cancel();
}

template <class E>
bool Holds(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string WhatOf(const std::exception_ptr& e) {
  if (!e) return "<no exception>";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "<unknown>";
  }
}

// A loop on the virtual clock whose exception handler records every report.
class LoopTest : public ::testing::Test {
 protected:
  LoopTest() {
    loop_.set_exception_handler(
        [this](EventLoop&, const ExceptionContext& c) { reports_.push_back(c); });
  }

  std::vector<ExceptionContext> reports_;  // outlives loop_
  EventLoop loop_{EventLoop::Options{true}};
};

class FutureTest : public LoopTest {};
class PromiseTest : public LoopTest {};
class FutureCancelTest : public LoopTest {};
class UnretrievedExceptionTest : public LoopTest {};
class MoveOnlyValueTest : public LoopTest {};
class LongChainTest : public LoopTest {};

// --- Per-type helpers for the typed suite -----------------------------------

template <class T>
struct Traits;

template <>
struct Traits<void> {
  static void Set(Promise<void>& p, int) { p.set_result(); }
  static Future<void> Ready(EventLoop& loop, int) {
    return make_ready_future(loop);
  }
  // What Read() returns for a future completed with n.
  static int Expected(int) { return 0; }
  static int Read(const Future<void>& f) {
    f.result();
    return 0;
  }
  static int ReadOutcome(Outcome<void>& o) {
    o.value();
    return 0;
  }
  // A continuation taking the value as const T&, returning Read().
  static auto ToInt() {
    return [] { return 0; };
  }
  // A catch_error handler recovering with n.
  static auto Recover(int) {
    return [](const auto&) {};
  }
};

template <>
struct Traits<int> {
  static void Set(Promise<int>& p, int n) { p.set_result(n); }
  static Future<int> Ready(EventLoop& loop, int n) {
    return make_ready_future(loop, n);
  }
  static int Expected(int n) { return n; }
  static int Read(const Future<int>& f) { return f.result(); }
  static int ReadOutcome(Outcome<int>& o) { return o.value(); }
  static auto ToInt() {
    return [](const int& v) { return v; };
  }
  static auto Recover(int n) {
    return [n](const auto&) { return n; };
  }
};

template <>
struct Traits<std::unique_ptr<int>> {
  using P = std::unique_ptr<int>;
  static void Set(Promise<P>& p, int n) { p.set_result(std::make_unique<int>(n)); }
  static Future<P> Ready(EventLoop& loop, int n) {
    return make_ready_future(loop, std::make_unique<int>(n));
  }
  static int Expected(int n) { return n; }
  static int Read(const Future<P>& f) {
    const P& v = f.result();
    return v ? *v : -1;
  }
  static int ReadOutcome(Outcome<P>& o) {
    const P& v = o.value();
    return v ? *v : -1;
  }
  static auto ToInt() {
    return [](const P& v) { return v ? *v : -1; };
  }
  static auto Recover(int n) {
    return [n](const auto&) { return std::make_unique<int>(n); };
  }
};

template <class T>
class FutureTypedTest : public LoopTest {
 protected:
  using Tr = Traits<T>;
};

using ValueTypes = ::testing::Types<void, int, std::unique_ptr<int>>;
TYPED_TEST_SUITE(FutureTypedTest, ValueTypes);

// --- FutureTypedTest: state, result, exception ------------------------------

TYPED_TEST(FutureTypedTest, PendingFutureIsNotDone) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  EXPECT_TRUE(f.valid());
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_FALSE(p.done());
  EXPECT_THROW(f.result(), InvalidStateError);
  EXPECT_THROW(f.exception(), InvalidStateError);
  EXPECT_THROW((void)f.outcome(), InvalidStateError);
}

TYPED_TEST(FutureTypedTest, SetResultCompletesWithValue) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  ASSERT_FALSE(f.done());
  Tr::Set(p, 42);
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(p.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_EQ(Tr::Read(f), Tr::Expected(42));
}

TYPED_TEST(FutureTypedTest, SetExceptionCompletesWithThatException) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  auto e = std::make_exception_ptr(std::runtime_error("boom"));
  ASSERT_FALSE(f.done());
  p.set_exception(e);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.exception(), e);
  EXPECT_THROW(f.result(), std::runtime_error);
  Outcome<TypeParam> o = f.outcome();
  EXPECT_TRUE(o.has_exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_EQ(o.exception(), e);
}

TYPED_TEST(FutureTypedTest, SetExceptionAcceptsAnExceptionObject) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  p.set_exception(std::out_of_range("range"));
  EXPECT_THROW(f.result(), std::out_of_range);
  EXPECT_EQ(WhatOf(f.exception()), "range");
}

TYPED_TEST(FutureTypedTest, CancelKeepsMessage) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  ASSERT_FALSE(f.done());
  EXPECT_TRUE(f.cancel("stop now"));
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(p.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { f.result(); }), "stop now");
  EXPECT_EQ(CancelMessageThrownBy([&] { (void)f.exception(); }), "stop now");
  Outcome<TypeParam> o = f.outcome();
  EXPECT_TRUE(o.cancelled());
  EXPECT_EQ(CancelMessageOf(o.exception()), "stop now");
}

TYPED_TEST(FutureTypedTest, CancelWithoutMessageHasEmptyMessage) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(CancelMessageThrownBy([&] { f.result(); }), "");
}

TYPED_TEST(FutureTypedTest, CancelTwiceReturnsFalseAndKeepsFirstMessage) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  EXPECT_TRUE(f.cancel("first"));
  EXPECT_FALSE(f.cancel("second"));
  EXPECT_EQ(CancelMessageThrownBy([&] { f.result(); }), "first");
}

TYPED_TEST(FutureTypedTest, CancelAfterSetResultIsNoOp) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  Tr::Set(p, 42);
  EXPECT_FALSE(f.cancel("too late"));
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(Tr::Read(f), Tr::Expected(42));
}

TYPED_TEST(FutureTypedTest, CancelAfterSetExceptionIsNoOp) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  auto e = std::make_exception_ptr(std::runtime_error("boom"));
  p.set_exception(e);
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.exception(), e);
}

TYPED_TEST(FutureTypedTest, SetResultAfterCancelThrowsInvalidStateError) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  ASSERT_TRUE(f.cancel("cancelled first"));
  EXPECT_THROW(Tr::Set(p, 42), InvalidStateError);
  EXPECT_TRUE(f.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { f.result(); }), "cancelled first");
}

TYPED_TEST(FutureTypedTest, SetExceptionAfterCancelThrowsInvalidStateError) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  ASSERT_TRUE(f.cancel());
  EXPECT_THROW(p.set_exception(std::runtime_error("late")), InvalidStateError);
  EXPECT_TRUE(f.cancelled());
}

TYPED_TEST(FutureTypedTest, SetResultTwiceThrowsInvalidStateError) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  Tr::Set(p, 1);
  EXPECT_THROW(Tr::Set(p, 2), InvalidStateError);
  EXPECT_THROW(p.set_exception(std::runtime_error("late")), InvalidStateError);
  EXPECT_EQ(Tr::Read(f), Tr::Expected(1));
}

TYPED_TEST(FutureTypedTest, GetLoopReturnsTheLoopOfFutureAndStages) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  Future<int> g = f.then(Tr::ToInt());
  EXPECT_EQ(&f.get_loop(), &this->loop_);
  EXPECT_EQ(&g.get_loop(), &this->loop_);
  EXPECT_EQ(&Tr::Ready(this->loop_, 1).get_loop(), &this->loop_);
}

TYPED_TEST(FutureTypedTest, MakeReadyFutureIsDoneWithValue) {
  using Tr = typename TestFixture::Tr;
  Future<TypeParam> f = Tr::Ready(this->loop_, 7);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_EQ(Tr::Read(f), Tr::Expected(7));
}

TYPED_TEST(FutureTypedTest, MakeExceptionFutureIsDoneWithException) {
  auto e = std::make_exception_ptr(std::runtime_error("bad"));
  Future<TypeParam> f = make_exception_future<TypeParam>(this->loop_, e);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.exception(), e);
  EXPECT_THROW(f.result(), std::runtime_error);
}

// --- FutureTypedTest: done-callbacks ----------------------------------------

TYPED_TEST(FutureTypedTest, DoneCallbackWithFutureArgRunsOnIterationAfterCompletion) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  int calls = 0;
  int seen = -100;
  f.add_done_callback([&](Future<TypeParam> g) {
    ++calls;
    seen = g.done() ? Tr::Read(g) : -200;
  });
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 0);  // still pending
  Tr::Set(p, 42);
  EXPECT_EQ(calls, 0);  // scheduled, not run inline
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, Tr::Expected(42));
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 1);  // once only
}

TYPED_TEST(FutureTypedTest, DoneCallbackWithoutArgOnDoneFutureRunsOnNextIteration) {
  using Tr = typename TestFixture::Tr;
  Future<TypeParam> f = Tr::Ready(this->loop_, 1);
  int calls = 0;
  f.add_done_callback([&] { ++calls; });
  EXPECT_EQ(calls, 0);  // even on a done future: not inline
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 1);
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 1);
}

TYPED_TEST(FutureTypedTest, DoneCallbackRunsOnCancellation) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  bool saw_cancelled = false;
  f.add_done_callback([&](Future<TypeParam> g) { saw_cancelled = g.cancelled(); });
  f.cancel();
  EXPECT_FALSE(saw_cancelled);
  RunOnce(this->loop_);
  EXPECT_TRUE(saw_cancelled);
}

TYPED_TEST(FutureTypedTest, RemoveDoneCallbackReturnsOneThenZero) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  int calls = 0;
  std::uint64_t id = f.add_done_callback([&] { ++calls; });
  EXPECT_EQ(f.remove_done_callback(id), 1u);
  EXPECT_EQ(f.remove_done_callback(id), 0u);
  Tr::Set(p, 1);
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 0);
}

TYPED_TEST(FutureTypedTest, RemoveDoneCallbackAfterItWasScheduledReturnsZero) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  int calls = 0;
  std::uint64_t id = f.add_done_callback([&] { ++calls; });
  Tr::Set(p, 1);  // the callback is now in the ready queue
  EXPECT_EQ(f.remove_done_callback(id), 0u);
  EXPECT_EQ(calls, 0);
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 1);  // asyncio: a scheduled callback still runs
}

TYPED_TEST(FutureTypedTest, RemoveDoneCallbackOnDoneFutureReturnsZero) {
  using Tr = typename TestFixture::Tr;
  Future<TypeParam> f = Tr::Ready(this->loop_, 1);
  int calls = 0;
  std::uint64_t id = f.add_done_callback([&] { ++calls; });
  EXPECT_EQ(f.remove_done_callback(id), 0u);
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 1);
}

// --- FutureTypedTest: continuations -----------------------------------------

TYPED_TEST(FutureTypedTest, ThenOnDoneFutureRunsOnNextIteration) {
  using Tr = typename TestFixture::Tr;
  Future<TypeParam> f = Tr::Ready(this->loop_, 42);
  int calls = 0;
  Future<int> g = f.then([&calls, fn = Tr::ToInt()](const auto&... v) {
    ++calls;
    return fn(v...);
  });
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(g.done());
  RunOnce(this->loop_);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(g.done());
  EXPECT_EQ(g.result(), Tr::Expected(42));
}

TYPED_TEST(FutureTypedTest, ThenOnPendingFutureRunsOnIterationAfterSetResult) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<int> g = p.get_future().then(Tr::ToInt());
  RunOnce(this->loop_);
  EXPECT_FALSE(g.done());
  Tr::Set(p, 5);
  EXPECT_FALSE(g.done());
  RunOnce(this->loop_);
  ASSERT_TRUE(g.done());
  EXPECT_EQ(g.result(), Tr::Expected(5));
}

TYPED_TEST(FutureTypedTest, ThenSkipsValueHandlerOnErrorAndPassesSameException) {
  using Tr = typename TestFixture::Tr;
  auto e = std::make_exception_ptr(std::runtime_error("boom"));
  Future<TypeParam> f = make_exception_future<TypeParam>(this->loop_, e);
  int calls = 0;
  Future<int> g = f.then([&calls, fn = Tr::ToInt()](const auto&... v) {
                     ++calls;
                     return fn(v...);
                   })
                      .then([&calls](int v) {
                        ++calls;
                        return v;
                      });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(g.cancelled());
  EXPECT_EQ(g.exception(), e);  // the same exception object, never rethrown
}

TYPED_TEST(FutureTypedTest, ThenSkipsValueHandlerOnCancellation) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  int calls = 0;
  Future<int> g = p.get_future().then([&calls, fn = Tr::ToInt()](const auto&... v) {
    ++calls;
    return fn(v...);
  });
  p.get_future().cancel("upstream");
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "upstream");
}

TYPED_TEST(FutureTypedTest, ThenOutcomeSeesValue) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<int> g = p.get_future().then_outcome([](Outcome<TypeParam> o) {
    return o.has_value() ? Tr::ReadOutcome(o) : -1;
  });
  Tr::Set(p, 9);
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(g.result(), Tr::Expected(9));
}

TYPED_TEST(FutureTypedTest, ThenOutcomeSeesException) {
  auto e = std::make_exception_ptr(std::runtime_error("boom"));
  std::exception_ptr seen;
  bool cancelled = true;
  Future<void> g = make_exception_future<TypeParam>(this->loop_, e)
                       .then_outcome([&](Outcome<TypeParam> o) {
                         seen = o.exception();
                         cancelled = o.cancelled();
                       });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(seen, e);
  EXPECT_FALSE(cancelled);
  EXPECT_EQ(g.exception(), nullptr);  // the handler returned normally
}

TYPED_TEST(FutureTypedTest, ThenOutcomeRunsOnCancellation) {
  Promise<TypeParam> p(this->loop_);
  std::string message = "<not run>";
  bool cancelled = false;
  Future<void> g = p.get_future().then_outcome([&](Outcome<TypeParam> o) {
    cancelled = o.cancelled();
    message = CancelMessageOf(o.exception());
  });
  p.get_future().cancel("bye");
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(message, "bye");
  EXPECT_FALSE(g.cancelled());
}

TYPED_TEST(FutureTypedTest, CatchErrorRecoversFromMatchingError) {
  using Tr = typename TestFixture::Tr;
  auto f = make_exception_future<TypeParam>(
      this->loop_, std::make_exception_ptr(std::runtime_error("boom")));
  std::string seen;
  auto recover = Tr::Recover(7);
  Future<TypeParam> g = f.template catch_error<std::runtime_error>(
      [&seen, recover](const std::runtime_error& err) {
        seen = err.what();
        return recover(err);
      });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(seen, "boom");
  EXPECT_EQ(Tr::Read(g), Tr::Expected(7));
}

TYPED_TEST(FutureTypedTest, CatchErrorPassesValueThroughWithoutCallingHandler) {
  using Tr = typename TestFixture::Tr;
  int calls = 0;
  auto recover = Tr::Recover(7);
  Future<TypeParam> g =
      Tr::Ready(this->loop_, 42).template catch_error<std::exception>(
          [&calls, recover](const std::exception& err) {
            ++calls;
            return recover(err);
          });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Tr::Read(g), Tr::Expected(42));
}

TYPED_TEST(FutureTypedTest, CatchErrorPassesOtherErrorTypesThrough) {
  using Tr = typename TestFixture::Tr;
  auto e = std::make_exception_ptr(std::logic_error("logic"));
  int calls = 0;
  auto recover = Tr::Recover(7);
  Future<TypeParam> g =
      make_exception_future<TypeParam>(this->loop_, e)
          .template catch_error<std::runtime_error>(
              [&calls, recover](const std::runtime_error& err) {
                ++calls;
                return recover(err);
              });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(g.exception(), e);
}

TYPED_TEST(FutureTypedTest, CatchErrorOfStdExceptionDoesNotCatchCancellation) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  int calls = 0;
  auto recover = Tr::Recover(7);
  Future<TypeParam> g = p.get_future().template catch_error<std::exception>(
      [&calls, recover](const std::exception& err) {
        ++calls;
        return recover(err);
      });
  p.get_future().cancel("not an Exception");
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "not an Exception");
}

TYPED_TEST(FutureTypedTest, CatchErrorOfCancelledErrorCatchesCancellation) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  std::string seen = "<not run>";
  auto recover = Tr::Recover(7);
  Future<TypeParam> g = p.get_future().template catch_error<CancelledError>(
      [&seen, recover](const CancelledError& err) {
        seen = err.message();
        return recover(err);
      });
  p.get_future().cancel("caught");
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(seen, "caught");
  EXPECT_FALSE(g.cancelled());
  EXPECT_EQ(Tr::Read(g), Tr::Expected(7));
}

TYPED_TEST(FutureTypedTest, FinallyRunsOnValueAndPassesItThrough) {
  using Tr = typename TestFixture::Tr;
  int calls = 0;
  Future<TypeParam> g = Tr::Ready(this->loop_, 42).finally([&] { ++calls; });
  EXPECT_EQ(calls, 0);
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Tr::Read(g), Tr::Expected(42));
}

TYPED_TEST(FutureTypedTest, FinallyRunsOnErrorAndPassesItThrough) {
  auto e = std::make_exception_ptr(std::runtime_error("boom"));
  int calls = 0;
  Future<TypeParam> g =
      make_exception_future<TypeParam>(this->loop_, e).finally([&] { ++calls; });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(g.exception(), e);
}

TYPED_TEST(FutureTypedTest, FinallyRunsOnCancellationAndStaysCancelled) {
  Promise<TypeParam> p(this->loop_);
  int calls = 0;
  Future<TypeParam> g = p.get_future().finally([&] { ++calls; });
  p.get_future().cancel("cleanup");
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "cleanup");
}

TYPED_TEST(FutureTypedTest, ContinuationsAndCallbacksRunInRegistrationOrder) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  std::vector<int> order;
  auto to_int = Tr::ToInt();
  Future<void> a = f.then([&order, to_int](const auto&... v) {
    (void)to_int(v...);
    order.push_back(1);
  });
  f.add_done_callback([&](Future<TypeParam>) { order.push_back(2); });
  Future<void> b = f.then([&order](const auto&...) { order.push_back(3); });
  f.add_done_callback([&] { order.push_back(4); });
  RunOnce(this->loop_);
  EXPECT_TRUE(order.empty());
  Tr::Set(p, 1);
  EXPECT_TRUE(order.empty());
  RunOnce(this->loop_);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

// A stage whose upstream is already done but which has not run yet completes
// cancelled without running its value handler (asyncio's _must_cancel).
TYPED_TEST(FutureTypedTest, StageCancelledAfterUpstreamCompletedSkipsHandler) {
  using Tr = typename TestFixture::Tr;
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  int calls = 0;
  Future<int> g = f.then([&calls, fn = Tr::ToInt()](const auto&... v) {
    ++calls;
    return fn(v...);
  });
  Tr::Set(p, 42);  // g's step is now queued
  EXPECT_TRUE(g.cancel("late"));
  EXPECT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(this->loop_, g));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "late");
  EXPECT_FALSE(f.cancelled());  // the upstream keeps its value
  EXPECT_EQ(Tr::Read(f), Tr::Expected(42));
}

TYPED_TEST(FutureTypedTest, CancelHookRunsBeforeCancelReturns) {
  Promise<TypeParam> p(this->loop_);
  Future<TypeParam> f = p.get_future();
  int hook_calls = 0;
  bool cancelled_in_hook = false;
  p.set_cancel_hook([&] {
    ++hook_calls;
    cancelled_in_hook = f.cancelled();
  });
  EXPECT_EQ(hook_calls, 0);
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(hook_calls, 1);
  EXPECT_TRUE(cancelled_in_hook);  // after the future became cancelled
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(hook_calls, 1);
}

TYPED_TEST(FutureTypedTest, DroppedUnsetPromiseFailsFutureWithBrokenPromise) {
  Future<TypeParam> f;
  {
    Promise<TypeParam> p(this->loop_);
    f = p.get_future();
    ASSERT_FALSE(f.done());
  }
  ASSERT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_THROW(f.result(), BrokenPromise);
}

TYPED_TEST(FutureTypedTest, UnretrievedExceptionIsReportedWhenLastHandleDies) {
  auto e = std::make_exception_ptr(std::runtime_error("lost"));
  {
    Future<TypeParam> f = make_exception_future<TypeParam>(this->loop_, e);
    Future<TypeParam> copy = f;
  }
  EXPECT_TRUE(this->reports_.empty());  // reported on a later iteration
  RunOnce(this->loop_);
  ASSERT_EQ(this->reports_.size(), 1u);
  EXPECT_EQ(this->reports_[0].exception, e);
  EXPECT_EQ(this->reports_[0].message, "Future exception was never retrieved");
}

TYPED_TEST(FutureTypedTest, RetrievedExceptionIsNotReported) {
  auto e = std::make_exception_ptr(std::runtime_error("seen"));
  {
    Future<TypeParam> f = make_exception_future<TypeParam>(this->loop_, e);
    EXPECT_EQ(f.exception(), e);
  }
  RunOnce(this->loop_);
  RunOnce(this->loop_);
  EXPECT_TRUE(this->reports_.empty());
}

TYPED_TEST(FutureTypedTest, CancelledFutureIsNeverReported) {
  {
    Promise<TypeParam> p(this->loop_);
    Future<TypeParam> f = p.get_future();
    f.cancel("nobody looks");
  }
  RunOnce(this->loop_);
  RunOnce(this->loop_);
  EXPECT_TRUE(this->reports_.empty());
}

// --- FutureTest ---------------------------------------------------------------

TEST_F(FutureTest, EmptyFutureThrowsInvalidStateError) {
  Future<int> f;
  EXPECT_FALSE(f.valid());
  EXPECT_THROW(f.done(), InvalidStateError);
  EXPECT_THROW(f.cancelled(), InvalidStateError);
  EXPECT_THROW(f.result(), InvalidStateError);
  EXPECT_THROW(f.exception(), InvalidStateError);
  EXPECT_THROW(f.cancel(), InvalidStateError);
  EXPECT_THROW(f.add_done_callback([] {}), InvalidStateError);
  EXPECT_THROW(f.get_loop(), InvalidStateError);
  EXPECT_THROW((void)f.then([](int v) { return v; }), InvalidStateError);
}

TEST_F(FutureTest, CopiesShareStateAndMoveEmptiesSource) {
  Promise<int> p(loop_);
  Future<int> a = p.get_future();
  Future<int> b = a;
  Future<int> c = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): tested
  b = b;                    // self-assignment keeps the state
  ASSERT_TRUE(b.valid());
  p.set_result(3);
  EXPECT_TRUE(b.done());
  EXPECT_EQ(c.result(), 3);
  EXPECT_EQ(b.result(), 3);
}

TEST_F(FutureTest, EqualityIsIdentityOfTheSharedState) {
  Promise<int> p(loop_);
  Future<int> a = p.get_future();
  Future<int> b = a;
  Future<int> other = make_ready_future(loop_, 0);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a != b);
  EXPECT_TRUE(a == p.get_future());
  EXPECT_TRUE(a != other);
  EXPECT_FALSE(a == Future<int>());
  EXPECT_TRUE(Future<int>() == Future<int>());
  p.set_result(0);
  EXPECT_TRUE(a != other);  // equal values, different states
}

TEST_F(FutureTest, TaskEqualsTheFutureItConvertsTo) {
  Task<int> t = loop_.create_task([] { return 1; });
  Task<int> u = loop_.create_task([] { return 1; });
  Future<int> f = t;
  std::vector<Future<int>> fs{u, f};
  EXPECT_TRUE(f == t);
  EXPECT_TRUE(t == f);
  EXPECT_TRUE(t != u);
  EXPECT_EQ(std::find(fs.begin(), fs.end(), t), fs.begin() + 1);
  RunUntilIdle(loop_);
}

TEST_F(FutureTest, ThenReturningPlainValueChangesType) {
  Future<std::string> g = make_ready_future(loop_, 21).then([](int v) {
    return std::to_string(v * 2);
  });
  static_assert(std::is_same_v<decltype(g), Future<std::string>>);
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), "42");
}

TEST_F(FutureTest, ThenOfVoidReturningVoidGivesFutureVoid) {
  int calls = 0;
  auto g = make_ready_future(loop_).then([&] { ++calls; });
  static_assert(std::is_same_v<decltype(g), Future<void>>);
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(calls, 1);
  EXPECT_NO_THROW(g.result());
}

TEST_F(FutureTest, ChainRunsOneStagePerIteration) {
  Promise<int> p(loop_);
  std::vector<int> order;
  Future<int> g = p.get_future()
                      .then([&](int v) {
                        order.push_back(1);
                        return v + 1;
                      })
                      .then([&](int v) {
                        order.push_back(2);
                        return v + 1;
                      });
  p.set_result(0);
  RunOnce(loop_);
  EXPECT_EQ(order, (std::vector<int>{1}));
  EXPECT_FALSE(g.done());
  RunOnce(loop_);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  ASSERT_TRUE(g.done());
  EXPECT_EQ(g.result(), 2);
}

TEST_F(FutureTest, CompletionDuringIterationRunsContinuationOnNextIteration) {
  Promise<int> p(loop_);
  int calls = 0;
  Future<void> g = p.get_future().then([&](int) { ++calls; });
  Handle h = loop_.call_soon([&] { p.set_result(1); });
  RunOnce(loop_);
  EXPECT_TRUE(p.done());
  EXPECT_EQ(calls, 0);  // scheduled during the iteration: waits for the next
  RunOnce(loop_);
  EXPECT_EQ(calls, 1);
}

TEST_F(FutureTest, CompletionQueuesCallbacksAfterAlreadyQueuedWork) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  std::vector<std::string> order;
  Future<void> a = f.then([&](int) { order.push_back("then"); });
  f.add_done_callback([&] { order.push_back("callback"); });
  Handle h = loop_.call_soon([&] { order.push_back("call_soon"); });
  p.set_result(1);
  RunOnce(loop_);
  EXPECT_EQ(order, (std::vector<std::string>{"call_soon", "then", "callback"}));
}

TEST_F(FutureTest, ContinuationsOnDoneFutureInterleaveWithCallSoonInOrder) {
  Future<int> f = make_ready_future(loop_, 1);
  std::vector<std::string> order;
  Future<void> a = f.then([&](int) { order.push_back("then"); });
  Handle h = loop_.call_soon([&] { order.push_back("call_soon"); });
  f.add_done_callback([&] { order.push_back("callback"); });
  Future<void> b = f.then_outcome([&](Outcome<int>) { order.push_back("then_outcome"); });
  EXPECT_TRUE(order.empty());
  RunOnce(loop_);
  EXPECT_EQ(order, (std::vector<std::string>{"then", "call_soon", "callback",
                                             "then_outcome"}));
}

TEST_F(FutureTest, AllContinuationKindsRunInRegistrationOrder) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  std::vector<std::string> order;
  Future<void> a = f.then([&](int) { order.push_back("then"); });
  f.add_done_callback([&](Future<int>) { order.push_back("callback(f)"); });
  Future<void> b = f.then_outcome([&](Outcome<int>) { order.push_back("then_outcome"); });
  Future<int> c = f.finally([&] { order.push_back("finally"); });
  f.add_done_callback([&] { order.push_back("callback()"); });
  Future<int> d = f.then([&](const int& v) {
    order.push_back("then(const&)");
    return v;
  });
  p.set_result(1);
  EXPECT_TRUE(order.empty());
  RunOnce(loop_);
  EXPECT_EQ(order, (std::vector<std::string>{"then", "callback(f)", "then_outcome",
                                             "finally", "callback()",
                                             "then(const&)"}));
}

TEST_F(FutureTest, ThenFlattensReturnedFuture) {
  Promise<int> outer(loop_);
  Promise<int> inner(loop_);
  int calls = 0;
  Future<int> g = outer.get_future().then([&](int v) {
    ++calls;
    return inner.get_future().then([v](int w) { return v + w; });
  });
  static_assert(std::is_same_v<decltype(g), Future<int>>);
  outer.set_result(40);
  RunUntilIdle(loop_);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(g.done());  // waits for the inner future
  inner.set_result(2);
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), 42);
}

TEST_F(FutureTest, ThenFlattensReturnedFailedFuture) {
  auto e = std::make_exception_ptr(std::runtime_error("inner failed"));
  Future<int> g = make_ready_future(loop_, 1).then([&](int) {
    return make_exception_future<int>(loop_, e);
  });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.exception(), e);
}

TEST_F(FutureTest, ThenFlattensReturnedTask) {
  Future<int> g = make_ready_future(loop_, 1).then([&](int v) {
    return loop_.create_task([v] { return v + 4; });
  });
  static_assert(std::is_same_v<decltype(g), Future<int>>);
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), 5);
}

TEST_F(FutureTest, ContinuationReturningDoneFutureCompletesItsStageInSameStep) {
  // As `await` on a done future: no suspension. The next continuation runs
  // one iteration after the first, as after a plain value.
  Promise<void> p(loop_);
  std::vector<std::string> log;
  Future<void> g = p.get_future()
                       .then([&] {
                         log.push_back("first");
                         return asyncio::sleep(0);
                       })
                       .then([&] { log.push_back("second"); });
  p.set_result();
  RunOnce(loop_);
  EXPECT_EQ(log, (std::vector<std::string>{"first"}));
  RunOnce(loop_);
  EXPECT_EQ(log, (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(g.done());
}

TEST_F(FutureTest, ThenReturningOutcomeWithValueCompletesWithIt) {
  Future<int> g = make_ready_future(loop_, 1).then([](int v) { return Outcome<int>(v + 1); });
  static_assert(std::is_same_v<decltype(g), Future<int>>);
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), 2);
}

TEST_F(FutureTest, ThenReturningOutcomeWithErrorFailsWithSameException) {
  auto e = std::make_exception_ptr(std::runtime_error("as outcome"));
  Future<int> g = make_ready_future(loop_, 1).then([e](int) { return Outcome<int>(e); });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_FALSE(g.cancelled());
  EXPECT_EQ(g.exception(), e);
}

TEST_F(FutureTest, ThenReturningCancelledOutcomeCancels) {
  Future<void> g = make_ready_future(loop_).then([] {
    return Outcome<void>(std::make_exception_ptr(CancelledError("via outcome")));
  });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "via outcome");
}

TEST_F(FutureTest, ThenReturningEmptyFutureFailsWithInvalidStateError) {
  Future<int> g = make_ready_future(loop_, 1).then([](int) { return Future<int>(); });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(Holds<InvalidStateError>(g.exception()));
}

TEST_F(FutureTest, ContinuationExceptionFailsNextFutureAndSkipsLaterHandlers) {
  int later_calls = 0;
  Future<int> g = make_ready_future(loop_, 1)
                      .then([](int) -> int { throw std::runtime_error("in continuation"); })
                      .then([&](int v) {
                        ++later_calls;
                        return v;
                      });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(later_calls, 0);
  EXPECT_FALSE(g.cancelled());
  EXPECT_TRUE(Holds<std::runtime_error>(g.exception()));
  EXPECT_EQ(WhatOf(g.exception()), "in continuation");
}

TEST_F(FutureTest, ContinuationThrowingCancelledErrorCancelsNextFuture) {
  int later_calls = 0;
  Future<int> first = make_ready_future(loop_, 1).then([](int) -> int {
    throw CancelledError("from continuation");
  });
  Future<int> g = first.then([&](int v) {
    ++later_calls;
    return v;
  });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(first.cancelled());
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(later_calls, 0);
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "from continuation");
}

TEST_F(FutureTest, ErrorsSkipEveryValueHandlerAndKeepTheSameExceptionPtr) {
  auto e = std::make_exception_ptr(std::runtime_error("once"));
  int calls = 0;
  std::exception_ptr seen;
  Future<void> g = make_exception_future<int>(loop_, e)
                       .then([&](int v) {
                         ++calls;
                         return v;
                       })
                       .then([&](int v) {
                         ++calls;
                         return std::to_string(v);
                       })
                       .then([&](const std::string&) { ++calls; })
                       .then_outcome([&](Outcome<void> o) { seen = o.exception(); });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(seen, e);
}

TEST_F(FutureTest, CatchErrorCatchesDerivedType) {
  Future<int> g = make_exception_future<int>(loop_, std::make_exception_ptr(TimeoutError()))
                      .catch_error<std::runtime_error>(
                          [](const std::runtime_error&) { return -1; });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), -1);
}

TEST_F(FutureTest, CatchErrorHandlerReturningFutureIsFlattened) {
  Promise<int> fallback(loop_);
  Future<int> g =
      make_exception_future<int>(loop_, std::make_exception_ptr(std::runtime_error("x")))
          .catch_error<std::runtime_error>(
              [&](const std::runtime_error&) { return fallback.get_future(); });
  RunUntilIdle(loop_);
  EXPECT_FALSE(g.done());
  fallback.set_result(8);
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), 8);
}

TEST_F(FutureTest, CatchErrorHandlerReturningOutcomeCompletesWithIt) {
  auto e2 = std::make_exception_ptr(std::logic_error("translated"));
  Future<int> g =
      make_exception_future<int>(loop_, std::make_exception_ptr(std::runtime_error("x")))
          .catch_error<std::runtime_error>(
              [e2](const std::runtime_error&) { return Outcome<int>(e2); });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.exception(), e2);
}

TEST_F(FutureTest, CatchErrorHandlerThrowingFailsNextFuture) {
  Future<int> g =
      make_exception_future<int>(loop_, std::make_exception_ptr(std::runtime_error("x")))
          .catch_error<std::runtime_error>([](const std::runtime_error&) -> int {
            throw std::out_of_range("handler failed");
          });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(Holds<std::out_of_range>(g.exception()));
}

TEST_F(FutureTest, FinallyWaitsForReturnedFutureThenPassesOriginalValue) {
  Promise<void> cleanup(loop_);
  int calls = 0;
  Future<int> g = make_ready_future(loop_, 5).finally([&] {
    ++calls;
    return cleanup.get_future();
  });
  RunUntilIdle(loop_);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(g.done());  // waits for the cleanup future
  cleanup.set_result();
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), 5);
}

TEST_F(FutureTest, FinallyThrowingReplacesOriginalOutcome) {
  Future<int> g = make_ready_future(loop_, 5).finally(
      [] { throw std::runtime_error("cleanup failed"); });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(WhatOf(g.exception()), "cleanup failed");
}

TEST_F(FutureTest, FinallyReturningFailedFutureReplacesOriginalOutcome) {
  auto e = std::make_exception_ptr(std::runtime_error("cleanup future failed"));
  Future<int> g = make_exception_future<int>(
                      loop_, std::make_exception_ptr(std::logic_error("original")))
                      .finally([&] { return make_exception_future<void>(loop_, e); });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.exception(), e);
}

TEST_F(FutureTest, ThenOutcomeCanRecoverFromCancellation) {
  Promise<int> p(loop_);
  Future<int> g = p.get_future().then_outcome([](Outcome<int> o) -> Outcome<int> {
    if (o.cancelled()) return 0;
    return o;
  });
  p.get_future().cancel();
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_FALSE(g.cancelled());
  EXPECT_EQ(g.result(), 0);
}

TEST_F(FutureTest, ContinuationIsDestroyedAfterItRuns) {
  auto token = std::make_shared<int>(0);
  Promise<int> p(loop_);
  Future<int> g = p.get_future().then([token](int v) { return v; });
  EXPECT_EQ(token.use_count(), 2);  // owned by the stage until it runs
  p.set_result(1);
  RunOnce(loop_);
  ASSERT_TRUE(g.done());
  EXPECT_EQ(token.use_count(), 1);  // destroyed although g is still alive
}

TEST_F(FutureTest, ContinuationOfDroppedFutureStillRuns) {
  Promise<int> p(loop_);
  int seen = 0;
  { Future<void> g = p.get_future().then([&](int v) { seen = v; }); }
  p.set_result(7);
  EXPECT_EQ(seen, 0);
  RunOnce(loop_);
  EXPECT_EQ(seen, 7);
}

TEST_F(FutureTest, ContinuationCancellingItsOwnFutureEndsCancelled) {
  auto self = std::make_shared<Future<int>>();
  int later_calls = 0;
  Future<int> g = make_ready_future(loop_, 1).then([self](int v) {
    EXPECT_TRUE(self->cancel("self"));  // pending while its body runs
    return v;
  });
  *self = g;
  Future<int> h = g.then([&](int v) {
    ++later_calls;
    return v;
  });
  ASSERT_FALSE(h.done());
  ASSERT_TRUE(RunUntilDone(loop_, h));
  *self = Future<int>();
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "self");
  EXPECT_EQ(later_calls, 0);
  EXPECT_TRUE(h.cancelled());
}

TEST_F(FutureTest, DoneCallbackExceptionIsReportedAndLaterCallbacksRun) {
  Future<int> f = make_ready_future(loop_, 1);
  int later = 0;
  f.add_done_callback([] { throw std::runtime_error("callback failed"); });
  f.add_done_callback([&] { ++later; });
  RunOnce(loop_);
  EXPECT_EQ(later, 1);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].message, "Exception in callback");
  EXPECT_EQ(WhatOf(reports_[0].exception), "callback failed");
}

TEST_F(FutureTest, RemoveLastDoneCallbackThenAddAnotherStillRunsAll) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  std::vector<int> order;
  f.add_done_callback([&] { order.push_back(1); });
  std::uint64_t last = f.add_done_callback([&] { order.push_back(2); });
  EXPECT_EQ(f.remove_done_callback(last), 1u);
  f.add_done_callback([&] { order.push_back(3); });
  Future<void> g = f.then([&](int) { order.push_back(4); });
  p.set_result(1);
  RunOnce(loop_);
  EXPECT_EQ(order, (std::vector<int>{1, 3, 4}));
}

TEST_F(FutureTest, RemoveMiddleAndFirstDoneCallbacksKeepsOthersInOrder) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  std::vector<int> order;
  std::uint64_t first = f.add_done_callback([&] { order.push_back(1); });
  f.add_done_callback([&] { order.push_back(2); });
  std::uint64_t middle = f.add_done_callback([&] { order.push_back(3); });
  f.add_done_callback([&] { order.push_back(4); });
  EXPECT_NE(first, middle);
  EXPECT_EQ(f.remove_done_callback(middle), 1u);
  EXPECT_EQ(f.remove_done_callback(first), 1u);
  p.set_result(1);
  RunOnce(loop_);
  EXPECT_EQ(order, (std::vector<int>{2, 4}));
}

TEST_F(FutureTest, RemoveOnlyDoneCallbackThenAddAnotherRunsIt) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  std::vector<int> order;
  std::uint64_t only = f.add_done_callback([&] { order.push_back(1); });
  EXPECT_EQ(f.remove_done_callback(only), 1u);
  f.add_done_callback([&] { order.push_back(2); });
  std::uint64_t second = f.add_done_callback([&] { order.push_back(3); });
  f.add_done_callback([&] { order.push_back(4); });
  EXPECT_EQ(f.remove_done_callback(second), 1u);
  p.set_result(1);
  RunOnce(loop_);
  EXPECT_EQ(order, (std::vector<int>{2, 4}));
}

// Ids start at 1; 0 (say, a default-initialised id) names no callback and
// must not remove anything else waiting on the future.
TEST_F(FutureTest, RemoveDoneCallbackWithUnknownIdRemovesNothing) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  int calls = 0;
  Future<int> g = f.then([&](int v) {
    ++calls;
    return v;
  });
  f.add_done_callback([&] { ++calls; });
  EXPECT_EQ(f.remove_done_callback(0), 0u);
  EXPECT_EQ(f.remove_done_callback(~std::uint64_t{0}), 0u);
  EXPECT_FALSE(g.done());
  p.set_result(1);
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(g.cancelled());
  EXPECT_EQ(g.exception(), nullptr);
}

TEST_F(FutureTest, MakeReadyFutureWithoutRunningLoopThrowsRuntimeError) {
  EXPECT_THROW((void)make_ready_future(1), RuntimeError);
  EXPECT_THROW((void)make_ready_future(), RuntimeError);
  EXPECT_THROW(
      (void)make_exception_future<int>(std::make_exception_ptr(std::runtime_error("x"))),
      RuntimeError);
}

TEST_F(FutureTest, MakeReadyFutureUsesTheRunningLoop) {
  EventLoop* seen = nullptr;
  int value = 0;
  Handle h = loop_.call_soon([&] {
    Future<int> f = make_ready_future(3);
    seen = &f.get_loop();
    value = f.result();
    Future<void> v = make_ready_future();
    EXPECT_TRUE(v.done());
  });
  RunOnce(loop_);
  EXPECT_EQ(seen, &loop_);
  EXPECT_EQ(value, 3);
}

// asyncio: a future may hold a CancelledError as its exception without being
// cancelled(); whoever awaits it is cancelled.
TEST_F(FutureTest, ExceptionFutureHoldingCancelledErrorCancelsContinuations) {
  auto e = std::make_exception_ptr(CancelledError("inside"));
  Future<int> f = make_exception_future<int>(loop_, e);
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.exception(), e);
  Future<int> g = f.then([](int v) { return v; });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "inside");
}

// --- PromiseTest ----------------------------------------------------------------

TEST_F(PromiseTest, GetFutureTwiceSharesOneState) {
  Promise<int> p(loop_);
  Future<int> a = p.get_future();
  Future<int> b = p.get_future();
  p.set_result(4);
  EXPECT_TRUE(a.done());
  EXPECT_EQ(a.result(), 4);
  EXPECT_EQ(b.result(), 4);
}

TEST_F(PromiseTest, DoneAndCancelledMirrorTheFuture) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  EXPECT_TRUE(p.valid());
  EXPECT_FALSE(p.done());
  EXPECT_FALSE(p.cancelled());
  f.cancel();
  EXPECT_TRUE(p.done());
  EXPECT_TRUE(p.cancelled());
}

TEST_F(PromiseTest, DefaultConstructorWithoutRunningLoopThrowsRuntimeError) {
  EXPECT_THROW({ Promise<int> p; }, RuntimeError);
}

TEST_F(PromiseTest, DefaultConstructorUsesTheRunningLoop) {
  EventLoop* seen = nullptr;
  Handle h = loop_.call_soon([&] {
    Promise<int> p;
    seen = &p.get_future().get_loop();
    p.set_result(1);
  });
  RunOnce(loop_);
  EXPECT_EQ(seen, &loop_);
}

TEST_F(PromiseTest, SetExceptionWithNullThrowsInvalidStateError) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  EXPECT_THROW(p.set_exception(std::exception_ptr()), InvalidStateError);
  EXPECT_FALSE(f.done());
}

TEST_F(PromiseTest, MovedFromPromiseIsEmpty) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  Promise<int> q = std::move(p);
  EXPECT_FALSE(p.valid());  // NOLINT(bugprone-use-after-move): tested
  EXPECT_THROW(p.set_result(1), InvalidStateError);
  EXPECT_THROW((void)p.get_future(), InvalidStateError);
  EXPECT_FALSE(f.done());  // moving is not dropping
  q.set_result(2);
  EXPECT_EQ(f.result(), 2);
}

TEST_F(PromiseTest, MoveAssignBreaksTheOverwrittenPromise) {
  Promise<int> p(loop_);
  Promise<int> q(loop_);
  Future<int> fp = p.get_future();
  Future<int> fq = q.get_future();
  p = std::move(q);
  EXPECT_TRUE(fp.done());
  EXPECT_THROW(fp.result(), BrokenPromise);
  EXPECT_FALSE(fq.done());
  p.set_result(1);
  EXPECT_EQ(fq.result(), 1);
}

TEST_F(PromiseTest, DroppedPromiseAfterSetResultKeepsValue) {
  Future<int> f;
  {
    Promise<int> p(loop_);
    f = p.get_future();
    p.set_result(9);
  }
  EXPECT_EQ(f.result(), 9);
}

TEST_F(PromiseTest, DroppedPromiseRunsContinuationsWithBrokenPromise) {
  std::exception_ptr seen;
  Future<void> g;
  {
    Promise<int> p(loop_);
    g = p.get_future().then_outcome([&](Outcome<int> o) { seen = o.exception(); });
  }
  EXPECT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(Holds<BrokenPromise>(seen));
}

TEST_F(PromiseTest, DroppedPromiseDoesNotRunCancelHook) {
  int hook_calls = 0;
  Future<int> f;
  {
    Promise<int> p(loop_);
    f = p.get_future();
    p.set_cancel_hook([&] { ++hook_calls; });
  }
  EXPECT_TRUE(f.done());
  EXPECT_EQ(hook_calls, 0);
}

TEST_F(PromiseTest, CancelHookDoesNotRunAfterSetResult) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  int hook_calls = 0;
  p.set_cancel_hook([&] { ++hook_calls; });
  p.set_result(1);
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(hook_calls, 0);
}

TEST_F(PromiseTest, SetCancelHookReplacesThePreviousHook) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  std::vector<int> hooks;
  p.set_cancel_hook([&] { hooks.push_back(1); });
  p.set_cancel_hook([&] { hooks.push_back(2); });
  f.cancel();
  EXPECT_EQ(hooks, (std::vector<int>{2}));
}

TEST_F(PromiseTest, CancelHookIsDestroyedAfterItRan) {
  auto token = std::make_shared<int>(0);
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  p.set_cancel_hook([token] {});
  EXPECT_EQ(token.use_count(), 2);
  f.cancel();
  EXPECT_EQ(token.use_count(), 1);
}

TEST_F(PromiseTest, ThrowingCancelHookIsReportedAndCancelStillSucceeds) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  p.set_cancel_hook([] { throw std::runtime_error("hook failed"); });
  bool cancelled = false;
  EXPECT_NO_THROW(cancelled = f.cancel("stop"));
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(p.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { f.result(); }), "stop");
  RunOnce(loop_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(WhatOf(reports_[0].exception), "hook failed");
}

// --- FutureCancelTest ---------------------------------------------------------

TEST_F(FutureCancelTest, CancelTailCancelsPendingHeadThenFlowsDown) {
  Promise<int> p(loop_);
  Future<int> head = p.get_future();
  int hook_calls = 0;
  p.set_cancel_hook([&] { ++hook_calls; });
  int calls = 0;
  Future<int> tail = head.then([&](int v) {
                           ++calls;
                           return v;
                         })
                         .then([&](int v) {
                           ++calls;
                           return v;
                         });
  ASSERT_FALSE(head.done());
  EXPECT_TRUE(tail.cancel("from the tail"));
  EXPECT_EQ(hook_calls, 1);   // before cancel() returned
  EXPECT_TRUE(head.cancelled());
  EXPECT_FALSE(tail.done());  // the CancelledError flows down through the loop
  ASSERT_TRUE(RunUntilDone(loop_, tail));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(tail.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { tail.result(); }), "from the tail");
  EXPECT_FALSE(tail.cancel());
}

TEST_F(FutureCancelTest, SetResultAfterChainCancelThrowsInvalidStateError) {
  Promise<int> p(loop_);
  Future<int> tail = p.get_future().then([](int v) { return v; });
  ASSERT_TRUE(tail.cancel());
  EXPECT_THROW(p.set_result(1), InvalidStateError);
  ASSERT_FALSE(tail.done());
  ASSERT_TRUE(RunUntilDone(loop_, tail));
  EXPECT_TRUE(tail.cancelled());
}

TEST_F(FutureCancelTest, CancelWalksIntoInnerFutureAContinuationReturned) {
  Promise<int> outer(loop_);
  Promise<int> inner(loop_);
  int inner_hook = 0;
  inner.set_cancel_hook([&] { ++inner_hook; });
  Future<int> g = outer.get_future().then([&](int) { return inner.get_future(); });
  outer.set_result(1);
  RunOnce(loop_);  // the stage ran and now waits on the inner future
  ASSERT_FALSE(g.done());
  EXPECT_TRUE(g.cancel("inner please"));
  EXPECT_EQ(inner_hook, 1);
  EXPECT_TRUE(inner.cancelled());
  EXPECT_FALSE(outer.cancelled());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "inner please");
}

TEST_F(FutureCancelTest, CancelStageWaitingOnDoneInnerFutureEndsCancelled) {
  Promise<int> outer(loop_);
  Promise<int> inner(loop_);
  Future<int> g = outer.get_future().then([&](int) { return inner.get_future(); });
  outer.set_result(1);
  RunOnce(loop_);
  inner.set_result(2);  // the stage's second step is queued
  EXPECT_TRUE(g.cancel("after inner"));
  EXPECT_FALSE(inner.cancelled());
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "after inner");
}

TEST_F(FutureCancelTest, CancelledErrorCaughtMidChainLetsChainComplete) {
  Promise<int> p(loop_);
  int value_calls = 0;
  Future<int> tail = p.get_future()
                         .then([&](int v) {
                           ++value_calls;
                           return v;
                         })
                         .catch_error<CancelledError>([](const CancelledError&) { return 7; })
                         .then([](int v) { return v * 2; });
  EXPECT_TRUE(tail.cancel("recoverable"));
  EXPECT_TRUE(p.cancelled());
  ASSERT_FALSE(tail.done());
  ASSERT_TRUE(RunUntilDone(loop_, tail));
  EXPECT_EQ(value_calls, 0);
  EXPECT_FALSE(tail.cancelled());
  EXPECT_EQ(tail.result(), 14);
}

TEST_F(FutureCancelTest, CancelMessageReachesEveryDownstreamHandler) {
  Promise<int> p(loop_);
  std::vector<std::string> messages;
  Future<void> tail =
      p.get_future()
          .then([](int v) { return v; })
          .then_outcome([&](Outcome<int> o) -> Outcome<int> {
            messages.push_back(CancelMessageOf(o.exception()));
            return o;
          })
          .finally([] {})
          .then_outcome([&](Outcome<int> o) { messages.push_back(CancelMessageOf(o.exception())); });
  ASSERT_TRUE(tail.cancel("carried"));
  ASSERT_FALSE(tail.done());
  ASSERT_TRUE(RunUntilDone(loop_, tail));
  EXPECT_EQ(messages, (std::vector<std::string>{"carried", "carried"}));
}

TEST_F(FutureCancelTest, CancelTailStopsAtQueuedStageWhoseUpstreamIsDone) {
  Promise<int> p(loop_);
  int hook_calls = 0;
  p.set_cancel_hook([&] { ++hook_calls; });
  int calls = 0;
  Future<int> first = p.get_future().then([&](int v) {
    ++calls;
    return v;
  });
  Future<int> tail = first.then([&](int v) {
    ++calls;
    return v;
  });
  p.set_result(1);  // `first` is queued, `tail` waits on it
  EXPECT_TRUE(tail.cancel("queued stage"));
  EXPECT_EQ(hook_calls, 0);  // the promise is done: nothing to cancel there
  EXPECT_FALSE(first.done());
  ASSERT_FALSE(tail.done());
  ASSERT_TRUE(RunUntilDone(loop_, tail));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(first.cancelled());
  EXPECT_TRUE(tail.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { tail.result(); }), "queued stage");
}

TEST_F(FutureCancelTest, StageCancelledAfterUpstreamCompletedRunsOutcomeHandler) {
  Future<int> f = make_ready_future(loop_, 1);
  bool cancelled = false;
  std::string message;
  Future<int> g = f.then_outcome([&](Outcome<int> o) -> Outcome<int> {
    cancelled = o.cancelled();
    message = CancelMessageOf(o.exception());
    return o;
  });
  EXPECT_TRUE(g.cancel("queued"));
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(message, "queued");
  EXPECT_TRUE(g.cancelled());
}

TEST_F(FutureCancelTest, StageCancelledAfterUpstreamCompletedStillRunsFinally) {
  Future<int> f = make_ready_future(loop_, 1);
  int calls = 0;
  Future<int> g = f.finally([&] { ++calls; });
  EXPECT_TRUE(g.cancel());
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(g.cancelled());
}

TEST_F(FutureCancelTest, CancelDoneStageReturnsFalse) {
  Future<int> g = make_ready_future(loop_, 1).then([](int v) { return v; });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_FALSE(g.cancel());
  EXPECT_EQ(g.result(), 1);
}

TEST_F(FutureCancelTest, CancelOfOneBranchCancelsSharedPendingUpstream) {
  Promise<int> p(loop_);
  Future<int> head = p.get_future();
  Future<int> a = head.then([](int v) { return v + 1; });
  Future<int> b = head.then([](int v) { return v + 2; });
  EXPECT_TRUE(a.cancel());  // asyncio: cancels the shared pending upstream too
  ASSERT_FALSE(b.done());
  ASSERT_TRUE(RunUntilDone(loop_, b));
  EXPECT_TRUE(a.cancelled());
  EXPECT_TRUE(b.cancelled());
}

TEST_F(FutureCancelTest, SelfCancelThenReturningFutureCancelsThatFuture) {
  auto self = std::make_shared<Future<int>>();
  Promise<int> inner(loop_);
  int inner_hook = 0;
  inner.set_cancel_hook([&] { ++inner_hook; });
  Future<int> g = make_ready_future(loop_, 1).then([self, &inner](int) {
    self->cancel("self then await");
    return inner.get_future();
  });
  *self = g;
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  *self = Future<int>();
  EXPECT_EQ(inner_hook, 1);  // asyncio: the request goes to the new awaitable
  EXPECT_TRUE(inner.cancelled());
  EXPECT_TRUE(g.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "self then await");
}

// --- UnretrievedExceptionTest ---------------------------------------------------

TEST_F(UnretrievedExceptionTest, NotReportedWhileACopyIsAlive) {
  auto e = std::make_exception_ptr(std::runtime_error("late"));
  Future<int> keep = make_exception_future<int>(loop_, e);
  { Future<int> copy = keep; }
  RunOnce(loop_);
  EXPECT_TRUE(reports_.empty());
  keep = Future<int>();
  EXPECT_TRUE(reports_.empty());
  RunOnce(loop_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].exception, e);
  EXPECT_EQ(reports_[0].future, "Future");
}

TEST_F(UnretrievedExceptionTest, NotReportedAfterResult) {
  {
    Future<int> f = make_exception_future<int>(
        loop_, std::make_exception_ptr(std::runtime_error("seen")));
    EXPECT_THROW(f.result(), std::runtime_error);
  }
  RunOnce(loop_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UnretrievedExceptionTest, NotReportedAfterOutcome) {
  {
    Future<int> f = make_exception_future<int>(
        loop_, std::make_exception_ptr(std::runtime_error("seen")));
    EXPECT_TRUE(f.outcome().has_exception());
  }
  RunOnce(loop_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UnretrievedExceptionTest, NotReportedWhenDoneCallbackReadsIt) {
  {
    Future<int> f = make_exception_future<int>(
        loop_, std::make_exception_ptr(std::runtime_error("seen")));
    f.add_done_callback([](Future<int> g) { (void)g.exception(); });
  }
  RunOnce(loop_);
  RunOnce(loop_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UnretrievedExceptionTest, NotReportedWhenContinuationsConsumeIt) {
  int recovered = 0;
  {
    Future<int> f = make_exception_future<int>(
        loop_, std::make_exception_ptr(std::runtime_error("handled")));
    Future<int> g = f.then([](int v) { return v + 1; })
                        .catch_error<std::runtime_error>(
                            [](const std::runtime_error&) { return 5; });
    ASSERT_FALSE(g.done());
    ASSERT_TRUE(RunUntilDone(loop_, g));
    recovered = g.result();
  }
  RunOnce(loop_);
  RunOnce(loop_);
  EXPECT_EQ(recovered, 5);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UnretrievedExceptionTest, ChainPassingErrorIsReportedOnceAtTheTail) {
  auto e = std::make_exception_ptr(std::runtime_error("passed along"));
  {
    Future<int> g = make_exception_future<int>(loop_, e)
                        .then([](int v) { return v + 1; })
                        .then([](int v) { return v + 1; });
    ASSERT_FALSE(g.done());
    ASSERT_TRUE(RunUntilDone(loop_, g));
  }
  RunOnce(loop_);
  RunOnce(loop_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].exception, e);
}

TEST_F(UnretrievedExceptionTest, ContinuationFailureNobodyReadIsReported) {
  {
    Future<int> g = make_ready_future(loop_, 1).then(
        [](int) -> int { throw std::runtime_error("unread"); });
    ASSERT_FALSE(g.done());
    ASSERT_TRUE(RunUntilDone(loop_, g));
  }
  EXPECT_TRUE(reports_.empty());
  RunOnce(loop_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(WhatOf(reports_[0].exception), "unread");
}

TEST_F(UnretrievedExceptionTest, DroppedFailedStageWithoutHandlesIsReported) {
  { Future<int> g = make_ready_future(loop_, 1).then([](int) -> int { throw std::runtime_error("dropped"); }); }
  RunUntilIdle(loop_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(WhatOf(reports_[0].exception), "dropped");
}

TEST_F(UnretrievedExceptionTest, CancellationFlowingDownAChainIsNeverReported) {
  {
    Promise<int> p(loop_);
    Future<int> g = p.get_future().then([](int v) { return v; }).then([](int v) { return v; });
    g.cancel();
    ASSERT_FALSE(g.done());
    ASSERT_TRUE(RunUntilDone(loop_, g));
  }
  RunUntilIdle(loop_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UnretrievedExceptionTest, ContinuationRaisingCancelledErrorIsNeverReported) {
  {
    Future<int> g = make_ready_future(loop_, 1).then([](int) -> int { throw CancelledError(); });
    ASSERT_FALSE(g.done());
    ASSERT_TRUE(RunUntilDone(loop_, g));
  }
  RunUntilIdle(loop_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UnretrievedExceptionTest, PromiseSetExceptionCancelledErrorIsNeverReported) {
  {
    Promise<int> p(loop_);
    Future<int> f = p.get_future();
    p.set_exception(CancelledError("as exception"));
  }
  RunUntilIdle(loop_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UnretrievedExceptionTest, NotReportedAfterCancelOfDoneFailedFuture) {
  // CPython test_tb_logger_not_called_after_cancel.
  {
    Promise<int> p(loop_);
    Future<int> f = p.get_future();
    p.set_exception(std::runtime_error("f"));
    EXPECT_FALSE(f.cancel());
    EXPECT_FALSE(f.cancelled());
  }
  RunUntilIdle(loop_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(UnretrievedExceptionTest, NotReportedWhenPendingCancelReplacesUpstreamFailure) {
  // The stage's upstream failed, then the stage was cancelled before it ran:
  // it ends with the CancelledError, and the upstream's exception counts as
  // read (asyncio's Task.__wakeup reads it).
  int calls = 0;
  {
    Promise<int> p(loop_);
    Future<int> g = p.get_future().then_outcome([&calls](Outcome<int> o) {
      ++calls;
      return o;
    });
    p.set_exception(std::runtime_error("upstream failed"));
    EXPECT_TRUE(g.cancel("late"));
    ASSERT_TRUE(RunUntilDone(loop_, g));
    EXPECT_TRUE(g.cancelled());
    EXPECT_EQ(CancelMessageThrownBy([&] { g.result(); }), "late");
  }
  RunUntilIdle(loop_);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(reports_.empty());
}

// --- MoveOnlyValueTest ----------------------------------------------------------

using IntPtr = std::unique_ptr<int>;

TEST_F(MoveOnlyValueTest, ConstRefContinuationsAllSeeTheValue) {
  Promise<IntPtr> p(loop_);
  Future<IntPtr> f = p.get_future();
  const int* original = nullptr;
  std::vector<const int*> seen;
  Future<int> a = f.then([&](const IntPtr& v) {
    seen.push_back(v.get());
    return *v;
  });
  Future<int> b = f.then([&](const IntPtr& v) {
    seen.push_back(v.get());
    return *v + 1;
  });
  auto value = std::make_unique<int>(42);
  original = value.get();
  p.set_result(std::move(value));
  RunOnce(loop_);
  EXPECT_EQ(a.result(), 42);
  EXPECT_EQ(b.result(), 43);
  EXPECT_EQ(seen, (std::vector<const int*>{original, original}));  // one object
  ASSERT_NE(f.result(), nullptr);
  EXPECT_EQ(f.result().get(), original);  // still in the future
}

TEST_F(MoveOnlyValueTest, ByValueContinuationMovesValueOut) {
  Promise<IntPtr> p(loop_);
  Future<IntPtr> f = p.get_future();
  Future<int> g = f.then([](IntPtr v) { return *v + 1; });
  p.set_result(std::make_unique<int>(41));
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), 42);
  EXPECT_THROW(f.result(), InvalidStateError);  // moved out
}

TEST_F(MoveOnlyValueTest, RvalueRefContinuationMovesValueOut) {
  Future<IntPtr> f = make_ready_future(loop_, std::make_unique<int>(5));
  Future<IntPtr> g = f.then([](IntPtr&& v) { return std::move(v); });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  ASSERT_NE(g.result(), nullptr);
  EXPECT_EQ(*g.result(), 5);
  EXPECT_THROW(f.result(), InvalidStateError);
}

TEST_F(MoveOnlyValueTest, SecondByValueConsumerGetsInvalidStateError) {
  Promise<IntPtr> p(loop_);
  Future<IntPtr> f = p.get_future();
  Future<int> first = f.then([](IntPtr v) { return *v; });
  Future<int> second = f.then([](IntPtr v) { return *v; });
  p.set_result(std::make_unique<int>(1));
  RunOnce(loop_);
  ASSERT_TRUE(first.done());
  ASSERT_TRUE(second.done());
  EXPECT_EQ(first.result(), 1);
  EXPECT_TRUE(Holds<InvalidStateError>(second.exception()));
}

TEST_F(MoveOnlyValueTest, SecondByValueConsumerFailsEvenWithoutOtherHandles) {
  Future<int> first;
  Future<int> second;
  {
    Promise<IntPtr> p(loop_);
    Future<IntPtr> f = p.get_future();
    first = f.then([](IntPtr v) { return *v; });
    second = f.then([](IntPtr v) { return *v; });
    p.set_result(std::make_unique<int>(1));
  }
  ASSERT_FALSE(second.done());
  ASSERT_TRUE(RunUntilDone(loop_, second));
  EXPECT_EQ(first.result(), 1);
  EXPECT_TRUE(Holds<InvalidStateError>(second.exception()));
}

TEST_F(MoveOnlyValueTest, ConstRefConsumerAfterByValueConsumerGetsInvalidStateError) {
  Promise<IntPtr> p(loop_);
  Future<IntPtr> f = p.get_future();
  Future<int> taker = f.then([](IntPtr v) { return *v; });
  Future<int> reader = f.then([](const IntPtr& v) { return *v; });
  p.set_result(std::make_unique<int>(3));
  RunOnce(loop_);
  EXPECT_EQ(taker.result(), 3);
  EXPECT_TRUE(Holds<InvalidStateError>(reader.exception()));
}

TEST_F(MoveOnlyValueTest, ThenOutcomeReceivesTheValue) {
  Future<IntPtr> f = make_ready_future(loop_, std::make_unique<int>(6));
  Future<int> g = f.then_outcome([](Outcome<IntPtr> o) {
    IntPtr v = std::move(o).value();
    return *v;
  });
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(g.result(), 6);
}

TEST_F(MoveOnlyValueTest, CatchErrorAndFinallyPassTheValueOn) {
  Future<IntPtr> g =
      make_ready_future(loop_, std::make_unique<int>(8))
          .catch_error<std::exception>([](const std::exception&) { return IntPtr(); })
          .finally([] {});
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  ASSERT_NE(g.result(), nullptr);
  EXPECT_EQ(*g.result(), 8);
}

// finally() "calls f() on every outcome": also when a move-only value was
// already taken by an earlier consumer.
TEST_F(MoveOnlyValueTest, FinallyRunsWhenValueWasAlreadyTaken) {
  Promise<IntPtr> p(loop_);
  Future<IntPtr> f = p.get_future();
  Future<int> taker = f.then([](IntPtr v) { return *v; });
  int calls = 0;
  Future<IntPtr> g = f.finally([&] { ++calls; });
  p.set_result(std::make_unique<int>(1));
  ASSERT_FALSE(g.done());
  ASSERT_TRUE(RunUntilDone(loop_, g));
  EXPECT_EQ(taker.result(), 1);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(Holds<InvalidStateError>(g.exception()));
}

TEST_F(MoveOnlyValueTest, OutcomeMovesValueOutAndLaterReadsThrow) {
  Promise<IntPtr> p(loop_);
  Future<IntPtr> f = p.get_future();
  p.set_result(std::make_unique<int>(2));
  Outcome<IntPtr> o = f.outcome();
  ASSERT_NE(o.value(), nullptr);
  EXPECT_EQ(*o.value(), 2);
  EXPECT_THROW(f.result(), InvalidStateError);
}

// Same, when the caller's handle is the only one left: the value is moved
// out, so a later result() must not hand back a moved-from object.
TEST_F(MoveOnlyValueTest, OutcomeOfSoleHandleThenResultThrowsInvalidStateError) {
  Future<IntPtr> f = make_ready_future(loop_, std::make_unique<int>(2));
  Outcome<IntPtr> o = f.outcome();
  ASSERT_NE(o.value(), nullptr);
  EXPECT_EQ(*o.value(), 2);
  EXPECT_THROW(f.result(), InvalidStateError);
}

// A copyable value stays in the future when read through outcome(): outcome()
// is not a continuation that holds the only reference.
TEST_F(MoveOnlyValueTest, OutcomeOfSoleHandleKeepsCopyableValue) {
  Future<std::string> f = make_ready_future(loop_, std::string("still here"));
  Outcome<std::string> o = f.outcome();
  EXPECT_EQ(o.value(), "still here");
  EXPECT_EQ(f.result(), "still here");
}

// A copyable type that counts its copies.
struct Counted {
  explicit Counted(int* copies) : copies(copies) {}
  Counted(const Counted& other) : copies(other.copies) { ++*copies; }
  Counted(Counted&& other) noexcept = default;
  Counted& operator=(const Counted&) = delete;
  Counted& operator=(Counted&&) = delete;
  int* copies;
};

TEST_F(MoveOnlyValueTest, CopyableValueIsCopiedToEachByValueConsumer) {
  int copies = 0;
  Promise<std::string> p(loop_);
  Future<std::string> f = p.get_future();
  Future<std::string> a = f.then([](std::string s) { return s + "a"; });
  Future<std::string> b = f.then([](std::string s) { return s + "b"; });
  p.set_result("x");
  RunOnce(loop_);
  EXPECT_EQ(a.result(), "xa");
  EXPECT_EQ(b.result(), "xb");
  EXPECT_EQ(f.result(), "x");

  Future<Counted> c = make_ready_future(loop_, Counted(&copies));
  Future<int> d = c.then([](Counted v) { return *v.copies; });
  ASSERT_FALSE(d.done());
  ASSERT_TRUE(RunUntilDone(loop_, d));
  EXPECT_EQ(copies, 1);  // c is still held: the consumer gets a copy
}

TEST_F(MoveOnlyValueTest, CopyableValueIsMovedToConsumerHoldingTheOnlyReference) {
  int copies = 0;
  Future<int> d = make_ready_future(loop_, Counted(&copies)).then([](Counted v) {
    return *v.copies;
  });
  ASSERT_FALSE(d.done());
  ASSERT_TRUE(RunUntilDone(loop_, d));
  EXPECT_EQ(copies, 0);
}

// --- LongChainTest ------------------------------------------------------------
//
// A chain of a million stages: with any recursion per stage (completion,
// cancellation or destruction) this overflows an 8 MB stack at ~100k frames.

constexpr int kLongChain = 1000000;

TEST_F(LongChainTest, MillionStageChainBuildsAndRunsToCompletion) {
  Promise<int> p(loop_);
  Future<int> f = p.get_future();
  for (int i = 0; i < kLongChain; ++i) f = f.then([](int v) { return v + 1; });
  EXPECT_FALSE(f.done());
  p.set_result(0);
  ASSERT_TRUE(RunUntilDone(loop_, f));
  EXPECT_EQ(f.result(), kLongChain);
}

TEST_F(LongChainTest, CancelTailOfMillionStageChainWhileHeadIsPending) {
  Promise<int> p(loop_);
  int hook_calls = 0;
  p.set_cancel_hook([&] { ++hook_calls; });
  int calls = 0;
  Future<int> f = p.get_future();
  for (int i = 0; i < kLongChain; ++i) {
    f = f.then([&calls](int v) {
      ++calls;
      return v + 1;
    });
  }
  EXPECT_TRUE(f.cancel("deep"));
  EXPECT_EQ(hook_calls, 1);
  EXPECT_TRUE(p.cancelled());
  ASSERT_FALSE(f.done());
  ASSERT_TRUE(RunUntilDone(loop_, f));
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(f.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { f.result(); }), "deep");
}

TEST_F(LongChainTest, DroppedMillionStagePendingChainRunsDownWhenPromiseDies) {
  auto token = std::make_shared<int>(0);
  std::exception_ptr seen;
  {
    Promise<int> p(loop_);
    Future<int> f = p.get_future();
    for (int i = 0; i < kLongChain; ++i) f = f.then([token](int v) { return v + 1; });
    Future<void> last = f.then_outcome([&](Outcome<int> o) {
      seen = o.exception();
      loop_.stop();
    });
  }  // every handle and the promise are gone: BrokenPromise flows down
  EXPECT_EQ(token.use_count(), kLongChain + 1);
  RunUntilIdle(loop_);
  EXPECT_TRUE(Holds<BrokenPromise>(seen));
  EXPECT_EQ(token.use_count(), 1);  // every stage and its continuation died
  RunUntilIdle(loop_);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(LongChainTest, DestroyingLoopEndsMillionStagePendingChain) {
  auto token = std::make_shared<int>(0);
  int reports = 0;
  {
    EventLoop loop(EventLoop::Options{true});
    loop.set_exception_handler([&](EventLoop&, const ExceptionContext&) { ++reports; });
    Promise<int> p(loop);
    Future<int> f = p.get_future();
    for (int i = 0; i < kLongChain; ++i) f = f.then([token](int v) { return v + 1; });
    f = Future<int>();
    EXPECT_EQ(token.use_count(), kLongChain + 1);
  }  // the promise dies (BrokenPromise queued), then the loop: close() drains
  EXPECT_EQ(token.use_count(), 1);
  EXPECT_LE(reports, 1);  // at most the BrokenPromise nobody read
}

TEST_F(LongChainTest, DestroyingLoopMidwayThroughMillionStageChain) {
  auto token = std::make_shared<int>(0);
  int calls = 0;
  {
    EventLoop loop(EventLoop::Options{true});
    Promise<int> p(loop);
    Future<int> f = p.get_future();
    for (int i = 0; i < kLongChain; ++i) {
      f = f.then([token, &calls](int v) {
        ++calls;
        return v + 1;
      });
    }
    p.set_result(0);
    for (int i = 0; i < 3; ++i) RunOnce(loop);
    EXPECT_EQ(calls, 3);
  }
  EXPECT_EQ(calls, 3);  // the loop closed: no user code ran after that
  EXPECT_EQ(token.use_count(), 1);
}

// A "coroutine" that recurses through then(): each level waits on the future
// the next level returns, a million levels deep.
Future<int> CountDown(EventLoop& loop, int n, Promise<int>* bottom) {
  if (n == 0) {
    loop.stop();
    return bottom->get_future();
  }
  return make_ready_future(loop, n).then(
      [&loop, bottom](int k) { return CountDown(loop, k - 1, bottom); });
}

TEST_F(LongChainTest, MillionLevelNestedFlatteningCompletes) {
  Promise<int> bottom(loop_);
  Future<int> top = CountDown(loop_, kLongChain, &bottom);
  loop_.run_forever();  // until the bottom level is reached
  ASSERT_FALSE(top.done());
  bottom.set_result(7);
  ASSERT_TRUE(RunUntilDone(loop_, top));
  EXPECT_EQ(top.result(), 7);
}

TEST_F(LongChainTest, CancelTopOfMillionLevelNestedFlattening) {
  Promise<int> bottom(loop_);
  int hook_calls = 0;
  bottom.set_cancel_hook([&] { ++hook_calls; });
  Future<int> top = CountDown(loop_, kLongChain, &bottom);
  loop_.run_forever();
  ASSERT_FALSE(top.done());
  EXPECT_TRUE(top.cancel("from the top"));
  EXPECT_EQ(hook_calls, 1);
  ASSERT_TRUE(RunUntilDone(loop_, top));
  EXPECT_TRUE(top.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { top.result(); }), "from the top");
}

// --- LoopIterationTest --------------------------------------------------------
//
// The helpers above rely on running exactly one iteration; event_loop.h says
// `stop(); run_forever();` does that.

TEST(LoopIterationTest, StopBeforeRunForeverRunsOneIteration) {
  EventLoop loop(EventLoop::Options{true});
  int runs = 0;
  // Re-schedules itself (at most 5 times, so that the bug cannot hang).
  std::function<void()> step = [&] {
    if (++runs < 5) loop.call_soon(step);
  };
  Handle h = loop.call_soon(step);
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(runs, 1);
  RunUntilIdle(loop);
}

TEST(LoopIterationTest, StopFromCallbackRunsOneIteration) {
  EventLoop loop(EventLoop::Options{true});
  int runs = 0;
  std::function<void()> step = [&] {
    if (++runs < 5) loop.call_soon(step);
  };
  Handle h = loop.call_soon(step);
  RunOnce(loop);
  EXPECT_EQ(runs, 1);
  RunOnce(loop);
  EXPECT_EQ(runs, 2);
  RunUntilIdle(loop);
  EXPECT_EQ(runs, 5);
}

// --- Same-step forwarding ---------------------------------------------------
//
// When a continuation returns a then-stage (asyncio's coroutine frame), the
// stage that waits on it takes its outcome in the step that produced it;
// a leaf future (a Promise's, sleep's) wakes it one iteration later. Only
// the outcome moves: done-callbacks and continuations are still scheduled.

// A stage whose continuation returns `inner()`; `inner` runs on iteration 2.
TEST(ForwardingTest, StageTakesOutcomeOfReturnedThenStageInTheSameStep) {
  EventLoop loop(asyncio_test::VirtualClock());
  std::vector<std::string> order;
  Future<int> inner_chain;
  Future<int> outer = make_ready_future(loop, 1).then([&](int) {
    inner_chain = make_ready_future(loop, 2).then([&](int v) {
      order.push_back("inner continuation");
      return v * 10;
    });
    return inner_chain;
  });
  (void)inner_chain.valid();
  RunOnce(loop);  // outer's continuation runs, returns the pending chain
  ASSERT_TRUE(inner_chain.valid());
  EXPECT_FALSE(outer.done());
  outer.add_done_callback([&] { order.push_back("outer done-callback"); });
  inner_chain.add_done_callback([&] { order.push_back("inner done-callback"); });
  RunOnce(loop);  // the inner continuation runs: both complete in this step
  EXPECT_TRUE(inner_chain.done());
  EXPECT_TRUE(outer.done());
  EXPECT_EQ(outer.result(), 20);
  // ... and no done-callback ran inline.
  EXPECT_EQ(order, std::vector<std::string>{"inner continuation"});
  RunOnce(loop);
  EXPECT_EQ(order, (std::vector<std::string>{
                       "inner continuation", "inner done-callback",
                       "outer done-callback"}));
}

TEST(ForwardingTest, StageAwaitingALeafFutureResumesOnTheNextIteration) {
  EventLoop loop(asyncio_test::VirtualClock());
  Promise<int> p(loop);
  Future<int> outer =
      make_ready_future(loop, 1).then([&](int) { return p.get_future(); });
  RunOnce(loop);
  loop.call_soon([&] { p.set_result(5); });
  RunOnce(loop);  // set_result: the stage is woken for the next iteration
  EXPECT_FALSE(outer.done());
  RunOnce(loop);
  ASSERT_TRUE(outer.done());
  EXPECT_EQ(outer.result(), 5);
}

TEST(ForwardingTest, StageAwaitingATaskResumesOnTheNextIteration) {
  EventLoop loop(asyncio_test::VirtualClock());
  Task<int> task;
  Future<int> outer = make_ready_future(loop, 1).then([&](int) {
    task = loop.create_task([] { return 3; });
    return task;
  });
  RunOnce(loop);  // outer's continuation creates the task
  RunOnce(loop);  // the task's body runs: the task is done
  EXPECT_TRUE(task.done());
  EXPECT_FALSE(outer.done());
  RunOnce(loop);
  ASSERT_TRUE(outer.done());
  EXPECT_EQ(outer.result(), 3);
}

TEST(ForwardingTest, ErrorOfReturnedThenStageComesUpInTheSameStepUnchanged) {
  EventLoop loop(asyncio_test::VirtualClock());
  Future<int> inner_chain;
  Future<int> outer = make_ready_future(loop, 1).then([&](int) {
    inner_chain = make_ready_future(loop, 2).then(
        [](int) -> int { throw std::out_of_range("deep"); });
    return inner_chain;
  });
  RunOnce(loop);
  RunOnce(loop);
  ASSERT_TRUE(outer.done());
  ASSERT_TRUE(inner_chain.done());
  EXPECT_EQ(outer.exception(), inner_chain.exception());  // one exception_ptr
  EXPECT_TRUE(Holds<std::out_of_range>(outer.exception()));
}

TEST(ForwardingTest, CancellationOfReturnedThenStageComesUpInTheSameStep) {
  EventLoop loop(asyncio_test::VirtualClock());
  Promise<int> p(loop);
  Future<int> inner_chain;
  Future<int> outer = make_ready_future(loop, 1).then([&](int) {
    inner_chain = p.get_future().then([](int v) { return v; });
    return inner_chain;
  });
  RunOnce(loop);
  loop.call_soon([&] { p.get_future().cancel("stop"); });
  RunOnce(loop);  // the promise is cancelled; inner_chain's stage is queued
  EXPECT_FALSE(outer.done());
  RunOnce(loop);  // inner_chain ends cancelled, and outer with it
  ASSERT_TRUE(outer.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { outer.result(); }), "stop");
}

TEST(ForwardingTest, TwoStagesReturningOneThenStageBothTakeItsOutcome) {
  EventLoop loop(asyncio_test::VirtualClock());
  Promise<int> p(loop);
  Future<int> shared = p.get_future().then([](int v) { return v + 1; });
  Future<int> a = make_ready_future(loop, 0).then([&](int) { return shared; });
  Future<int> b = make_ready_future(loop, 0).then([&](int) { return shared; });
  RunOnce(loop);
  p.set_result(1);
  RunOnce(loop);  // shared's continuation runs
  ASSERT_TRUE(a.done());
  ASSERT_TRUE(b.done());
  EXPECT_EQ(a.result(), 2);
  EXPECT_EQ(b.result(), 2);
}

TEST(ForwardingTest, MoveOnlyValueClimbsNestedStages) {
  EventLoop loop(asyncio_test::VirtualClock());
  Future<std::unique_ptr<int>> outer =
      make_ready_future(loop, 1).then([&](int) {
        return make_ready_future(loop, 2).then([&](int) {
          return make_ready_future(loop, 3).then(
              [](int v) { return std::make_unique<int>(v); });
        });
      });
  RunOnce(loop);
  RunOnce(loop);
  EXPECT_FALSE(outer.done());
  RunOnce(loop);  // the innermost continuation: all three levels complete
  ASSERT_TRUE(outer.done());
  EXPECT_EQ(*outer.result(), 3);
}

// Counts copies of itself (moves are free).
struct CopyCounted {
  explicit CopyCounted(int* copies) : copies(copies) {}
  CopyCounted(const CopyCounted& o) : copies(o.copies) { ++*copies; }
  CopyCounted(CopyCounted&&) = default;
  CopyCounted& operator=(const CopyCounted& o) {
    copies = o.copies;
    ++*copies;
    return *this;
  }
  CopyCounted& operator=(CopyCounted&&) = default;
  int* copies;
};

TEST(ForwardingTest, CopyableValueClimbsNestedStagesWithoutCopies) {
  EventLoop loop(asyncio_test::VirtualClock());
  int copies = 0;
  Future<CopyCounted> outer = make_ready_future(loop, 1).then([&](int) {
    return make_ready_future(loop, 2).then([&](int) {
      return make_ready_future(loop, 3).then(
          [&](int) { return CopyCounted(&copies); });
    });
  });
  RunOnce(loop);
  RunOnce(loop);
  RunOnce(loop);
  ASSERT_TRUE(outer.done());
  // Each level held the only reference to the level below: moved, not
  // copied.
  EXPECT_EQ(copies, 0);
}

// A recursive chain: each level's continuation returns the next level.
// The bottom waits on `leaf`.
Future<int> Recurse(EventLoop& loop, int depth, Future<int> leaf,
                    std::vector<Future<int>>* keep) {
  Future<int> level = make_ready_future(loop, depth).then(
      [&loop, leaf, keep](int d) -> Future<int> {
        if (d == 0) return leaf;
        return Recurse(loop, d - 1, leaf, keep);
      });
  if (keep != nullptr) keep->push_back(level);
  return level;
}

TEST(ForwardingTest, RecursiveChainLevelsHeldByHandlesAllCompleteInTheSameStep) {
  EventLoop loop(asyncio_test::VirtualClock());
  Promise<int> p(loop);
  std::vector<Future<int>> levels;  // a handle to every level
  Future<int> top = Recurse(loop, 5, p.get_future().then([](int v) { return v; }),
                            &levels);
  for (int i = 0; i < 10; ++i) RunOnce(loop);
  ASSERT_EQ(levels.size(), 6u);
  for (const Future<int>& f : levels) EXPECT_FALSE(f.done());
  p.set_result(8);
  RunOnce(loop);  // the bottom stage runs: every level completes now
  for (const Future<int>& f : levels) {
    ASSERT_TRUE(f.done());
    EXPECT_EQ(f.result(), 8);
  }
  EXPECT_EQ(top.result(), 8);
}

TEST(ForwardingTest, CancelOfTaskOverRecursiveChainReachesTheBottomLeaf) {
  EventLoop loop(asyncio_test::VirtualClock());
  Promise<int> p(loop);
  bool hook_ran = false;
  p.set_cancel_hook([&] { hook_ran = true; });
  Future<int> leaf = p.get_future();
  Task<int> t = loop.create_task(
      [&] { return Recurse(loop, 1000, leaf, nullptr); });
  for (int i = 0; i < 1010; ++i) RunOnce(loop);
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(t.cancel("deep"));
  EXPECT_TRUE(hook_ran);
  RunUntilDone(loop, Future<int>(t));
  ASSERT_TRUE(t.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { t.result(); }), "deep");
}

TEST(ForwardingTest, RecursiveChainOfAMillionLevelsUnderATask) {
  EventLoop loop(asyncio_test::VirtualClock());
  Task<int> t = loop.create_task([&] {
    return Recurse(loop, 1000000, make_ready_future(loop, 4), nullptr);
  });
  ASSERT_TRUE(RunUntilDone(loop, Future<int>(t)));
  EXPECT_EQ(t.result(), 4);
}

TEST(ForwardingTest, CatchErrorAndFinallyStagesAreFramesToo) {
  EventLoop loop(asyncio_test::VirtualClock());
  Future<int> inner_chain;
  Future<int> outer = make_ready_future(loop, 1).then([&](int) {
    inner_chain = make_exception_future<int>(
                      loop, std::make_exception_ptr(std::out_of_range("x")))
                      .catch_error<std::out_of_range>(
                          [](const std::out_of_range&) { return 9; });
    return inner_chain;
  });
  RunOnce(loop);
  RunOnce(loop);  // the handler runs: outer completes in the same step
  ASSERT_TRUE(outer.done());
  EXPECT_EQ(outer.result(), 9);
}

TEST(ForwardingTest, CancellingTheOuterStageReachesThePendingInnerChain) {
  EventLoop loop(asyncio_test::VirtualClock());
  Promise<int> p(loop);
  bool hook_ran = false;
  p.set_cancel_hook([&] { hook_ran = true; });
  Future<int> outer = make_ready_future(loop, 1).then([&](int) {
    return p.get_future().then([](int v) { return v; });
  });
  RunOnce(loop);
  EXPECT_TRUE(outer.cancel("outer"));
  EXPECT_TRUE(hook_ran);
  RunOnce(loop);  // the inner chain's stage ends cancelled, outer with it
  ASSERT_TRUE(outer.cancelled());
  EXPECT_EQ(CancelMessageThrownBy([&] { outer.result(); }), "outer");
}


}  // namespace
}  // namespace asyncio
