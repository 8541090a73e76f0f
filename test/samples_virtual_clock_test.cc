// Runs the gather sample's main_() (samples/gather.cc, compiled into this
// test with its main() renamed) on the virtual clock: the three sleeps
// overlap, so the loop's elapsed time is exactly 3 s, not 6.
#include <string>

#include "asyncio/asyncio.h"
#include "gtest/gtest.h"
#include "test/test_util.h"

asyncio::Future<void> main_();  // samples/gather.cc

namespace {

TEST(SamplesVirtualClockTest, GatherSampleTakesThreeSecondsOfLoopTime) {
  asyncio::EventLoop loop(asyncio_test::VirtualClock());
  testing::internal::CaptureStdout();
  loop.run_until_complete(main_);
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(loop.time(), 3.0);
  EXPECT_EQ(out,
            "A: started\n"
            "B: started\n"
            "C: started\n"
            "B: finished\n"
            "A: finished\n"
            "C: finished\n"
            "Result: ['a', 'b', 'c']\n");
}

}  // namespace
