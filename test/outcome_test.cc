// Tests for asyncio/outcome.h: Outcome<T>, a value or an exception.
#include "asyncio/outcome.h"

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "asyncio/errors.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

namespace asyncio {
namespace {

using asyncio_test::CancelMessageOf;

TEST(OutcomeTest, DefaultConstructedHoldsValueInitialisedValue) {
  Outcome<int> o;
  EXPECT_TRUE(o.has_value());
  EXPECT_FALSE(o.has_exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_EQ(o.exception(), nullptr);
  EXPECT_EQ(o.value(), 0);

  Outcome<std::string> s;
  EXPECT_TRUE(s.has_value());
  EXPECT_EQ(s.value(), "");
}

TEST(OutcomeTest, ValueOutcomeReturnsValue) {
  Outcome<int> o = 42;
  EXPECT_TRUE(o.has_value());
  EXPECT_FALSE(o.has_exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_EQ(o.value(), 42);
}

TEST(OutcomeTest, ValueIsMutableThroughNonConstOutcome) {
  Outcome<std::string> o = std::string("a");
  o.value() += "b";
  EXPECT_EQ(o.value(), "ab");
  const Outcome<std::string>& c = o;
  EXPECT_EQ(c.value(), "ab");
}

TEST(OutcomeTest, ExceptionOutcomeRethrowsFromValue) {
  auto e = std::make_exception_ptr(std::runtime_error("boom"));
  Outcome<int> o = e;
  EXPECT_FALSE(o.has_value());
  EXPECT_TRUE(o.has_exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_EQ(o.exception(), e);
  EXPECT_THROW(o.value(), std::runtime_error);
  const Outcome<int>& c = o;
  EXPECT_THROW(c.value(), std::runtime_error);
  EXPECT_THROW(std::move(o).value(), std::runtime_error);
}

TEST(OutcomeTest, ValueRethrowsTheSameExceptionObject) {
  auto e = std::make_exception_ptr(std::runtime_error("same"));
  Outcome<int> o = e;
  try {
    o.value();
    FAIL() << "value() did not throw";
  } catch (const std::runtime_error&) {
    EXPECT_EQ(std::current_exception(), e);
  }
}

TEST(OutcomeTest, CancelledErrorMakesCancelledOutcome) {
  Outcome<int> o = std::make_exception_ptr(CancelledError("why"));
  EXPECT_TRUE(o.has_exception());
  EXPECT_TRUE(o.cancelled());
  EXPECT_THROW(o.value(), CancelledError);
  EXPECT_EQ(CancelMessageOf(o.exception()), "why");
}

TEST(OutcomeTest, CancelledErrorIsNotARuntimeError) {
  Outcome<int> o = std::make_exception_ptr(CancelledError());
  bool caught_as_runtime_error = false;
  try {
    o.value();
  } catch (const std::runtime_error&) {
    caught_as_runtime_error = true;
  } catch (const CancelledError&) {
  }
  EXPECT_FALSE(caught_as_runtime_error);
}

TEST(OutcomeTest, OtherExceptionIsNotCancelled) {
  Outcome<int> o = std::make_exception_ptr(TimeoutError());
  EXPECT_FALSE(o.cancelled());
  Outcome<int> n = std::make_exception_ptr(42);  // not even a std::exception
  EXPECT_TRUE(n.has_exception());
  EXPECT_FALSE(n.cancelled());
  EXPECT_THROW(n.value(), int);
}

TEST(OutcomeTest, TwoArgumentConstructorTrustsTheCancelledFlag) {
  auto e = std::make_exception_ptr(CancelledError("x"));
  Outcome<int> o(e, true);
  EXPECT_TRUE(o.cancelled());
  Outcome<int> p(std::make_exception_ptr(std::runtime_error("y")), false);
  EXPECT_FALSE(p.cancelled());
  EXPECT_TRUE(p.has_exception());
}

TEST(OutcomeTest, MoveOnlyValueMovesOutOfRvalueOutcome) {
  Outcome<std::unique_ptr<int>> o = std::make_unique<int>(7);
  ASSERT_NE(o.value(), nullptr);
  const int* raw = o.value().get();
  std::unique_ptr<int> v = std::move(o).value();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v.get(), raw);
  EXPECT_EQ(*v, 7);
}

TEST(OutcomeTest, MoveOnlyOutcomeIsMovable) {
  Outcome<std::unique_ptr<int>> a = std::make_unique<int>(3);
  Outcome<std::unique_ptr<int>> b = std::move(a);
  ASSERT_NE(b.value(), nullptr);
  EXPECT_EQ(*b.value(), 3);
}

TEST(OutcomeTest, CopyableOutcomeCopiesValueAndSharesException) {
  Outcome<std::string> a = std::string("v");
  Outcome<std::string> b = a;
  EXPECT_EQ(a.value(), "v");
  EXPECT_EQ(b.value(), "v");

  auto e = std::make_exception_ptr(CancelledError("c"));
  Outcome<std::string> x = e;
  Outcome<std::string> y = x;
  EXPECT_EQ(y.exception(), e);
  EXPECT_TRUE(y.cancelled());
}

TEST(OutcomeTest, VoidDefaultIsSuccess) {
  Outcome<void> o;
  EXPECT_TRUE(o.has_value());
  EXPECT_FALSE(o.has_exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_EQ(o.exception(), nullptr);
  EXPECT_NO_THROW(o.value());
}

TEST(OutcomeTest, VoidExceptionRethrows) {
  auto e = std::make_exception_ptr(std::logic_error("void failed"));
  Outcome<void> o = e;
  EXPECT_FALSE(o.has_value());
  EXPECT_TRUE(o.has_exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_EQ(o.exception(), e);
  EXPECT_THROW(o.value(), std::logic_error);
}

TEST(OutcomeTest, VoidCancelledErrorMakesCancelledOutcome) {
  Outcome<void> o = std::make_exception_ptr(CancelledError("v"));
  EXPECT_TRUE(o.cancelled());
  EXPECT_THROW(o.value(), CancelledError);
  Outcome<void> p(std::make_exception_ptr(CancelledError()), true);
  EXPECT_TRUE(p.cancelled());
}

TEST(OutcomeTest, ReturningOutcomeOnPassesTheSameExceptionPtr) {
  auto e = std::make_exception_ptr(std::runtime_error("passed"));
  auto pass = [](Outcome<int> o) -> Outcome<int> { return o; };
  Outcome<int> o = pass(Outcome<int>(e));
  EXPECT_EQ(o.exception(), e);
}

}  // namespace
}  // namespace asyncio
