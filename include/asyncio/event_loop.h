// asyncio/event_loop.h — EventLoop: asyncio's event loop over libevent.
//
// An EventLoop wraps one libevent `event_base` and runs, one iteration at a
// time, the callbacks in its ready queue, its due timers and libevent's I/O
// callbacks. Futures, tasks and handles belong to one loop.
//
//   asyncio::EventLoop loop;
//   loop.call_later(0.5, [&] { std::puts("half a second"); loop.stop(); });
//   loop.run_forever();
//
// Iteration rule (asyncio's _run_once). Each iteration flushes pending
// reports, takes the callbacks other threads queued, moves due timers to
// the ready queue, then runs exactly the callbacks that were ready when the
// iteration started. Callbacks scheduled while it runs go to the next
// iteration. Timers that are due at the same time run in the order they
// were scheduled.
//
// I/O polls (a deliberate change from asyncio, which polls before every
// iteration): while callbacks are ready, iterations run back to back inside
// one libevent pass, and I/O is polled with a zero timeout at least every
// kIterationsPerPoll (64) iterations or kPollIntervalNs (0.5 ms) of real
// time, whichever comes first; when the ready queue is empty the loop polls
// at once, blocking until the next timer or I/O event. So a sequential
// chain does not pay an epoll_wait per step, and a busy chain still cannot
// starve I/O or timers: an I/O callback runs at most 64 iterations after
// its event, and a due timer on the next iteration (the clock is read at
// the start of each iteration while a timer may have come due; no timer
// ever runs early). The virtual clock is unchanged: it only jumps when
// nothing is ready.
//
// Clocks. time() is monotonic seconds (a double, as in asyncio). A loop built
// with Options::virtual_clock starts at time 0 and, whenever nothing is
// ready, jumps straight to the next timer: sleep(3600) takes microseconds of
// real time and elapsed virtual time is exact. Tests of timing behaviour use
// it; programs use the real clock.
//
// The virtual clock and real I/O. Sockets (streams.h) are real: data from
// a peer takes real time to arrive. So while any I/O watcher is active (a
// socket waiting to become readable or writable, a connect or accept in
// progress, a host-name look-up), a virtual-clock loop with nothing ready
// first polls I/O for up to kVirtualIoGraceNs (2 ms) of real time, and
// jumps to the next timer only when nothing arrived in that time. Loopback
// data that is already on its way therefore wins over a virtual timeout
// (wait_for(reader.read(100), 1) sees the bytes), and a silent peer still
// times out after microseconds of real time plus one grace period per
// jump. Without active I/O watchers the clock jumps at once, as before.
//
// I/O callbacks (a deliberate change from asyncio). When a socket's event
// completes a read, a connect or an accept, the continuations it makes
// ready run as soon as that libevent callback returns, in the same pass,
// before the next socket's callback (one iteration, as above). asyncio
// appends them to the ready queue and runs them one iteration later, after
// another zero-timeout poll. Nothing can depend on the difference (when
// bytes arrive is not deterministic), and running them while the
// connection's state is still in the cache is what keeps 1,000 busy
// connections as cheap per message as 50 (README, "Performance").
//
// Adopting an event_base. EventLoop(event_base*) attaches to a base the
// application owns and may drive itself (event_base_dispatch): the library's
// work then runs inside the application's libevent loop, and
// get_running_loop() works inside it. The loop adds two internal events to
// that base (one timer, and one persistent read event for cross-thread
// wake-ups — so event_base_dispatch does not return for lack of events; use
// event_base_loopexit). The base must outlive the EventLoop.
//
// Thread affinity: loop thread only, except call_soon_threadsafe(), which
// may be called from any thread. Only one loop may run in a thread at once.
//
// Ownership: the loop owns the callables given to call_soon/call_later/
// call_at until they have run or been cancelled. It keeps every pending task
// alive. Futures, tasks and handles must not be used after their loop is
// destroyed. Destroying the loop closes it: queued callbacks and timers are
// dropped without running, pending tasks and stages end cancelled.
//
// Cost: call_soon is one allocation and one push; a timer is O(log n) in the
// loop's own timer heap, which sits behind a single libevent timer; one
// libevent poll per 64 busy iterations (or 0.5 ms), one per idle wait.
#ifndef ASYNCIO_EVENT_LOOP_H_
#define ASYNCIO_EVENT_LOOP_H_

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <climits>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "asyncio/future.h"
#include "asyncio/source_location.h"

struct event_base;
struct event;

namespace asyncio {

template <class T>
class Task;
class Executor;

namespace internal {

// The door other threads use to reach a loop that may be closed or
// destroyed meanwhile (threads.h): the loop clears `loop` under `mu` before
// it is destroyed, so a thread holding the door never touches freed
// memory. Thread-safe.
// The callbacks one drain of the door took, run in order as one ready
// node (lib/event_loop.cc).
class ThreadsafeBatch;

struct alignas(64) LoopDoor {
  LoopDoor() = default;
  ~LoopDoor();
  LoopDoor(const LoopDoor&) = delete;
  LoopDoor& operator=(const LoopDoor&) = delete;

  // Queues cb on the loop (call_soon_threadsafe); false, with cb dropped on
  // this thread, when the loop is closed or gone.
  bool post(absl::AnyInvocable<void()> cb);

  // A std::mutex rather than absl::Mutex: the distribution's abseil is not
  // built for ThreadSanitizer, which then cannot see absl::Mutex, while it
  // does see std::mutex (pthreads).
  std::mutex mu;
  // Guarded by mu:
  EventLoop* loop = nullptr;  // null once the loop is destroyed
  bool closed = false;        // the loop is closed and takes no more
  bool wake_pending = false;  // queue is not empty; the loop was woken
  // The callables other threads queued, in order. The loop thread swaps
  // the vector out and makes their nodes itself, so a node is allocated and
  // freed on one thread (a producer's allocation freed by the consumer
  // costs malloc far more) and a steady stream allocates no vector storage.
  std::vector<absl::AnyInvocable<void()>> queue;
  // The loop's eventfd, written by the first post after each drain (outside
  // the lock); owned by the door, so a thread holding the door may write it
  // after the loop is gone.
  int wake_fd = -1;
};

// A piece of work an executor runs for this loop (threads.h); the loop
// keeps the pending ones so that close() can end their futures.
struct DebugSites;

class ExecutorJob {
 public:
  ExecutorJob* prev_job = nullptr;
  ExecutorJob* next_job = nullptr;
  // The loop is closing: end the future (cancelled) and delete the job.
  virtual void abandon() = 0;

 protected:
  virtual ~ExecutorJob() = default;
};

inline constexpr std::size_t kNotInHeap = static_cast<std::size_t>(-1);

// An entry of the loop's timer heap; `node` goes to the ready queue when
// the timer is due. The heap holds one reference to node's owner.
struct TimerSlot {
  std::int64_t when = 0;  // loop time, nanoseconds
  std::uint64_t seq = 0;  // ties broken in scheduling order
  std::size_t index = kNotInHeap;
  ReadyNode* node = nullptr;
};

// The node behind a Handle: a callable with a reference count and a
// cancelled flag.
class CallbackNode : public ReadyNode {
 public:
  explicit CallbackNode(EventLoop* loop, absl::AnyInvocable<void()> fn)
      : loop_(loop), fn_(std::move(fn)) {}
  virtual ~CallbackNode() = default;

  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }
  void run() override;
  void discard() override { release(); }
  virtual void cancel();
  bool cancelled() const noexcept { return cancelled_; }
  std::string describe_step() const override { return "callback"; }

 protected:
  EventLoop* loop_;
  std::uint32_t refs_ = 1;
  bool cancelled_ = false;
  bool running_ = false;
  absl::AnyInvocable<void()> fn_;
};

class TimerCallbackNode : public CallbackNode {
 public:
  using CallbackNode::CallbackNode;
  void cancel() override;
  TimerSlot slot;
};

// A loop-owned resource outside the ready queue and the timer heap: a
// socket and its libevent events (streams.h). EventLoop::close() removes
// each one still registered and calls loop_closing(), which must release
// the file descriptor and free the events (the base may go next) and may
// complete futures; it must not run user code.
class LoopResource {
 public:
  virtual void loop_closing() noexcept = 0;
  LoopResource* prev_resource = nullptr;
  LoopResource* next_resource = nullptr;
  bool resource_registered = false;

 protected:
  ~LoopResource() = default;
};

}  // namespace internal

// asyncio::Handle
//
// Returned by call_soon(). cancel() keeps the callback from running if it
// has not run yet (and destroys it). Copies share the callback.
class Handle {
 public:
  Handle() noexcept = default;
  Handle(const Handle& other) noexcept;
  Handle& operator=(const Handle& other) noexcept;
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  ~Handle();

  // Handle::cancel
  //
  // Idempotent; a no-op after the callback ran.
  void cancel();
  bool cancelled() const;

 protected:
  friend class EventLoop;
  explicit Handle(internal::CallbackNode* node) noexcept : node_(node) {}
  internal::CallbackNode* node_ = nullptr;
};

// asyncio::TimerHandle
//
// Returned by call_later() and call_at(). cancel() also removes the timer
// from the loop at once.
class TimerHandle : public Handle {
 public:
  TimerHandle() noexcept = default;
  // TimerHandle::when: the loop time (seconds) the callback is due.
  double when() const;

 private:
  friend class EventLoop;
  using Handle::Handle;
};

// asyncio::ExceptionContext
//
// What the exception handler is told (asyncio's context dict).
struct ExceptionContext {
  std::string message;           // e.g. "Future exception was never retrieved"
  std::exception_ptr exception;  // may be null
  std::string future;            // "Future", "Task-3 (name)", or empty
  // Where the future was created (asyncio's source_traceback): known in
  // debug mode only.
  // (A default member initializer, so that aggregate initialisation that
  // leaves it out draws no -Wmissing-field-initializers warning.)
  SourceLocation created_at = SourceLocation();
};

using ExceptionHandler =
    std::function<void(EventLoop&, const ExceptionContext&)>;

// asyncio::EventLoopOptions (EventLoop::Options)
struct EventLoopOptions {
  // Run on a virtual clock (see the file comment).
  bool virtual_clock = false;
  // Start in debug mode (asyncio/debug.h). The environment variable
  // ASYNCIO_CPP_DEBUG (any non-empty value) turns it on for every loop.
  bool debug = false;
  // Non-zero: dump_tasks() on this signal (see dump_tasks_on_signal).
  int dump_tasks_signal = 0;
};

// asyncio::EventLoop
class EventLoop {
 public:
  using Options = EventLoopOptions;

  // While callbacks stay ready, I/O is polled (with a zero timeout) at
  // least every kIterationsPerPoll iterations or every kPollIntervalNs
  // nanoseconds of real time, whichever comes first (see the iteration rule
  // in the file comment).
  static constexpr int kIterationsPerPoll = 64;
  static constexpr std::int64_t kPollIntervalNs = 500'000;
  // On the virtual clock, while I/O watchers are active, how long (real
  // time) the loop polls I/O before it jumps to the next timer.
  static constexpr std::int64_t kVirtualIoGraceNs = 2'000'000;

  EventLoop();
  explicit EventLoop(Options options);
  // Adopts `base` (not owned; must outlive the loop).
  explicit EventLoop(event_base* base, Options options = Options());
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  // Precondition: !is_running().
  ~EventLoop();

  // EventLoop::run_until_complete
  //
  // Runs the loop until `future` is done and returns its result (rethrows
  // its exception). `future` may be a Future<T> or Task<T>, or a callable
  // returning one (or a plain value), which is wrapped in a task.
  // Throws RuntimeError when the loop is closed or already running, or
  // another loop runs in this thread, or stop() ended the loop first;
  // ValueError when `future` belongs to another loop.
  template <class F>
  auto run_until_complete(F&& future,
                          SourceLocation where = SourceLocation::current());

  // EventLoop::run_forever
  //
  // Runs until stop(). Same RuntimeErrors as run_until_complete.
  void run_forever();

  // EventLoop::stop
  //
  // Finishes the current iteration, then makes run_forever() return. Called
  // before run_forever(), that call runs one iteration and returns.
  // In debug mode, throws RuntimeError when called from a thread other than
  // the running loop's (use call_soon_threadsafe([&] { loop.stop(); })).
  void stop();

  // EventLoop::close
  //
  // Drops queued callbacks and timers without running them; pending tasks
  // and stages end cancelled. Idempotent. Precondition: !is_running(), else
  // throws RuntimeError.
  void close();

  // Thread-safe: may be called from any thread.
  bool is_running() const noexcept {
    return running_.load(std::memory_order_acquire);
  }
  bool is_closed() const noexcept { return closed_; }

  // EventLoop::time: the loop's monotonic clock, in seconds.
  double time() const;
  bool virtual_clock() const noexcept { return virtual_clock_; }

  // EventLoop::call_soon
  //
  // Runs cb() on the next iteration, after the callbacks already queued.
  // Precondition: !is_closed(), else throws RuntimeError. In debug mode,
  // throws RuntimeError when called from a thread other than the running
  // loop's (as do call_later, call_at and create_task), and remembers
  // `where` for reports.
  Handle call_soon(absl::AnyInvocable<void()> cb,
                   SourceLocation where = SourceLocation::current());

  // EventLoop::call_later / call_at
  //
  // Runs cb() once `delay` has passed / at loop time `when` (seconds, as
  // time() returns). A negative delay means now. A NaN delay or time is a
  // ValueError.
  TimerHandle call_later(double delay, absl::AnyInvocable<void()> cb,
                         SourceLocation where = SourceLocation::current());
  template <class Rep, class Period>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay,
                         absl::AnyInvocable<void()> cb,
                         SourceLocation where = SourceLocation::current()) {
    return call_later(std::chrono::duration<double>(delay).count(),
                      std::move(cb), where);
  }
  TimerHandle call_at(double when, absl::AnyInvocable<void()> cb,
                      SourceLocation where = SourceLocation::current());

  // EventLoop::call_soon_threadsafe
  //
  // Thread-safe: may be called from any thread. Queues cb() and wakes the
  // loop if it sleeps. One FIFO with call_soon(), as in asyncio: cb runs
  // before every callback added after this call (by call_soon or
  // call_soon_threadsafe, on any thread, as ordered by happens-before),
  // whether or not the loop is running. On the loop's own thread it is
  // call_soon(). Throws RuntimeError when the loop is closed.
  void call_soon_threadsafe(absl::AnyInvocable<void()> cb);

  // EventLoop::create_task (defined in asyncio/task.h)
  //
  // Wraps `f` (a callable returning T, Future<T> or Task<T>) in a Task<T>
  // that starts on a later iteration.
  template <class F>
  auto create_task(F&& f, std::string name = std::string(),
                   SourceLocation where = SourceLocation::current());

  // EventLoop::run_in_executor (defined in asyncio/threads.h)
  //
  // Runs f() on `executor` (nullptr: the default executor) and returns a
  // Future of its result, completed on this loop's thread. Precondition:
  // !is_closed(), else throws RuntimeError.
  template <class F>
  auto run_in_executor(Executor* executor, F&& f);

  // EventLoop::set_default_executor
  //
  // The executor run_in_executor(nullptr, ...) and to_thread use; the loop
  // shares its ownership. Without one, a ThreadPoolExecutor sized as
  // asyncio's (min(32, cores + 4) workers, started lazily) is made on first
  // use.
  void set_default_executor(std::shared_ptr<Executor> executor);
  Executor& default_executor();

  // EventLoop::shutdown_default_executor
  //
  // asyncio's loop.shutdown_default_executor(): shuts the default executor
  // down and completes when its threads have finished (joined on a helper
  // thread, so the loop keeps running meanwhile). run() awaits it.
  [[nodiscard]] Future<void> shutdown_default_executor();

  // EventLoop::door: the thread-safe handle other threads post through.
  const std::shared_ptr<internal::LoopDoor>& door() const noexcept {
    return door_;
  }

  // EventLoop::set_exception_handler
  //
  // Replaces how errors nobody else could take are reported (unretrieved
  // future exceptions, exceptions from callbacks). nullptr restores the
  // default, which prints to stderr.
  void set_exception_handler(ExceptionHandler handler);
  void call_exception_handler(const ExceptionContext& context);
  void default_exception_handler(const ExceptionContext& context);

  // EventLoop::set_debug / get_debug
  //
  // Debug mode (asyncio's loop.set_debug; see asyncio/debug.h for what it
  // reports). Turning it on records where futures, tasks and callbacks are
  // created from then on; what was created before has no site.
  void set_debug(bool enabled);
  bool get_debug() const noexcept {
    return debug_.load(std::memory_order_relaxed);
  }

  // EventLoop::slow_callback_duration / set_slow_callback_duration
  //
  // In debug mode, a callback or task step that runs at least this long
  // (seconds of real time; default 0.1) is logged. A negative or NaN value
  // is a ValueError.
  double slow_callback_duration() const noexcept {
    return static_cast<double>(slow_ns_) / 1e9;
  }
  void set_slow_callback_duration(double seconds);

  // EventLoop::dump_tasks_on_signal
  //
  // From now on, signal `signum` (default SIGUSR1) makes this loop log
  // dump_tasks() on its own thread, between callbacks — for a program that
  // seems hung. Installed with libevent's signal events (the handler only
  // writes to libevent's socketpair: async-signal-safe). libevent delivers
  // a signal to one event_base of the process (the last that added it).
  // 0 removes it. A negative signal number is a ValueError; a loop that is
  // closed throws RuntimeError.
  void dump_tasks_on_signal(int signum = SIGUSR1);

  // EventLoop::native_handle: the libevent base, for registering the
  // application's own events.
  event_base* native_handle() const noexcept { return base_; }

  // --- Internal interface (used by the library's own templates) ----------
  // Appends to the ready queue. Callbacks that other threads queued first
  // join it before (one FIFO with call_soon_threadsafe).
  void enqueue(internal::ReadyNode* node) {
    if (threadsafe_pending_.load(std::memory_order_acquire)) drain_threadsafe();
    ready_.push(node);
    if (!in_tick_ && armed_for_ != kArmedNow) arm_tick();
  }
  void enqueue_list(internal::NodeList& list) {
    if (threadsafe_pending_.load(std::memory_order_acquire)) drain_threadsafe();
    ready_.splice(list);
    if (!in_tick_ && armed_for_ != kArmedNow) arm_tick();
  }
  // Runs the forwarding waiters in `list` now, in order, and those their
  // completion forwards to, iteratively (see "Forwarding" in
  // internal/future_state.h). Re-entrant calls append to the queue the
  // outermost call drains.
  void forward(internal::NodeList& list);
  std::int64_t now_ns() const;
  static std::int64_t seconds_to_ns(double seconds);
  // Schedules `slot` (when already set) and takes the reference that
  // slot.node's owner gave for the heap.
  void add_timer(internal::TimerSlot* slot);
  // Removes `slot` if it is still in the heap; true when it was (the caller
  // gets back the heap's reference).
  bool remove_timer(internal::TimerSlot* slot);
  void add_job(internal::ExecutorJob* job);
  // Registers / unregisters a resource that close() releases (see
  // internal::LoopResource). remove_resource on one not registered is a
  // no-op.
  void add_resource(internal::LoopResource* r);
  void remove_resource(internal::LoopResource* r);
  // Counts the I/O waits in progress (armed socket events, name look-ups)
  // that the virtual clock gives a real grace period before it jumps (see
  // "Clocks" in the file comment).
  void add_io_watchers(int delta) noexcept { io_watchers_ += delta; }
  int io_watchers() const noexcept { return io_watchers_; }
  // Brackets a libevent I/O callback of the library (internal::
  // IoCallbackScope): what it makes ready runs at the end, in this pass
  // (see "I/O callbacks" in the file comment). begin_io_callback returns
  // false when already inside one (or inside an iteration): then the end
  // is the outer scope's.
  bool begin_io_callback() noexcept {
    if (in_tick_) return false;
    in_tick_ = true;  // what the callback enqueues does not arm the tick
    return true;
  }
  void end_io_callback();
  void remove_job(internal::ExecutorJob* job);
  void register_task(internal::FutureStateBase* task);
  void unregister_task(internal::FutureStateBase* task);
  internal::FutureStateBase* first_task() const noexcept { return tasks_head_; }
  const std::exception_ptr& closed_error();
  // Runs the exception handler for `context` at the start of the next
  // iteration (at once when the loop is closed). For reports raised where
  // user code must not run, such as a dying future.
  void report_later(ExceptionContext context);
  // Debug mode: RuntimeError when this loop runs in another thread than the
  // caller's (asyncio's _check_thread). `what` names the operation.
  void check_thread(const char* what) const {
    if (debug_.load(std::memory_order_relaxed)) check_thread_slow(what);
  }
  // True when this loop runs in a thread other than the caller's.
  // Thread-safe.
  bool runs_in_other_thread() const noexcept;
  // Debug mode's table of creation sites (futures, tasks, callbacks).
  void record_site(const void* key, SourceLocation where);
  SourceLocation site_of(const void* key) const;
  void forget_site(const void* key) noexcept;

 private:
  static constexpr std::int64_t kArmedNow = INT64_MIN;
  static constexpr int kClockStride = 8;
  static void on_tick(int, short, void* arg);
  static void on_wake(int, short, void* arg);
  void init(Options options);
  void tick();
  void run_once(std::int64_t now);
  void drain_forwards();
  void arm_tick();
  void rearm_after_tick();
  void drain_threadsafe();
  friend struct internal::LoopDoor;
  void drain_discarded();
  void flush_reports();
  void check_can_run();
  void check_thread_slow(const char* what) const;
  // Debug mode's call_soon/call_later/call_at node: a subclass that
  // remembers `where` (the wrong-thread check first).
  template <class Node>
  Node* new_debug_callback(absl::AnyInvocable<void()> cb, SourceLocation where,
                           const char* what);
  void run_batch_debug(internal::ReadyNode* n);
  static void on_dump_signal(int, short, void* arg);
  void heap_up(std::size_t i);
  void heap_down(std::size_t i);
  void heap_swap(std::size_t a, std::size_t b);
  bool heap_less(std::size_t a, std::size_t b) const;

  event_base* base_ = nullptr;
  bool owns_base_ = false;
  event* tick_ev_ = nullptr;
  event* wake_ev_ = nullptr;

  internal::NodeList ready_;
  internal::NodeList forwarding_;  // forwarding waiters to run now
  bool in_forward_ = false;   // drain_forwards() is running
  bool in_callback_ = false;  // run_once() is running a ready callback
  std::vector<internal::TimerSlot*> heap_;
  std::uint64_t timer_seq_ = 0;

  bool in_tick_ = false;
  bool tick_armed_ = false;
  std::int64_t armed_for_ = INT64_MAX;  // loop time the tick is armed for
  std::atomic<bool> running_{false};
  bool stopping_ = false;
  bool closed_ = false;
  bool closing_ = false;
  bool virtual_clock_ = false;
  std::int64_t virtual_now_ = 0;

  // Loop thread only: a drained batch kept for reuse (empty, its vector's
  // capacity kept), or null.
  internal::ThreadsafeBatch* spare_batch_ = nullptr;
  friend class internal::ThreadsafeBatch;
  // Set by the first post after a drain (under the door's mutex), cleared
  // by the drain: the loop thread's cheap check, on every enqueue, that
  // other threads queued callbacks that must run first.
  std::atomic<bool> threadsafe_pending_{false};  // the queue is not empty

  std::shared_ptr<internal::LoopDoor> door_;
  std::shared_ptr<Executor> default_executor_;
  internal::ExecutorJob* jobs_ = nullptr;  // pending executor jobs
  internal::LoopResource* resources_ = nullptr;  // sockets close() releases
  int io_watchers_ = 0;  // see add_io_watchers
  std::vector<std::thread> shutdown_threads_;

  ExceptionHandler exception_handler_;
  std::vector<ExceptionContext> pending_reports_;
  std::exception_ptr closed_error_;

  internal::FutureStateBase* tasks_head_ = nullptr;
  internal::FutureStateBase* tasks_tail_ = nullptr;

  // Debug mode. debug_ and thread_id_ are atomics because the wrong-thread
  // check reads them on the calling thread.
  std::atomic<bool> debug_{false};
  std::atomic<std::thread::id> thread_id_{};
  std::int64_t slow_ns_ = 100'000'000;
  std::unique_ptr<internal::DebugSites> sites_;
  event* dump_ev_ = nullptr;
};

// asyncio::get_running_loop
//
// The loop running in this thread (inside run_forever/run_until_complete,
// or inside the library's callbacks on an adopted base). Throws RuntimeError
// when there is none.
EventLoop& get_running_loop();

// asyncio::new_event_loop: a new loop with the real clock.
std::unique_ptr<EventLoop> new_event_loop();

namespace internal {
// The loop running in this thread, or nullptr.
EventLoop* running_loop() noexcept;
// Sets the running loop for a scope (restores the previous one).
class RunningLoopScope {
 public:
  explicit RunningLoopScope(EventLoop* loop) noexcept;
  ~RunningLoopScope();
  RunningLoopScope(const RunningLoopScope&) = delete;
  RunningLoopScope& operator=(const RunningLoopScope&) = delete;

 private:
  EventLoop* saved_;
};

// A libevent I/O callback of the library: sets the running loop, and runs
// what the callback made ready when it ends (EventLoop::begin_io_callback).
// Declare it first in the callback, so that it ends last.
class IoCallbackScope {
 public:
  explicit IoCallbackScope(EventLoop* loop) noexcept
      : running_(loop), loop_(loop), outer_(loop->begin_io_callback()) {}
  ~IoCallbackScope() {
    if (outer_) loop_->end_io_callback();
  }
  IoCallbackScope(const IoCallbackScope&) = delete;
  IoCallbackScope& operator=(const IoCallbackScope&) = delete;

 private:
  RunningLoopScope running_;
  EventLoop* loop_;
  bool outer_;
};
}  // namespace internal

// --- template bodies -------------------------------------------------------

template <class F>
auto EventLoop::run_until_complete(F&& future, SourceLocation where) {
  using D = std::decay_t<F>;
  if constexpr (internal::FutureLike<D>::value) {
    using T = typename internal::FutureLike<D>::value_t;
    Future<T> fut = std::forward<F>(future);
    if (!fut.valid()) internal::throw_invalid_state("empty Future");
    check_can_run();
    if (&fut.get_loop() != this)
      throw ValueError(
          "The future belongs to a different loop than the one specified "
          "as the loop argument");
    // As asyncio: even a done future stops the loop through its callback,
    // after one iteration.
    std::uint64_t id = fut.add_done_callback([this] { stop(); });
    run_forever();
    if (!fut.done()) {
      fut.remove_done_callback(id);
      throw RuntimeError("Event loop stopped before Future completed.");
    }
    internal::FutureState<T>* s = internal::FutureAccess::state(fut);
    if (s->has_error()) std::rethrow_exception(s->take_error());
    if constexpr (std::is_void_v<T>) {
      return;
    } else {
      s->add_ref();
      fut = Future<T>();  // a sole owner may move the value out
      T value = s->transfer_value();
      s->release();
      return value;
    }
  } else {
    static_assert(std::is_invocable_v<D&>,
                  "run_until_complete takes a future, a task or a callable");
    return run_until_complete(
        create_task(std::forward<F>(future), std::string(), where));
  }
}

}  // namespace asyncio

#endif  // ASYNCIO_EVENT_LOOP_H_
