// Runs every sample program (data dependencies of this test) and compares
// its whole standard output with what the seed says it prints.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include "gtest/gtest.h"

namespace {

struct RunResult {
  std::string out;  // everything the program wrote to stdout
  int status = -1;  // pclose()'s wait status
  double seconds = 0;
};

std::string SamplePath(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::string root = srcdir ? srcdir : ".";
  root += "/";
  root += workspace ? workspace : "asyncio";
  return root + "/samples/" + name;
}

RunResult RunSample(const std::string& name) {
  RunResult r;
  const std::string command = "'" + SamplePath(name) + "'";
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed for " << command;
    return r;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  r.status = ::pclose(pipe);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                            start)
                  .count();
  return r;
}

void ExpectExitedCleanly(const RunResult& r) {
  ASSERT_TRUE(WIFEXITED(r.status)) << "wait status " << r.status;
  EXPECT_EQ(WEXITSTATUS(r.status), 0);
}

TEST(SamplesTest, RunningProgramPrintsHello) {
  RunResult r = RunSample("running_program");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "hello\n");
}

TEST(SamplesTest, SleepingPrintsDone) {
  RunResult r = RunSample("sleeping");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "done\n");
}

TEST(SamplesTest, CoroutinesPrintsDone) {
  RunResult r = RunSample("coroutines");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "done\n");
}

TEST(SamplesTest, TasksPrintsDone) {
  RunResult r = RunSample("tasks");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "done\n");
}

TEST(SamplesTest, TasksConcurrentStartsInOrderAndFinishesBySleepLength) {
  RunResult r = RunSample("tasks_concurrent");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out,
            "A: started\n"
            "B: started\n"
            "C: started\n"
            "B: finished\n"
            "A: finished\n"
            "C: finished\n");
  // The longest sleep is 3 s and sleeps never end early. No upper bound: a
  // loaded machine may be slow, and the order above already shows the
  // sleeps overlapped.
  EXPECT_GE(r.seconds, 2.9);
}

TEST(SamplesTest, GatherRunsConcurrentlyAndPrintsResultsInArgumentOrder) {
  RunResult r = RunSample("gather");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out,
            "A: started\n"
            "B: started\n"
            "C: started\n"
            "B: finished\n"
            "A: finished\n"
            "C: finished\n"
            "Result: ['a', 'b', 'c']\n");
  EXPECT_GE(r.seconds, 2.9);  // exact loop time: samples_virtual_clock_test
}

TEST(SamplesTest, ShieldPrintsNothing) {
  RunResult r = RunSample("shield");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "");
}

TEST(SamplesTest, EventLoopsRunsGatherWithRunUntilComplete) {
  RunResult r = RunSample("event_loops");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out,
            "A: started\n"
            "B: started\n"
            "C: started\n"
            "B: finished\n"
            "A: finished\n"
            "C: finished\n");
  EXPECT_GE(r.seconds, 2.9);
}

TEST(SamplesTest, ToThreadOverlapsTheBlockingWorkWithTheSleep) {
  RunResult r = RunSample("to_thread");
  ExpectExitedCleanly(r);
  // Four lines in the seed's order, each ending with a time as %X prints it.
  std::regex shape(
      "Started main at [0-9:]+\\n"
      "Work started [0-9:]+\\n"
      "Work done at [0-9:]+\\n"
      "Finished main at [0-9:]+\\n");
  EXPECT_TRUE(std::regex_match(r.out, shape)) << r.out;
  EXPECT_GE(r.seconds, 1.9);  // the blocking work takes 2 s ...
  EXPECT_LT(r.seconds, 2.9);  // ... and overlaps the 1 s sleep (not 3 s)
}

TEST(SamplesTest, WaitFindsTheTaskInDone) {
  RunResult r = RunSample("wait");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "work is done\n");
}

TEST(SamplesTest, TimeoutsTimesOutAfterOneSecond) {
  RunResult r = RunSample("timeouts");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "timeout!\n");
  EXPECT_GE(r.seconds, 0.9);  // the timeout; the hour-long sleep never ends
}

TEST(SamplesTest, AsCompletedPrintsResultsInCompletionOrder) {
  RunResult r = RunSample("as_completed");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out,
            "C: started\n"
            "B: started\n"
            "A: started\n"
            "B: finished\n"
            "b\n"
            "A: finished\n"
            "a\n"
            "C: finished\n"
            "c\n");
  EXPECT_GE(r.seconds, 2.9);
}

TEST(SamplesTest, LockPrintsNothing) {
  RunResult r = RunSample("lock");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "");
}

TEST(SamplesTest, ConditionPrintsNothing) {
  RunResult r = RunSample("condition");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "");
}

TEST(SamplesTest, SemaphorePrintsNothing) {
  RunResult r = RunSample("semaphore");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out, "");
}

TEST(SamplesTest, EventListenerWaitsOneSecondForTheEvent) {
  RunResult r = RunSample("event");
  ExpectExitedCleanly(r);
  EXPECT_EQ(r.out,
            "Waiting for event\n"
            "Event processed\n");
  EXPECT_GE(r.seconds, 0.9);  // the event is set after a 1 s sleep
}

}  // namespace
