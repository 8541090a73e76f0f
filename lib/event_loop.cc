// EventLoop: the ready queue, the timer heap and their one libevent timer,
// the cross-thread wake-up, and run/stop/close.
#include "asyncio/event_loop.h"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>

#include "asyncio/debug.h"
#include "asyncio/task.h"
#include "asyncio/threads.h"

namespace asyncio {
namespace {

thread_local EventLoop* tls_running_loop = nullptr;

constexpr std::int64_t kNotArmed = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kImmediate = std::numeric_limits<std::int64_t>::min();

std::string describe_exception(const std::exception_ptr& e) {
  if (!e) return std::string();
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError& c) {
    return "CancelledError: " + c.message();
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";  // not a std::exception: described as such
  }
}

}  // namespace

namespace internal {

// Debug mode's creation sites, by the address of what was created.
struct DebugSites {
  std::unordered_map<const void*, SourceLocation> map;
};

// Decides, before the library's first event_base, whether libevent's debug
// mode goes on (lib/debug.cc).
void before_event_base(bool debug);
// ASYNCIO_CPP_DEBUG is set to a non-empty value (lib/debug.cc).
bool debug_env_enabled();

EventLoop* running_loop() noexcept { return tls_running_loop; }

RunningLoopScope::RunningLoopScope(EventLoop* loop) noexcept
    : saved_(tls_running_loop) {
  tls_running_loop = loop;
}
RunningLoopScope::~RunningLoopScope() { tls_running_loop = saved_; }

void CallbackNode::run() {
  if (!cancelled_) {
    running_ = true;
    try {
      fn_();
    } catch (...) {
      loop_->call_exception_handler(ExceptionContext{
          "Exception in callback", std::current_exception(), std::string()});
    }
    running_ = false;
  }
  fn_ = nullptr;  // captures die once the callback has run
  release();
}

// The callbacks other threads queued, as one drain of the door took them:
// one ready node for the batch instead of one per callback, run in order
// with what the loop thread queued before and after the drain. Each
// callback is still a step of its own: its exception is reported and the
// rest run, and the forwards it started finish before the next one runs
// (as run_once does between ready nodes).
class ThreadsafeBatch final : public ReadyNode {
 public:
  explicit ThreadsafeBatch(EventLoop* loop) : loop_(loop) {}

  void run() override {
    for (absl::AnyInvocable<void()>& fn : fns) {
      loop_->in_callback_ = true;
      try {
        fn();
      } catch (...) {
        loop_->call_exception_handler(ExceptionContext{
            "Exception in callback", std::current_exception(), std::string()});
      }
      fn = nullptr;  // captures die once the callback has run
      loop_->in_callback_ = false;
      if (!loop_->forwarding_.empty()) loop_->drain_forwards();
    }
    loop_->in_callback_ = true;  // run_once clears it after this node
    recycle();
  }
  void discard() override { recycle(); }
  // Debug mode times the batch as one step.
  std::string describe_step() const override {
    return fns.size() == 1 ? std::string("callback from call_soon_threadsafe")
                           : std::to_string(fns.size()) +
                                 " callbacks from call_soon_threadsafe";
  }

  // Back to the loop as its spare (empty, keeping the vector's capacity).
  void recycle() {
    fns.clear();
    if (loop_->spare_batch_ == nullptr) {
      loop_->spare_batch_ = this;
    } else {
      delete this;
    }
  }

  std::vector<absl::AnyInvocable<void()>> fns;

 private:
  EventLoop* loop_;
};

// A callback scheduled in debug mode: its site is in the loop's table for
// as long as it lives. (A subclass, so that plain nodes pay nothing.)
template <class Base>
class SitedNode final : public Base {
 public:
  using Base::Base;
  ~SitedNode() override { this->loop_->forget_site(this); }
  std::string describe_step() const override {
    return "callback scheduled at " + this->loop_->site_of(this).str();
  }
};

void CallbackNode::cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  if (!running_) fn_ = nullptr;
}

void TimerCallbackNode::cancel() {
  CallbackNode::cancel();
  if (loop_->remove_timer(&slot)) release();
}

}  // namespace internal

// --- Handle -----------------------------------------------------------------

Handle::Handle(const Handle& other) noexcept : node_(other.node_) {
  if (node_) node_->add_ref();
}
Handle& Handle::operator=(const Handle& other) noexcept {
  if (other.node_) other.node_->add_ref();
  if (node_) node_->release();
  node_ = other.node_;
  return *this;
}
Handle::Handle(Handle&& other) noexcept : node_(other.node_) {
  other.node_ = nullptr;
}
Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (node_) node_->release();
    node_ = other.node_;
    other.node_ = nullptr;
  }
  return *this;
}
Handle::~Handle() {
  if (node_) node_->release();
}
void Handle::cancel() {
  if (node_) node_->cancel();
}
bool Handle::cancelled() const { return node_ != nullptr && node_->cancelled(); }

double TimerHandle::when() const {
  if (node_ == nullptr) throw InvalidStateError("empty TimerHandle");
  return static_cast<double>(
             static_cast<internal::TimerCallbackNode*>(node_)->slot.when) /
         1e9;
}

// --- EventLoop --------------------------------------------------------------

EventLoop::EventLoop() : EventLoop(Options()) {}

EventLoop::EventLoop(Options options) {
  internal::before_event_base(options.debug || internal::debug_env_enabled());
  base_ = event_base_new();
  if (base_ == nullptr) throw RuntimeError("event_base_new() failed");
  owns_base_ = true;
  init(options);
}

EventLoop::EventLoop(event_base* base, Options options) {
  if (base == nullptr) throw RuntimeError("EventLoop: null event_base");
  base_ = base;
  internal::before_event_base(false);  // events exist already
  init(options);
}

void EventLoop::init(Options options) {
  door_ = std::make_shared<internal::LoopDoor>();
  door_->loop = this;
  virtual_clock_ = options.virtual_clock;
  armed_for_ = kNotArmed;
  tick_ev_ = event_new(base_, -1, 0, &EventLoop::on_tick, this);
  door_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (tick_ev_ == nullptr || door_->wake_fd < 0) {
    if (tick_ev_) event_free(tick_ev_);
    if (owns_base_) event_base_free(base_);
    throw RuntimeError("EventLoop: cannot create internal events");
  }
  wake_ev_ = event_new(base_, door_->wake_fd, EV_READ | EV_PERSIST,
                       &EventLoop::on_wake, this);
  event_add(wake_ev_, nullptr);
  if (options.debug || internal::debug_env_enabled()) set_debug(true);
  if (options.dump_tasks_signal != 0)
    dump_tasks_on_signal(options.dump_tasks_signal);
}

EventLoop::~EventLoop() {
  // Precondition: not running (a loop cannot be destroyed from its own
  // callbacks). close() is idempotent.
  close();
  {
    // Other threads holding the door see the loop gone from now on.
    std::lock_guard<std::mutex> lock(door_->mu);
    door_->loop = nullptr;
  }
  for (std::thread& t : shutdown_threads_) t.join();
  set_debug(false);
  event_free(tick_ev_);
  event_free(wake_ev_);  // the door closes the eventfd when it goes
  delete spare_batch_;
  if (owns_base_) event_base_free(base_);
}

std::unique_ptr<EventLoop> new_event_loop() {
  return std::make_unique<EventLoop>();
}

EventLoop& get_running_loop() {
  if (tls_running_loop == nullptr) throw RuntimeError("no running event loop");
  return *tls_running_loop;
}

std::int64_t EventLoop::now_ns() const {
  if (virtual_clock_) return virtual_now_;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double EventLoop::time() const { return static_cast<double>(now_ns()) / 1e9; }

std::int64_t EventLoop::seconds_to_ns(double seconds) {
  if (std::isnan(seconds)) throw ValueError("delay or time is NaN");
  constexpr double kMax = 9.0e18;
  double ns = seconds * 1e9;
  if (ns > kMax) ns = kMax;
  if (ns < -kMax) ns = -kMax;
  return static_cast<std::int64_t>(std::llround(ns));
}

void EventLoop::check_can_run() {
  // running_ first: another thread may be running this loop, and then
  // nothing else of it may be read here.
  if (running_.load(std::memory_order_acquire))
    throw RuntimeError("This event loop is already running");
  if (closed_) throw RuntimeError("Event loop is closed");
  if (tls_running_loop != nullptr)
    throw RuntimeError(
        "Cannot run the event loop while another loop is running");
}

void EventLoop::run_forever() {
  check_can_run();
  bool expected = false;
  if (!running_.compare_exchange_strong(expected, true,
                                        std::memory_order_acq_rel))
    throw RuntimeError("This event loop is already running");
  internal::RunningLoopScope scope(this);
  thread_id_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  for (;;) {
    // One libevent pass is one iteration: poll I/O, then every active
    // callback (the tick runs the ready batch). After stop() the pass in
    // progress completes; stop() before run_forever() gets one
    // non-blocking pass.
    event_base_loop(base_, stopping_ ? (EVLOOP_ONCE | EVLOOP_NONBLOCK) : EVLOOP_ONCE);
    if (stopping_) break;
  }
  stopping_ = false;
  thread_id_.store(std::thread::id(), std::memory_order_relaxed);
  running_.store(false, std::memory_order_release);
}

void EventLoop::stop() {
  check_thread("EventLoop::stop");
  stopping_ = true;
}

void EventLoop::close() {
  if (running_) throw RuntimeError("Cannot close a running event loop");
  if (closed_) return;
  closed_ = true;
  // Tasks still pending now are dropped below (cancelled without running):
  // reported first, as asyncio reports a task destroyed while pending.
  for (internal::FutureStateBase* t = tasks_head_; t != nullptr;
       t = t->task_core()->next) {
    if (!t->done())
      call_exception_handler(ExceptionContext{
          "Task was destroyed but it is pending!", nullptr, t->describe(),
          t->site()});
  }
  std::vector<absl::AnyInvocable<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(door_->mu);
    door_->closed = true;
    dropped.swap(door_->queue);
    door_->wake_pending = false;
    threadsafe_pending_.store(false, std::memory_order_relaxed);
  }
  dropped.clear();  // destroyed here, outside the lock, never run
  if (tick_armed_) event_del(tick_ev_);
  tick_armed_ = false;
  if (dump_ev_ != nullptr) {
    event_free(dump_ev_);
    dump_ev_ = nullptr;
  }
  armed_for_ = kNotArmed;
  internal::RunningLoopScope scope(this);
  // Timers: their nodes are discarded like queued callbacks.
  std::vector<internal::TimerSlot*> timers;
  timers.swap(heap_);
  for (internal::TimerSlot* slot : timers) {
    slot->index = internal::kNotInHeap;
    ready_.push(slot->node);
  }
  drain_discarded();
  // Executor jobs still running elsewhere: their futures end cancelled; a
  // late result finds the door closed and is dropped on its thread.
  while (jobs_ != nullptr) {
    internal::ExecutorJob* j = jobs_;
    remove_job(j);
    j->abandon();
  }
  drain_discarded();
  // asyncio's close(): the default executor is shut down without waiting.
  if (default_executor_) default_executor_->shutdown(false, false);
  // Tasks still pending wait on futures nobody here will complete: cancel
  // them so that they, and the stages waiting on them, end.
  while (tasks_head_ != nullptr) {
    internal::FutureStateBase* t = tasks_head_;
    t->add_ref();
    closing_ = true;  // what the cancel schedules waits for the drain below
    t->cancel_with(closed_error());
    closing_ = false;
    drain_discarded();
    if (t->task_core()->registered) unregister_task(t);
    t->release();
  }
  drain_discarded();
  // Sockets and their events (streams.h): released now, while the base
  // still exists; what their futures schedule is discarded.
  while (resources_ != nullptr) {
    internal::LoopResource* r = resources_;
    remove_resource(r);
    r->loop_closing();
    drain_discarded();
  }
  flush_reports();
}

void EventLoop::add_resource(internal::LoopResource* r) {
  if (r->resource_registered) return;
  r->prev_resource = nullptr;
  r->next_resource = resources_;
  if (resources_) resources_->prev_resource = r;
  resources_ = r;
  r->resource_registered = true;
}

void EventLoop::remove_resource(internal::LoopResource* r) {
  if (!r->resource_registered) return;
  if (r->prev_resource) {
    r->prev_resource->next_resource = r->next_resource;
  } else {
    resources_ = r->next_resource;
  }
  if (r->next_resource) r->next_resource->prev_resource = r->prev_resource;
  r->prev_resource = r->next_resource = nullptr;
  r->resource_registered = false;
}

void EventLoop::drain_discarded() {
  if (closing_) return;  // an outer drain is running
  closing_ = true;
  while (!ready_.empty()) {
    internal::ReadyNode* n = ready_.head;
    ready_.head = n->next_;
    if (ready_.head == nullptr) ready_.tail = nullptr;
    n->next_ = nullptr;
    n->discard();
  }
  closing_ = false;
}

const std::exception_ptr& EventLoop::closed_error() {
  if (!closed_error_)
    closed_error_ = std::make_exception_ptr(CancelledError("Event loop is closed"));
  return closed_error_;
}

// --- Scheduling ---------------------------------------------------------

Handle EventLoop::call_soon(absl::AnyInvocable<void()> cb,
                           SourceLocation where) {
  if (closed_) throw RuntimeError("Event loop is closed");
  auto* node = get_debug() ? new_debug_callback<internal::CallbackNode>(
                                 std::move(cb), where, "EventLoop::call_soon")
                           : new internal::CallbackNode(this, std::move(cb));
  node->add_ref();  // the queue's
  enqueue(node);
  return Handle(node);
}

TimerHandle EventLoop::call_later(double delay, absl::AnyInvocable<void()> cb,
                                  SourceLocation where) {
  if (closed_) throw RuntimeError("Event loop is closed");
  // As asyncio: call_at(time() + delay), even for a negative delay (such a
  // timer is due at once and sorts before those due now).
  std::int64_t d = seconds_to_ns(delay);
  auto* node = get_debug() ? new_debug_callback<internal::TimerCallbackNode>(
                                 std::move(cb), where, "EventLoop::call_later")
                           : new internal::TimerCallbackNode(this, std::move(cb));
  node->slot.when = now_ns() + d;
  node->slot.node = node;
  node->add_ref();  // the heap's
  add_timer(&node->slot);
  return TimerHandle(node);
}

TimerHandle EventLoop::call_at(double when, absl::AnyInvocable<void()> cb,
                               SourceLocation where) {
  if (closed_) throw RuntimeError("Event loop is closed");
  const std::int64_t when_ns = seconds_to_ns(when);  // may throw ValueError
  auto* node = get_debug() ? new_debug_callback<internal::TimerCallbackNode>(
                                 std::move(cb), where, "EventLoop::call_at")
                           : new internal::TimerCallbackNode(this, std::move(cb));
  node->slot.when = when_ns;
  node->slot.node = node;
  node->add_ref();  // the heap's
  add_timer(&node->slot);
  return TimerHandle(node);
}

void EventLoop::call_soon_threadsafe(absl::AnyInvocable<void()> cb) {
  if (tls_running_loop == this) {
    // On the loop's own thread: straight onto the ready queue, in order
    // with call_soon (asyncio appends to the same queue).
    if (closed_) throw RuntimeError("Event loop is closed");
    enqueue(new internal::CallbackNode(this, std::move(cb)));
    return;
  }
  if (!door_->post(std::move(cb))) throw RuntimeError("Event loop is closed");
}

void EventLoop::on_wake(int fd, short, void* arg) {
  std::uint64_t value;
  ssize_t n;
  do {
    n = ::read(fd, &value, sizeof value);
  } while (n < 0 && errno == EINTR);
  auto* loop = static_cast<EventLoop*>(arg);
  loop->drain_threadsafe();
  // The callbacks run in this libevent pass, right after the poll that
  // saw the wake-up (asyncio runs them in the iteration whose select saw
  // its self-pipe), instead of arming the tick for one more pass.
  if (!loop->in_tick_ && !loop->ready_.empty()) loop->tick();
}

void EventLoop::end_io_callback() {
  in_tick_ = false;
  // After stop() the pass only finishes: what is ready waits for the next
  // run, as from any other callback.
  if (!stopping_ && !closed_ && !ready_.empty()) {
    tick();
  } else {
    arm_tick();
  }
}

void EventLoop::drain_threadsafe() {
  internal::ThreadsafeBatch* batch = spare_batch_;
  spare_batch_ = nullptr;
  if (batch == nullptr) batch = new internal::ThreadsafeBatch(this);
  {
    std::lock_guard<std::mutex> lock(door_->mu);
    // The door keeps the batch's empty vector (and its capacity).
    batch->fns.swap(door_->queue);
    door_->wake_pending = false;
    threadsafe_pending_.store(false, std::memory_order_relaxed);
  }
  // A closed loop emptied the queue under the lock and takes no more.
  if (batch->fns.empty()) {
    batch->recycle();
  } else {
    ready_.push(batch);
  }
}

void EventLoop::forward(internal::NodeList& list) {
  forwarding_.splice(list);
  // While a ready callback runs, its forwards wait until it returns (still
  // in the same step): the completed frame's own run() then no longer
  // holds it, so a sole waiter can move its value out instead of copying.
  if (in_forward_ || in_callback_) return;
  drain_forwards();
}

void EventLoop::drain_forwards() {
  in_forward_ = true;
  while (!forwarding_.empty()) {
    internal::ReadyNode* n = forwarding_.head;
    forwarding_.head = n->next_;
    if (forwarding_.head == nullptr) forwarding_.tail = nullptr;
    n->next_ = nullptr;
    // Forwarding runs no user code (and so throws nothing): a stage or task
    // takes the outcome of the frame it waited on.
    if (closed_) {
      n->discard();
    } else {
      n->run();
    }
  }
  in_forward_ = false;
}

void EventLoop::report_later(ExceptionContext context) {
  if (closed_) {
    call_exception_handler(context);
    return;
  }
  pending_reports_.push_back(std::move(context));
  if (!in_tick_) arm_tick();
}

void EventLoop::flush_reports() {
  while (!pending_reports_.empty()) {
    std::vector<ExceptionContext> batch;
    batch.swap(pending_reports_);
    for (const ExceptionContext& c : batch) call_exception_handler(c);
  }
}

void EventLoop::set_exception_handler(ExceptionHandler handler) {
  exception_handler_ = std::move(handler);
}

void EventLoop::call_exception_handler(const ExceptionContext& context) {
  if (!exception_handler_) {
    default_exception_handler(context);
    return;
  }
  try {
    exception_handler_(*this, context);
  } catch (...) {
    default_exception_handler(ExceptionContext{
        "Unhandled error in exception handler", std::current_exception(),
        std::string()});
    default_exception_handler(context);
  }
}

void EventLoop::default_exception_handler(const ExceptionContext& context) {
  // asyncio's default handler logs an error: one line here.
  std::string line = context.message;
  if (!context.future.empty()) line += "; future: " + context.future;
  if (context.created_at.known())
    line += " created at " + context.created_at.str();
  if (context.exception)
    line += "; exception: " + describe_exception(context.exception);
  log(LogRecord{LogLevel::kError, std::move(line), context.created_at});
}

// --- The iteration --------------------------------------------------------

void EventLoop::on_tick(int, short, void* arg) {
  static_cast<EventLoop*>(arg)->tick();
}

// One libevent pass of the tick runs iterations back to back while
// callbacks are ready, up to kIterationsPerPoll of them or kPollIntervalNs
// of real time, then returns to libevent, which polls I/O (without blocking while callbacks
// are ready). With nothing ready the pass ends at once and libevent blocks
// until the next timer or I/O event.
void EventLoop::tick() {
  tick_armed_ = false;
  armed_for_ = kNotArmed;
  if (closed_) return;
  internal::RunningLoopScope scope(this);
  in_tick_ = true;
  // The real clock is read only when a timer may be due, and every
  // kClockStride iterations for the poll interval: a pass with no timer
  // (one I/O callback's continuations) reads it not at all.
  constexpr std::int64_t kUnread = std::numeric_limits<std::int64_t>::min();
  std::int64_t now = (virtual_clock_ || !heap_.empty()) ? now_ns() : kUnread;
  std::int64_t poll_by = now == kUnread ? kUnread : now + kPollIntervalNs;
  for (int i = 1;; ++i) {
    run_once(now);
    if (stopping_ || ready_.empty() || i == kIterationsPerPoll) break;
    if (virtual_clock_) {
      now = virtual_now_;  // only an empty ready queue moves it
    } else if ((!heap_.empty() && heap_[0]->when > now) ||
               i % kClockStride == 0) {
      // The clock is read when a timer may have come due (so a due timer
      // runs on the next iteration, as in asyncio), and every kClockStride
      // iterations for the poll interval.
      now = now_ns();
      if (poll_by == kUnread) poll_by = now + kPollIntervalNs;
      if (now >= poll_by) break;
    }
  }
  in_tick_ = false;
  arm_tick();
}

// One asyncio iteration (_run_once), without the I/O poll.
void EventLoop::run_once(std::int64_t now) {
  if (!pending_reports_.empty()) flush_reports();
  // Callbacks other threads queued before this iteration join its batch.
  if (threadsafe_pending_.load(std::memory_order_acquire)) drain_threadsafe();
  if (virtual_clock_ && ready_.empty() && !heap_.empty() &&
      heap_[0]->when > now) {
    virtual_now_ = now = heap_[0]->when;  // nothing ready: jump
  }
  while (!heap_.empty() && heap_[0]->when <= now) {
    internal::TimerSlot* slot = heap_[0];
    heap_swap(0, heap_.size() - 1);
    heap_.pop_back();
    slot->index = internal::kNotInHeap;
    if (!heap_.empty()) heap_down(0);
    ready_.push(slot->node);
  }
  // Run exactly what is ready now; what these schedule waits for the next
  // iteration.
  internal::ReadyNode* n = ready_.take_all();
  if (debug_.load(std::memory_order_relaxed)) {
    run_batch_debug(n);
    return;
  }
  while (n != nullptr) {
    internal::ReadyNode* next = n->next_;
    n->next_ = nullptr;
    in_callback_ = true;
    n->run();
    in_callback_ = false;
    if (!forwarding_.empty()) drain_forwards();
    n = next;
  }
}

void EventLoop::arm_tick() {
  if (closed_) {
    drain_discarded();
    return;
  }
  std::int64_t want;
  if (!ready_.empty() || !pending_reports_.empty()) {
    want = kImmediate;
  } else if (virtual_clock_ && !heap_.empty()) {
    // The virtual clock jumps at once, unless real I/O is awaited: then
    // the tick waits a real grace period, polling I/O meanwhile (see "The
    // virtual clock and real I/O" in event_loop.h). An I/O callback that
    // makes work ready re-arms the tick for now.
    want = (io_watchers_ > 0 && heap_[0]->when > virtual_now_)
               ? virtual_now_ + kVirtualIoGraceNs
               : kImmediate;
  } else if (!heap_.empty()) {
    want = heap_[0]->when;
  } else {
    return;  // nothing to do; an armed tick may stay (a harmless wake-up)
  }
  if (tick_armed_ && armed_for_ <= want) return;
  timeval tv{0, 0};
  if (want != kImmediate) {
    std::int64_t delta = want - now_ns();
    if (delta > 0) {
      std::int64_t us = (delta + 999) / 1000;  // round up: never early
      tv.tv_sec = static_cast<time_t>(us / 1000000);
      tv.tv_usec = static_cast<suseconds_t>(us % 1000000);
    }
  }
  event_add(tick_ev_, &tv);
  tick_armed_ = true;
  armed_for_ = want;
}

// --- Timer heap (binary min-heap on (when, seq), with back-indices) -------

bool EventLoop::heap_less(std::size_t a, std::size_t b) const {
  const internal::TimerSlot* x = heap_[a];
  const internal::TimerSlot* y = heap_[b];
  return x->when < y->when || (x->when == y->when && x->seq < y->seq);
}

void EventLoop::heap_swap(std::size_t a, std::size_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->index = a;
  heap_[b]->index = b;
}

void EventLoop::heap_up(std::size_t i) {
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!heap_less(i, parent)) break;
    heap_swap(i, parent);
    i = parent;
  }
}

void EventLoop::heap_down(std::size_t i) {
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t l = 2 * i + 1;
    if (l >= n) break;
    std::size_t m = l;
    if (l + 1 < n && heap_less(l + 1, l)) m = l + 1;
    if (!heap_less(m, i)) break;
    heap_swap(i, m);
    i = m;
  }
}

void EventLoop::add_timer(internal::TimerSlot* slot) {
  slot->seq = ++timer_seq_;
  slot->index = heap_.size();
  heap_.push_back(slot);
  heap_up(slot->index);
  if (!in_tick_ && slot->index == 0) arm_tick();
}

bool EventLoop::remove_timer(internal::TimerSlot* slot) {
  std::size_t i = slot->index;
  if (i == internal::kNotInHeap) return false;
  const std::size_t last = heap_.size() - 1;
  if (i != last) {
    heap_swap(i, last);
    heap_.pop_back();
    heap_down(i);
    heap_up(i);
  } else {
    heap_.pop_back();
  }
  slot->index = internal::kNotInHeap;
  return true;
}

// --- Executor jobs ----------------------------------------------------------

void EventLoop::add_job(internal::ExecutorJob* job) {
  job->prev_job = nullptr;
  job->next_job = jobs_;
  if (jobs_) jobs_->prev_job = job;
  jobs_ = job;
}

void EventLoop::remove_job(internal::ExecutorJob* job) {
  if (job->prev_job) {
    job->prev_job->next_job = job->next_job;
  } else {
    jobs_ = job->next_job;
  }
  if (job->next_job) job->next_job->prev_job = job->prev_job;
  job->prev_job = job->next_job = nullptr;
}

internal::LoopDoor::~LoopDoor() {
  if (wake_fd >= 0) ::close(wake_fd);
}

bool internal::LoopDoor::post(absl::AnyInvocable<void()> cb) {
  {
    std::lock_guard<std::mutex> lock(mu);
    // Closed or gone: false, and cb (a parameter) is destroyed after the
    // lock is released.
    if (loop == nullptr || closed) return false;
    queue.push_back(std::move(cb));
    if (wake_pending) return true;  // the loop is woken already
    wake_pending = true;
    // Release: a loop-thread call_soon that happens after this post sees
    // the flag and splices the queue in first (one FIFO, as in asyncio).
    // Later posts leave the flag (and the loop's cache line) alone.
    loop->threadsafe_pending_.store(true, std::memory_order_release);
  }
  {
    std::uint64_t one = 1;
    ssize_t n;
    do {
      n = ::write(wake_fd, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    // EAGAIN means the counter is already non-zero: the loop will wake.
  }
  return true;
}

// --- Task registry ----------------------------------------------------------

void EventLoop::register_task(internal::FutureStateBase* task) {
  internal::TaskCore* core = task->task_core();
  task->add_ref();
  core->prev = tasks_tail_;
  core->next = nullptr;
  if (tasks_tail_) {
    tasks_tail_->task_core()->next = task;
  } else {
    tasks_head_ = task;
  }
  tasks_tail_ = task;
  core->registered = true;
}

void EventLoop::unregister_task(internal::FutureStateBase* task) {
  internal::TaskCore* core = task->task_core();
  if (!core->registered) return;
  if (core->prev) {
    core->prev->task_core()->next = core->next;
  } else {
    tasks_head_ = core->next;
  }
  if (core->next) {
    core->next->task_core()->prev = core->prev;
  } else {
    tasks_tail_ = core->prev;
  }
  core->prev = core->next = nullptr;
  core->registered = false;
  task->release();
}

}  // namespace asyncio

// --- Debug mode -------------------------------------------------------------

namespace asyncio {

void EventLoop::set_debug(bool enabled) {
  if (enabled == debug_.load(std::memory_order_relaxed)) return;
  if (enabled && !sites_) sites_ = std::make_unique<internal::DebugSites>();
  debug_.store(enabled, std::memory_order_relaxed);
  internal::g_debug_loops.fetch_add(enabled ? 1 : -1, std::memory_order_relaxed);
}

void EventLoop::set_slow_callback_duration(double seconds) {
  if (!(seconds >= 0))
    throw ValueError("slow_callback_duration must be a number >= 0");
  slow_ns_ = seconds_to_ns(seconds);
}

bool EventLoop::runs_in_other_thread() const noexcept {
  // As asyncio: only a loop that runs has a thread to compare with.
  if (!running_.load(std::memory_order_acquire)) return false;
  const std::thread::id owner = thread_id_.load(std::memory_order_relaxed);
  return owner != std::thread::id() && owner != std::this_thread::get_id();
}

void EventLoop::check_thread_slow(const char* what) const {
  if (!runs_in_other_thread()) return;
  throw RuntimeError(
      std::string("Non-thread-safe operation invoked on an event loop other "
                  "than the current one: ") +
      what);
}

template <class Node>
Node* EventLoop::new_debug_callback(absl::AnyInvocable<void()> cb,
                                    SourceLocation where, const char* what) {
  check_thread_slow(what);
  auto* node = new internal::SitedNode<Node>(this, std::move(cb));
  record_site(node, where);
  return node;
}

void EventLoop::record_site(const void* key, SourceLocation where) {
  if (!sites_) sites_ = std::make_unique<internal::DebugSites>();
  sites_->map[key] = where;
}

SourceLocation EventLoop::site_of(const void* key) const {
  if (!sites_) return SourceLocation();
  auto it = sites_->map.find(key);
  return it == sites_->map.end() ? SourceLocation() : it->second;
}

void EventLoop::forget_site(const void* key) noexcept {
  if (sites_) sites_->map.erase(key);
}

// The debug-mode batch: as run_once's loop, timing each callback on the
// real clock (asyncio's _run_once with _debug). The description is taken
// before the callback runs: the node may be gone after.
void EventLoop::run_batch_debug(internal::ReadyNode* n) {
  while (n != nullptr) {
    internal::ReadyNode* next = n->next_;
    n->next_ = nullptr;
    std::string what = n->describe_step();
    const auto t0 = std::chrono::steady_clock::now();
    in_callback_ = true;
    n->run();
    in_callback_ = false;
    if (!forwarding_.empty()) drain_forwards();
    const std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now() - t0)
                                .count();
    if (ns >= slow_ns_) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.3f", static_cast<double>(ns) / 1e9);
      log(LogRecord{LogLevel::kWarning,
                    "Executing " + what + " took " + secs + " seconds",
                    SourceLocation()});
    }
    n = next;
  }
}

void EventLoop::dump_tasks_on_signal(int signum) {
  if (signum < 0) throw ValueError("dump_tasks_on_signal: negative signal");
  if (closed_) throw RuntimeError("Event loop is closed");
  if (dump_ev_ != nullptr) {
    event_free(dump_ev_);
    dump_ev_ = nullptr;
  }
  if (signum == 0) return;
  dump_ev_ = evsignal_new(base_, signum, &EventLoop::on_dump_signal, this);
  if (dump_ev_ == nullptr || event_add(dump_ev_, nullptr) != 0) {
    if (dump_ev_ != nullptr) event_free(dump_ev_);
    dump_ev_ = nullptr;
    throw ValueError("dump_tasks_on_signal: cannot watch signal " +
                     std::to_string(signum));
  }
}

void EventLoop::on_dump_signal(int, short, void* arg) {
  // libevent calls this from its loop, on the loop's thread, after its
  // async-signal-safe handler wrote to its socketpair.
  auto* loop = static_cast<EventLoop*>(arg);
  internal::RunningLoopScope scope(loop);
  dump_tasks(*loop);
}

}  // namespace asyncio
