// The non-template core of every future: state transitions, callback lists,
// the cancel walk and the unretrieved-exception report.
#include "asyncio/internal/future_state.h"

#include "absl/container/inlined_vector.h"

#include <cassert>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

#include "asyncio/errors.h"
#include "asyncio/event_loop.h"
#include "asyncio/future.h"
#include "asyncio/outcome.h"

namespace asyncio {
namespace internal {

thread_local FutureStateBase* tls_current_task = nullptr;

bool is_cancelled_error(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;  // any other type: not a cancellation
  }
}

void throw_invalid_state(const char* what) { throw InvalidStateError(what); }

std::exception_ptr non_null_error(std::exception_ptr e) {
  if (!e) throw InvalidStateError("an Outcome's exception must not be null");
  return e;
}

EventLoop* running_loop_or_throw() { return &get_running_loop(); }

void enqueue(EventLoop* loop, ReadyNode* node) { loop->enqueue(node); }

const std::exception_ptr& loop_closed_error(EventLoop* loop) {
  return loop->closed_error();
}

void report_callback_exception(EventLoop* loop, std::exception_ptr e) {
  loop->call_exception_handler(
      ExceptionContext{"Exception in callback", std::move(e), std::string()});
}

std::exception_ptr value_taken_error() {
  return std::make_exception_ptr(
      InvalidStateError("the move-only result was already moved out"));
}

Future<void> make_ready_future_void(EventLoop* loop) {
  auto* s = new FutureState<void>(loop);
  s->set_value();
  return FutureAccess::adopt<void>(s);
}

void check_same_loop(FutureStateBase* f, EventLoop* loop) {
  if (f->loop() != loop)
    throw ValueError("futures are tied to different event loops");
}

std::uint64_t next_callback_id() {
  static thread_local std::uint64_t next = 0;
  return ++next;
}

FutureStateBase::~FutureStateBase() { assert(callbacks_tail_ == nullptr); }

void FutureStateBase::destroy() noexcept {
  // One test on the success path: kException and a recorded site each set
  // a flag here.
  if (flags_ & (kHoldsException | kHasSite)) destroy_slow();
  delete this;
}

void FutureStateBase::destroy_slow() noexcept {
  if (state_ == State::kException && !(flags_ & (kRetrieved | kErrorIsCancel))) {
    // asyncio reports this from __del__; we hand it to the loop, which runs
    // the exception handler on its next iteration (never from here).
    const bool is_task = task_core() != nullptr;
    ExceptionContext ctx{
        is_task ? "Task exception was never retrieved"
                : "Future exception was never retrieved",
        error_, describe(), site()};
    loop_->report_later(std::move(ctx));
  }
  if (flags_ & kHasSite) loop_->forget_site(this);
}

std::string FutureStateBase::describe() const { return "Future"; }

SourceLocation FutureStateBase::site() const {
  if (!(flags_ & kHasSite)) return SourceLocation();
  return loop_->site_of(this);
}

std::string FutureStateBase::describe_with_site() const {
  std::string d = describe();
  if (flags_ & kHasSite) d += " created at " + site().str();
  return d;
}

std::string ReadyNode::describe_step() const { return "callback"; }

void FutureStateBase::run() {
  assert(false && "a leaf future state is never queued");
  release();
}

void FutureStateBase::discard() { release(); }

void FutureStateBase::schedule_callbacks() {
  if (callbacks_tail_ == nullptr) return;
  NodeList list;
  list.head = callbacks_tail_->next_;
  list.tail = callbacks_tail_;
  list.tail->next_ = nullptr;
  callbacks_tail_ = nullptr;
  if (!(flags_ & kHasForward)) {
    loop_->enqueue_list(list);
    return;
  }
  // Some waiters take the outcome in this step: they go to the loop's
  // forwarding queue, the rest to the ready queue (both in order).
  flags_ &= ~kHasForward;
  NodeList scheduled;
  NodeList forwarded;
  for (ReadyNode* n = list.head; n != nullptr;) {
    ReadyNode* next = n->next_;
    (n->forwards() ? forwarded : scheduled).push(n);
    n = next;
  }
  if (!scheduled.empty()) loop_->enqueue_list(scheduled);
  if (!forwarded.empty()) loop_->forward(forwarded);
}

void FutureStateBase::set_result_state() {
  assert(state_ == State::kPending);
  state_ = State::kResult;
  schedule_callbacks();
}

void FutureStateBase::set_exception(std::exception_ptr e) {
  const bool is_cancel = is_cancelled_error(e);
  assert(state_ == State::kPending);
  state_ = State::kException;
  flags_ |= kHoldsException;
  error_ = std::move(e);
  if (is_cancel) flags_ |= kErrorIsCancel;
  schedule_callbacks();
}

void FutureStateBase::set_cancel_exception(std::exception_ptr e) {
  assert(state_ == State::kPending);
  state_ = State::kException;
  flags_ |= kHoldsException;
  error_ = std::move(e);
  flags_ |= kErrorIsCancel;
  schedule_callbacks();
}

void FutureStateBase::set_error(std::exception_ptr e, bool is_cancel) {
  if (is_cancel) {
    set_cancelled(std::move(e));
    return;
  }
  assert(state_ == State::kPending);
  state_ = State::kException;
  flags_ |= kHoldsException;
  error_ = std::move(e);
  schedule_callbacks();
}

void FutureStateBase::set_cancelled(std::exception_ptr e) {
  assert(state_ == State::kPending);
  state_ = State::kCancelled;
  error_ = std::move(e);
  schedule_callbacks();
}

bool FutureStateBase::cancel(const std::string& msg) {
  if (done()) {
    // asyncio: cancel() on a done future silences its "never retrieved"
    // report, whatever it returns.
    mark_retrieved();
    return false;
  }
  return cancel_with(std::make_exception_ptr(CancelledError(msg)));
}

bool FutureStateBase::cancel_with(const std::exception_ptr& exc) {
  if (done()) return false;
  // Iterative: each step names the next state up the chain, so cancelling
  // the tail of a chain of any length uses constant stack. The walk holds a
  // reference to every state on its path (a producer's hook may drop the
  // last outside one). A state met twice closes an await cycle (tasks
  // awaiting each other): that state is cancelled where it stands.
  absl::InlinedVector<FutureStateBase*, 8> path;
  FutureStateBase* s = this;
  while (s != nullptr) {
    if (s->flags_ & kInWalk) {
      s->cancel_cycle(exc);
      break;
    }
    s->flags_ |= kInWalk;
    s->add_ref();
    path.push_back(s);
    s = s->cancel_step(exc);
  }
  for (FutureStateBase* t : path) t->flags_ &= ~kInWalk;
  for (FutureStateBase* t : path) t->release();
  return true;
}

void FutureStateBase::clear_cancel_request() noexcept {
  // Follow the same path the cancel walk took; another task's request on
  // the way belongs to that task.
  FutureStateBase* s = this;
  while (s != nullptr && !(s->flags_ & kInWalk)) {
    if (s->flags_ & kMustCancel) {
      s->flags_ &= ~kMustCancel;
      s->error_ = nullptr;
      break;
    }
    s->flags_ |= kInWalk;
    FutureStateBase* w = s->awaiting();
    s = (w == nullptr || w->done() || w->task_core() != nullptr) ? nullptr : w;
  }
  for (FutureStateBase* t = this; t != nullptr && (t->flags_ & kInWalk);
       t = t->awaiting()) {
    t->flags_ &= ~kInWalk;
  }
}

FutureStateBase* FutureStateBase::cancel_step(const std::exception_ptr& exc) {
  set_cancelled(exc);
  on_cancel();
  return nullptr;
}

FutureStateBase* FutureStateBase::stage_cancel_step(
    FutureStateBase* waiting, const std::exception_ptr& exc) {
  if (waiting != nullptr && !waiting->done()) return waiting;
  // What this stage waits on is done (its step is queued) or it is between
  // steps: complete cancelled when the step runs (asyncio's _must_cancel).
  flags_ |= kMustCancel;
  error_ = exc;
  return nullptr;
}

void FutureStateBase::add_callback(ReadyNode* node) {
  if (state_ != State::kPending) {
    loop_->enqueue(node);
  } else if (callbacks_tail_ == nullptr) {
    node->next_ = node;
    callbacks_tail_ = node;
  } else {
    node->next_ = callbacks_tail_->next_;
    callbacks_tail_->next_ = node;
    callbacks_tail_ = node;
  }
}

ReadyNode* FutureStateBase::unlink_callback_if(
    const absl::FunctionRef<bool(ReadyNode*)> match) {
  if (callbacks_tail_ == nullptr) return nullptr;
  ReadyNode* prev = callbacks_tail_;
  do {
    ReadyNode* n = prev->next_;
    if (match(n)) {
      if (n == prev) {
        callbacks_tail_ = nullptr;  // it was the only one
      } else {
        prev->next_ = n->next_;
        if (n == callbacks_tail_) callbacks_tail_ = prev;
      }
      n->next_ = nullptr;
      return n;
    }
    prev = n;
  } while (prev != callbacks_tail_);
  return nullptr;
}

bool FutureStateBase::remove_callback(ReadyNode* node) {
  return unlink_callback_if([node](ReadyNode* n) { return n == node; }) !=
         nullptr;
}

std::size_t FutureStateBase::remove_callback_id(std::uint64_t id) {
  if (id == 0) return 0;  // stages report 0: never a done-callback's id
  ReadyNode* n = unlink_callback_if(
      [id](ReadyNode* c) { return c->callback_id() == id; });
  if (n == nullptr) return 0;
  n->discard();
  return 1;
}

}  // namespace internal

Future<void> make_ready_future() {
  return internal::make_ready_future_void(internal::running_loop_or_throw());
}

Future<void> make_ready_future(EventLoop& loop) {
  return internal::make_ready_future_void(&loop);
}

}  // namespace asyncio
