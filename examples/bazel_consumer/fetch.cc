// fetch: a program of a workspace that takes asyncio for C++17 in as an
// external repository (see WORKSPACE and BUILD.bazel beside this file).
//
// Six simulated downloads (each one a sleep of the page's latency) go
// through a bounded queue to two fetcher tasks. Every download has a
// 0.5 s deadline (wait_for): the one slow page times out, the others
// arrive. main waits until the queue is drained (join), shuts the queue
// down so that the fetchers' get() ends, gathers the fetchers and prints a
// report in page order. Output (about 1 s):
//
//   /index.html: 40 bytes after 30 ms
//   /about.html: 40 bytes after 10 ms
//   /big.iso: timed out after 500 ms
//   ...
//   5 pages fetched, 1 timed out
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <variant>

#include "asyncio/asyncio.h"

namespace {

constexpr double kDeadline = 0.5;  // seconds per download

struct Page {
  std::string path;
  int latency_ms;
};

// What each page ended as, kept in page order for the report.
struct Report {
  std::map<int, std::string> lines;  // by page number
  int fetched = 0;
  int timed_out = 0;
};

// A download that takes `latency_ms` and yields the page's body.
asyncio::Future<std::string> download(const Page& page) {
  std::string body = "<html>" + page.path + "</html>";
  body.resize(40, ' ');
  return asyncio::sleep(page.latency_ms / 1000.0, std::move(body));
}

// A fetcher takes (number, page) pairs off the queue until it is shut down.
asyncio::Future<void> fetcher(asyncio::Queue<std::pair<int, Page>> queue,
                              std::shared_ptr<Report> report) {
  return asyncio::repeat([queue, report] {
           return queue.get().then([queue, report](std::pair<int, Page> item) {
             Page page = item.second;
             int n = item.first;
             return asyncio::wait_for(download(page), kDeadline)
                 .then([report, n, page](const std::string& body) {
                   report->lines[n] = page.path + ": " +
                                      std::to_string(body.size()) +
                                      " bytes after " +
                                      std::to_string(page.latency_ms) + " ms";
                   ++report->fetched;
                 })
                 .catch_error<asyncio::TimeoutError>(
                     [report, n, page](const asyncio::TimeoutError&) {
                       report->lines[n] = page.path + ": timed out after " +
                                          std::to_string(int(kDeadline * 1000)) +
                                          " ms";
                       ++report->timed_out;
                     })
                 .then([queue] {
                   queue.task_done();
                   return asyncio::Repeat::CONTINUE;
                 });
           });
         })
      // shutdown() makes the next get() fail with QueueShutDown: the end.
      .catch_error<asyncio::QueueShutDown>([](const asyncio::QueueShutDown&) {});
}

asyncio::Future<void> main_() {
  auto report = std::make_shared<Report>();
  asyncio::Queue<std::pair<int, Page>> queue(2);  // at most 2 waiting pages
  const Page pages[] = {
      {"/index.html", 30}, {"/about.html", 10}, {"/big.iso", 2000},
      {"/news.html", 20},  {"/feed.xml", 5},    {"/contact.html", 15},
  };

  // Two fetchers, started in this order.
  auto fetchers = asyncio::gather([queue, report] { return fetcher(queue, report); },
                                  [queue, report] { return fetcher(queue, report); });

  // The producer: put() waits while two pages are already queued.
  int n = 0;
  std::vector<std::pair<int, Page>> items;
  for (const Page& page : pages) items.emplace_back(n++, page);
  return asyncio::for_each(items,
                           [queue](std::pair<int, Page> item) {
                             return queue.put(std::move(item));
                           })
      .then([queue] { return queue.join(); })  // every page is done
      .then([queue, fetchers] {
        queue.shutdown();
        return fetchers;
      })
      .then([report](const std::tuple<std::monostate, std::monostate>&) {
        for (const auto& line : report->lines) std::puts(line.second.c_str());
        std::printf("%d pages fetched, %d timed out\n", report->fetched,
                    report->timed_out);
      });
}

}  // namespace

int main() {
  asyncio::run(main_);
  return 0;
}
