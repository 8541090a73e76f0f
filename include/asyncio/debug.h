// asyncio/debug.h — debug mode, the log handler and task introspection.
//
// Debug mode (asyncio's, see the seed's "Debug") is on for a loop when
//  * asyncio::run(main, RunOptions{.debug = true}) made it, or
//    EventLoop::Options::debug was set, or
//  * loop.set_debug(true) was called, or
//  * the environment variable ASYNCIO_CPP_DEBUG is set to a non-empty value
//    when the loop is created (asyncio's PYTHONASYNCIODEBUG).
// loop.get_debug() reports it. In debug mode:
//  * a callback or task step that runs at least slow_callback_duration()
//    (default 0.1 s of real time) is logged (WARNING) with what ran (a task
//    name, a callback) and where it was created, and how long it took;
//  * loop-affine methods called from a thread other than the one running
//    the loop raise RuntimeError: call_soon, call_later, call_at,
//    create_task, stop; Promise set_result/set_exception; cancel(),
//    then()-family and add_done_callback on futures of that loop;
//  * futures, tasks and callbacks remember the file and line that created
//    them (SourceLocation default arguments; asyncio's source_traceback),
//    and every report about them names that site;
//  * libevent's own debug mode is enabled when the first loop the library
//    creates in the process is a debug loop (libevent allows
//    event_enable_debug_mode() only before any event or event_base exists;
//    later debug loops, and set_debug() on an existing loop, get this
//    library's checks only). An application that creates libevent objects
//    itself must not create its first asyncio loop in debug mode after
//    them (libevent aborts), or must call enable_libevent_debug_mode()
//    first.
//
// Always (debug mode or not):
//  * a future destroyed with an exception nobody retrieved is reported
//    ("Future exception was never retrieved" / "Task exception ...", with
//    the exception's message);
//  * a task still pending when its loop closes is reported ("Task was
//    destroyed but it is pending!"), then cancelled;
//  * an exception thrown by a plain callback is reported ("Exception in
//    callback") and the loop goes on.
// Those three go through the loop's exception handler, as in asyncio, whose
// default sends them to the log handler; slow callbacks and task dumps go
// to the log handler directly.
//
//   asyncio::set_log_handler([](const asyncio::LogRecord& r) {
//     my_logger(r.level, r.message);
//   });
//   asyncio::run(main_task, asyncio::RunOptions{false, /*debug=*/true});
//
// Introspection: current_task() and all_tasks() (task.h); format_tasks()
// and dump_tasks() list every pending task of a loop with its name, state,
// creation site and what it waits on now, as a tree of who waits for whom;
// EventLoop::dump_tasks_on_signal(SIGUSR1) dumps on a signal.
//
// Cost with debug mode off: one predictable branch per ready-queue batch
// and per future created, nothing per completion or step; no memory per
// future (sites live in a table of the loop, only in debug mode). While
// some loop of the process is in debug mode, the others pay one
// out-of-line call per then() and Promise (which finds their flag off).
#ifndef ASYNCIO_DEBUG_H_
#define ASYNCIO_DEBUG_H_

#include <functional>
#include <string>

#include "asyncio/event_loop.h"
#include "asyncio/source_location.h"

namespace asyncio {

// asyncio::LogLevel
enum class LogLevel { kDebug, kInfo, kWarning, kError };

// asyncio::LogRecord
//
// One report. `message` is a single line except for a task dump (one line
// per task). `where` is the creation site of what the report is about,
// when known.
struct LogRecord {
  LogLevel level = LogLevel::kInfo;
  std::string message;
  SourceLocation where;
};

using LogHandler = std::function<void(const LogRecord&)>;

// asyncio::set_log_handler
//
// Replaces where every report of the library goes (process-wide, as
// asyncio's logger); nullptr restores the default, which writes
// "asyncio <LEVEL>: <message>" and a newline to stderr. The handler may be
// called from any thread that runs a loop, one call at a time (calls are
// serialised); it must not call set_log_handler. An exception it throws is
// swallowed after writing the record to stderr.
// Thread-safe: may be called from any thread.
void set_log_handler(LogHandler handler);

// asyncio::log: sends a record to the log handler. Thread-safe.
void log(const LogRecord& record);

// asyncio::log_level_name: "DEBUG", "INFO", "WARNING", "ERROR".
const char* log_level_name(LogLevel level);

// asyncio::format_tasks
//
// The loop's pending tasks as text, one line per task, each indented under
// the task that waits on it (tasks waited on by nobody at the left margin,
// in creation order):
//
//   2 pending tasks at loop time 1.000
//   Task-1 (pending) created at main.cc:30, waiting on Task-2
//     Task-2 (pending) created at main.cc:20, waiting on sleep, due at 5.000 (in 4.000 s)
//
// State is "pending" (waiting on something), "ready" (its next step is
// queued), "running" (it is current_task()) or "not started", with
// ", cancelling" when a cancel request is pending. What a task waits on is
// the leaf at the bottom of the chain it awaits: another task, a sleep with
// its deadline, a queue or lock operation ("Queue.get", "Lock.acquire"), a
// combinator and its children ("gather of 2: Task-3, Task-4"), or a plain
// future with its creation site. A task several tasks wait on is listed
// under the first and named "(listed above)" under the others.
// A waiting operation describes itself through its future state's virtual
// describe() (internal/future_state.h): sleep, the queue and lock waiters
// and the combinators do; a new kind of wait (a socket read) adds its own
// override, at no cost per future.
// Loop thread only.
std::string format_tasks(EventLoop& loop);

// asyncio::dump_tasks
//
// Logs format_tasks() as one INFO record (asyncio's Task.print_stack for
// every task). Default: the running loop (RuntimeError when none).
// Loop thread only.
void dump_tasks();
void dump_tasks(EventLoop& loop);

// asyncio::enable_libevent_debug_mode
//
// Turns libevent's debug mode on now (and its pthreads locking, which the
// debug mode's shared table needs). Returns true when it is on; false
// when it can no longer be (this library already created an event_base).
// Call it before creating any libevent object yourself. Thread-safe.
bool enable_libevent_debug_mode();
bool libevent_debug_mode_enabled();

}  // namespace asyncio

#endif  // ASYNCIO_DEBUG_H_
