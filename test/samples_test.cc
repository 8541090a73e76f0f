// Runs every sample program (data dependencies of this test) and compares
// its whole standard output with what the seed says it prints.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
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

// Runs the sample `name` with the command-line arguments `args`.
RunResult RunSample(const std::string& name, const std::string& args = "") {
  RunResult r;
  const std::string command = "'" + SamplePath(name) + "' " + args;
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

// The workers' sleeps are random: run with a fixed seed, check the shape of
// every line, and that the three workers took less time in parallel than
// the sleeps add up to.
TEST(SamplesTest, QueueWorkersSleepInParallel) {
  RunResult r = RunSample("queue", "--seed=7");
  ExpectExitedCleanly(r);
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 23u) << r.out;
  const std::regex worker_line(
      R"(worker-[012] has slept for ([0-9]+\.[0-9]{2}) seconds)");
  double sum = 0;
  for (int i = 0; i < 20; ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, worker_line)) << lines[i];
    const double slept = std::stod(m[1]);
    EXPECT_GE(slept, 0.05);
    EXPECT_LE(slept, 1.0);
    sum += slept;
  }
  EXPECT_EQ(lines[20], "====");
  std::smatch parallel, total;
  ASSERT_TRUE(std::regex_match(
      lines[21], parallel,
      std::regex(R"(3 workers slept in parallel for ([0-9]+\.[0-9]{2}) seconds)")))
      << lines[21];
  ASSERT_TRUE(std::regex_match(
      lines[22], total,
      std::regex(R"(total expected sleep time: ([0-9]+\.[0-9]{2}) seconds)")))
      << lines[22];
  const double parallel_s = std::stod(parallel[1]);
  const double total_s = std::stod(total[1]);
  EXPECT_LT(parallel_s, total_s);
  EXPECT_NEAR(sum, total_s, 20 * 0.005 + 0.005);  // each line rounds
  // Sleeps never end early and three workers share them: the parallel time
  // is at least a third of the total.
  EXPECT_GE(parallel_s, total_s / 3 - 0.01);
  // The same seed gives the same sleeps.
  RunResult again = RunSample("queue", "--seed=7");
  ExpectExitedCleanly(again);
  std::istringstream in2(again.out);
  std::vector<std::string> lines2;
  for (std::string line; std::getline(in2, line);) lines2.push_back(line);
  ASSERT_EQ(lines2.size(), 23u);
  EXPECT_EQ(lines2[22], lines[22]);
}

// The debug sample's reports go to stderr (the default log handler): run
// with stderr merged into stdout and look for each report.
TEST(SamplesTest, DebugShowsSlowCallbackNeverRetrievedAndTaskDump) {
  using ::testing::HasSubstr;
  RunResult r = RunSample("debug", "2>&1");
  ExpectExitedCleanly(r);
  EXPECT_THAT(r.out, HasSubstr("debug mode: on\n"));
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(asyncio WARNING: Executing callback scheduled at )"
                        R"([^ ]*samples/debug\.cc:[0-9]+ took 0\.[0-9]{3} seconds\n)")))
      << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(asyncio ERROR: Task exception was never retrieved; )"
                        R"(future: fetcher created at [^ ]*samples/debug\.cc:[0-9]+; )"
                        R"(exception: connection refused\n)")))
      << r.out;
  EXPECT_THAT(r.out, HasSubstr("asyncio INFO: Task dump: 4 pending tasks at loop time "));
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(\nconsumer \(pending\) created at [^ ]*samples/debug\.cc:[0-9]+, )"
                        R"(waiting on Queue\.get\n)")))
      << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(\nwaiter \(pending\) created at [^ ]*debug\.cc:[0-9]+, )"
                        R"(waiting on watchdog\n  watchdog \(pending\) created at )")))
      << r.out;
  EXPECT_THAT(r.out, HasSubstr("done\n"));
}

TEST(SamplesTest, QueueRejectsABadSeed) {
  RunResult r = RunSample("queue", "--seed=x 2>/dev/null");
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 2);
  EXPECT_EQ(r.out, "");
}

// Starts the echo server on an ephemeral port, runs the echo client against
// the port the server printed, then stops the server (SIGTERM: it serves
// forever, as the seed's does) and checks both outputs.
TEST(SamplesTest, EchoClientAndServerPrintTheSeedsLines) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string server_path = SamplePath("echo_server");
  char arg0[] = "echo_server";
  char arg1[] = "0";
  char* argv[] = {arg0, arg1, nullptr};
  pid_t pid;
  ASSERT_EQ(::posix_spawn(&pid, server_path.c_str(), &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  // Reads the server's output until it holds `lines` lines (or 20 s pass).
  std::string server_out;
  auto read_lines = [&](int lines) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::count(server_out.begin(), server_out.end(), '\n') < lines &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      server_out.append(buf, static_cast<std::size_t>(n));
    }
  };
  read_lines(1);
  std::smatch m;
  const std::string first = server_out.substr(0, server_out.find('\n'));
  const bool serving = std::regex_match(first, m, std::regex("Serving on \\('127\\.0\\.0\\.1', ([0-9]+)\\)"));
  EXPECT_TRUE(serving) << server_out;
  if (serving) {
    const std::string port = m[1];
    EXPECT_NE(port, "0");
    RunResult client = RunSample("echo_client", port);
    ExpectExitedCleanly(client);
    EXPECT_EQ(client.out,
              "Send: 'Hello World!'\n"
              "Received: 'Hello World!'\n"
              "Close the connection\n");
    read_lines(4);
    std::regex shape(
        "Serving on \\('127\\.0\\.0\\.1', " + port + "\\)\n"
        "Received 'Hello World!' from \\('127\\.0\\.0\\.1', [0-9]+\\)\n"
        "Send: 'Hello World!'\n"
        "Close the connection\n");
    EXPECT_TRUE(std::regex_match(server_out, shape)) << server_out;
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
}

}  // namespace
