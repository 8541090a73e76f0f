// Debug mode's process-wide parts: the log handler, libevent's debug mode,
// the creation-site and wrong-thread hooks, and the task dump.
#include "asyncio/debug.h"

#include <event2/event.h>
#include <event2/thread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "asyncio/task.h"

namespace asyncio {
namespace internal {

std::atomic<int> g_debug_loops{0};

bool debug_env_enabled() {
  const char* v = std::getenv("ASYNCIO_CPP_DEBUG");
  return v != nullptr && *v != '\0';
}

namespace {

std::mutex& libevent_mu() {
  static std::mutex mu;
  return mu;
}
bool libevent_debug_on = false;  // guarded by libevent_mu()
bool base_created = false;       // guarded by libevent_mu()

bool enable_libevent_debug_locked() {
  if (libevent_debug_on) return true;
  if (base_created) return false;
  // The debug mode's table of events is shared by every base: with loops
  // in several threads it needs libevent's locking, which must also be set
  // up before any base exists.
  evthread_use_pthreads();
  event_enable_debug_mode();
  libevent_debug_on = true;
  return true;
}

}  // namespace

void before_event_base(bool debug) {
  std::lock_guard<std::mutex> lock(libevent_mu());
  if (debug) enable_libevent_debug_locked();
  base_created = true;
}

void debug_note_created(FutureStateBase* s, SourceLocation where) {
  EventLoop* loop = s->loop();
  // A future made for a loop that runs in another thread (a misuse the
  // wrong-thread check catches when it is completed or awaited) gets no
  // site: the table belongs to the loop's thread.
  if (!loop->get_debug() || loop->runs_in_other_thread()) return;
  loop->record_site(s, where);
  s->set_has_site();
}

void debug_stage_created(FutureStateBase* s, SourceLocation where,
                         const char* what) {
  try {
    s->loop()->check_thread(what);
  } catch (...) {
    s->release();  // never waited on anything: just freed
    throw;
  }
  debug_note_created(s, where);
}

void debug_check_thread(EventLoop* loop, const char* what) {
  loop->check_thread(what);
}

}  // namespace internal

bool enable_libevent_debug_mode() {
  std::lock_guard<std::mutex> lock(internal::libevent_mu());
  return internal::enable_libevent_debug_locked();
}

bool libevent_debug_mode_enabled() {
  std::lock_guard<std::mutex> lock(internal::libevent_mu());
  return internal::libevent_debug_on;
}

// --- The log handler ----------------------------------------------------------

namespace {

std::mutex& log_mu() {
  static std::mutex mu;
  return mu;
}
LogHandler& log_handler() {  // guarded by log_mu()
  static LogHandler* handler = new LogHandler();
  return *handler;
}

void write_default(const LogRecord& record) {
  std::fprintf(stderr, "asyncio %s: %s\n", log_level_name(record.level),
               record.message.c_str());
}

}  // namespace

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

void set_log_handler(LogHandler handler) {
  std::lock_guard<std::mutex> lock(log_mu());
  log_handler() = std::move(handler);
}

void log(const LogRecord& record) {
  std::lock_guard<std::mutex> lock(log_mu());
  LogHandler& h = log_handler();
  if (!h) {
    write_default(record);
    return;
  }
  try {
    h(record);
  } catch (const std::exception& e) {
    // A report must not be lost, nor thrown into the loop.
    write_default(record);
    write_default(LogRecord{LogLevel::kError,
                            std::string("log handler threw: ") + e.what(),
                            SourceLocation()});
  } catch (...) {
    write_default(record);
    write_default(LogRecord{LogLevel::kError, "log handler threw",
                            SourceLocation()});
  }
}

// --- The task dump ----------------------------------------------------------

namespace {

using internal::FutureStateBase;

std::string seconds3(double s) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

// The leaf a task waits on: down the chain of stages it awaits, to the
// first thing that is not a pending stage (a task, a combinator, a leaf).
// nullptr when the task's next step is queued.
FutureStateBase* awaited_leaf(FutureStateBase* task) {
  FutureStateBase* s = task->awaiting();
  int guard = 0;
  while (s != nullptr && !s->done() && s->task_core() == nullptr &&
         ++guard < 100000) {
    FutureStateBase* next = s->awaiting();
    if (next == nullptr) break;
    s = next;
  }
  if (s == nullptr || s->done()) return nullptr;
  return s;
}

class Dumper {
 public:
  explicit Dumper(EventLoop& loop) : loop_(loop) {}

  std::string run() {
    std::vector<FutureStateBase*> tasks;
    for (FutureStateBase* t = loop_.first_task(); t != nullptr;
         t = t->task_core()->next) {
      if (!t->done()) tasks.push_back(t);
    }
    current_ = internal::tls_current_task;
    // Who waits on whom: a task's children are the tasks its leaf names.
    for (FutureStateBase* t : tasks) {
      for (FutureStateBase* c : awaited_tasks(t)) {
        if (!parent_.count(c)) parent_[c] = t;
      }
    }
    std::string out = std::to_string(tasks.size()) +
                      (tasks.size() == 1 ? " pending task" : " pending tasks") +
                      " at loop time " + seconds3(loop_.time()) + "\n";
    for (FutureStateBase* t : tasks) {
      if (!parent_.count(t)) print(t, 0, out);
    }
    // Tasks on an await cycle have a parent and no root: list what is left.
    for (FutureStateBase* t : tasks) {
      if (!printed_.count(t)) print(t, 0, out);
    }
    return out;
  }

 private:
  std::vector<FutureStateBase*> awaited_tasks(FutureStateBase* t) {
    std::vector<FutureStateBase*> out;
    FutureStateBase* leaf = awaited_leaf(t);
    if (leaf == nullptr) return out;
    if (leaf->task_core() != nullptr) {
      out.push_back(leaf);
      return out;
    }
    leaf->for_each_awaited([&](FutureStateBase* c) {
      if (c->task_core() != nullptr && !c->done()) out.push_back(c);
    });
    return out;
  }

  std::string waiting_on(FutureStateBase* t) {
    FutureStateBase* leaf = awaited_leaf(t);
    if (leaf == nullptr) return std::string();
    if (leaf->task_core() != nullptr) return leaf->describe();
    std::string what = leaf->describe_with_site();
    std::vector<std::string> children;
    leaf->for_each_awaited([&](FutureStateBase* c) {
      if (!c->done()) children.push_back(c->describe());
    });
    if (!children.empty()) {
      what += ": ";
      for (std::size_t i = 0; i < children.size(); ++i) {
        if (i > 0) what += ", ";
        what += children[i];
      }
    }
    return what;
  }

  void print(FutureStateBase* t, int depth, std::string& out) {
    out.append(static_cast<std::size_t>(depth) * 2, ' ');
    out += t->describe();
    if (printed_.count(t)) {
      out += " (listed above)\n";
      return;
    }
    printed_.insert(t);
    std::string state;
    std::string waits;
    if (t == current_) {
      state = "running";
    } else if (!t->started()) {
      state = "not started";
    } else {
      waits = waiting_on(t);
      state = waits.empty() ? "ready" : "pending";
    }
    if (t->task_core()->cancelling > 0) state += ", cancelling";
    out += " (" + state + ")";
    if (t->has_site()) out += " created at " + t->site().str();
    if (!waits.empty()) out += ", waiting on " + waits;
    out += "\n";
    for (FutureStateBase* c : awaited_tasks(t)) {
      auto it = parent_.find(c);
      if (it != parent_.end() && it->second == t && !printed_.count(c)) {
        print(c, depth + 1, out);
      } else {
        out.append(static_cast<std::size_t>(depth + 1) * 2, ' ');
        out += c->describe() + " (listed " +
               (printed_.count(c) ? "above" : "below") + ")\n";
      }
    }
  }

  EventLoop& loop_;
  FutureStateBase* current_ = nullptr;
  std::unordered_map<FutureStateBase*, FutureStateBase*> parent_;
  std::unordered_set<FutureStateBase*> printed_;
};

}  // namespace

std::string format_tasks(EventLoop& loop) { return Dumper(loop).run(); }

void dump_tasks(EventLoop& loop) {
  std::string text = format_tasks(loop);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  log(LogRecord{LogLevel::kInfo, "Task dump: " + text, SourceLocation()});
}

void dump_tasks() { dump_tasks(get_running_loop()); }

}  // namespace asyncio
