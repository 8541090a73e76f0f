// asyncio/internal/future-inl.h — template bodies of asyncio/future.h.
// Not part of the public API; include asyncio/future.h instead.
#ifndef ASYNCIO_FUTURE_H_
#error "include asyncio/future.h, not asyncio/internal/future-inl.h"
#endif
#ifndef ASYNCIO_INTERNAL_FUTURE_INL_H_
#define ASYNCIO_INTERNAL_FUTURE_INL_H_

#include <optional>

namespace asyncio {
namespace internal {

template <class>
inline constexpr bool kAlwaysFalse = false;

struct FutureAccess {
  template <class T>
  static FutureState<T>* state(const Future<T>& f) noexcept {
    return f.state_;
  }
  // Wraps `s`, taking over one reference the caller owns.
  template <class T>
  static Future<T> adopt(FutureState<T>* s) noexcept {
    return Future<T>(s);
  }
  // Wraps `s`, adding a reference.
  template <class T>
  static Future<T> share(FutureState<T>* s) noexcept {
    s->add_ref();
    return Future<T>(s);
  }
};

// --- What a continuation returns -------------------------------------------

template <class U>
U future_value_of(const Future<U>*);

template <class R, class = void>
struct FutureLike : std::false_type {};
template <class R>
struct FutureLike<R, std::void_t<decltype(future_value_of(
                         static_cast<const R*>(nullptr)))>> : std::true_type {
  using value_t = decltype(future_value_of(static_cast<const R*>(nullptr)));
};

template <class R>
struct IsOutcome : std::false_type {};
template <class U>
struct IsOutcome<Outcome<U>> : std::true_type {
  using value_t = U;
};

// The value type U of the Future<U> a continuation returning R produces.
template <class R, class = void>
struct ContinuationValue {
  using type = R;
};
template <class R>
struct ContinuationValue<R, std::enable_if_t<FutureLike<R>::value>> {
  using type = typename FutureLike<R>::value_t;
};
template <class R>
struct ContinuationValue<R, std::enable_if_t<IsOutcome<R>::value>> {
  using type = typename IsOutcome<R>::value_t;
};
template <class R>
using continuation_value_t = typename ContinuationValue<std::decay_t<R>>::type;

// The value type of an awaitable argument (gather, wait, ...): Future<T>
// and Task<T> give T; a callable returning R gives what a task over it
// would.
template <class A, class = void>
struct AwaitableValue {
  using type = continuation_value_t<std::invoke_result_t<std::decay_t<A>&>>;
};
template <class A>
struct AwaitableValue<A, std::enable_if_t<FutureLike<std::decay_t<A>>::value>> {
  using type = typename FutureLike<std::decay_t<A>>::value_t;
};
template <class A>
using awaitable_value_t = typename AwaitableValue<A>::type;

// --- Handing the upstream value to a continuation --------------------------

// Calls f with the value of the done, successful state `up` (see "Values and
// several consumers" in future.h).
template <class T, class F>
decltype(auto) call_with_value(F& f, FutureState<T>* up) {
  if constexpr (std::is_void_v<T>) {
    static_assert(std::is_invocable_v<F&>,
                  "a continuation of Future<void> takes no arguments");
    return f();
  } else if constexpr (std::is_invocable_v<F&, const T&>) {
    using RConst = std::invoke_result_t<F&, const T&>;
    if constexpr (std::is_invocable_v<F&, T&&>) {
      if constexpr (std::is_same_v<RConst, std::invoke_result_t<F&, T&&>>) {
        const T& v = up->value_ref();  // throws when already moved out
        if (up->sole_owner()) return f(std::move(const_cast<T&>(v)));
        return f(v);
      } else {
        return f(up->value_ref());
      }
    } else {
      return f(up->value_ref());
    }
  } else if constexpr (std::is_invocable_v<F&, T&&>) {
    return f(up->transfer_value());
  } else {
    static_assert(kAlwaysFalse<F>,
                  "a continuation of Future<T> takes T, const T& or T&&");
  }
}

template <class T, class F>
using then_result_t = std::decay_t<decltype(call_with_value<T>(
    std::declval<F&>(), static_cast<FutureState<T>*>(nullptr)))>;

// The loop's shared "event loop is closed" cancellation, for discarded work.
const std::exception_ptr& loop_closed_error(EventLoop* loop);
// Reports an exception raised by a done-callback (asyncio logs those).
void report_callback_exception(EventLoop* loop, std::exception_ptr e);
std::uint64_t next_callback_id();
// InvalidStateError for reading a move-only value another consumer took.
std::exception_ptr value_taken_error();

// --- Stages -----------------------------------------------------------------

// What a stage received from the future it waited on. `override_error` is
// set when the stage itself was cancelled after that future completed: the
// stage then sees a CancelledError instead of the real outcome.
template <class T>
struct Incoming {
  FutureState<T>* up;
  std::exception_ptr override_error;

  bool failed() const { return override_error || up->has_error(); }
  bool is_cancel() const {
    return override_error ? true : up->error_is_cancel();
  }
  std::exception_ptr error() const {
    return override_error ? override_error : up->take_error();
  }
};

// A state that computes its value by running code: a continuation stage or
// a task. Handles flattening (waiting on an inner future), deferred
// cancellation and the current-task bookkeeping.
struct NoOwner {};
inline constexpr NoOwner kNoOwner{};

template <class U>
class StageState : public FutureState<U> {
 public:
  // A stage belongs to the task running when it is created.
  explicit StageState(EventLoop* loop)
      : FutureState<U>(loop), owner_(tls_current_task) {
    if (owner_) owner_->add_ref();
  }
  // A task is its own owner (not counted: no self-reference).
  StageState(EventLoop* loop, NoOwner) : FutureState<U>(loop), owner_(nullptr) {}

  // Starts waiting on `up`, which already holds a reference for this stage;
  // this stage takes a reference of its own for the callback list.
  void wait_on(FutureStateBase* up) {
    waiting_ = up;
    this->add_ref();
    up->add_callback(this);
  }

  // Runs `c` (user code); completes this state with what it returns, or
  // with what it throws. The one place continuation exceptions are caught.
  template <class C>
  void resolve_call(C&& c) {
    try {
      if constexpr (std::is_void_v<decltype(c())>) {
        c();
        finish_value();
      } else {
        resolve(c());
      }
    } catch (const CancelledError&) {
      finish_error(std::current_exception(), true);
    } catch (...) {
      finish_error(std::current_exception(), false);
    }
  }

  template <class R>
  void resolve(R&& r) {
    using D = std::decay_t<R>;
    if constexpr (FutureLike<D>::value) {
      FutureState<U>* in = FutureAccess::state(static_cast<const Future<U>&>(r));
      if (in == nullptr) throw_invalid_state("a continuation returned an empty future");
      wait_inner(in);
    } else if constexpr (IsOutcome<D>::value) {
      if (r.has_exception()) {
        finish_error(r.exception(), r.cancelled());
      } else if constexpr (std::is_void_v<U>) {
        finish_value();
      } else {
        finish_value(std::forward<R>(r).value());
      }
    } else {
      finish_value(std::forward<R>(r));
    }
  }

  template <class... A>
  void finish_value(A&&... v) {
    if (this->flags_ & FutureStateBase::kMustCancel) {
      finish_requested_cancel();
      return;
    }
    this->set_value(std::forward<A>(v)...);
  }

  void finish_error(std::exception_ptr e, bool is_cancel) {
    if (this->flags_ & FutureStateBase::kMustCancel) {
      this->flags_ &= ~FutureStateBase::kMustCancel;
      this->error_ = nullptr;
    }
    this->set_error(std::move(e), is_cancel);
  }

  void finish_requested_cancel() {
    std::exception_ptr e = std::move(this->error_);
    this->error_ = nullptr;
    this->flags_ &= ~FutureStateBase::kMustCancel;
    this->set_cancelled(std::move(e));
  }

  // Takes the pending cancel request, if any, as the stage resumes after
  // `up` completed: the stage then sees that CancelledError instead of up's
  // outcome — unless up itself ended with a CancelledError, which then flows
  // on with its own message (asyncio's __step). Either way up's outcome
  // counts as retrieved (asyncio's __wakeup reads it).
  std::exception_ptr take_cancel_request(FutureStateBase* up) {
    if (!(this->flags_ & FutureStateBase::kMustCancel)) return nullptr;
    this->flags_ &= ~FutureStateBase::kMustCancel;
    std::exception_ptr e = std::move(this->error_);
    this->error_ = nullptr;
    if (up != nullptr) {
      up->mark_retrieved();
      if (up->error_is_cancel()) return nullptr;
      // The result goes unused: a lock or queue item handed to this
      // stage's waiter passes on (see FutureStateBase::on_result_dropped).
      if (up->state() == State::kResult) up->on_result_dropped();
    }
    return e;
  }

  // After the stage's code ran (outside the current-task scope): a done
  // stage no longer needs its owner.
  void release_owner_if_done() {
    if (this->done()) drop_owner();
  }

  // Second phase of flattening: the inner future completed.
  void adopt_inner(FutureState<U>* in) {
    this->flags_ &= ~FutureStateBase::kPhaseInner;
    if (std::exception_ptr req = take_cancel_request(in)) {
      this->set_cancelled(std::move(req));
    } else if (in->has_error()) {
      finish_error(in->take_error(), in->error_is_cancel());
    } else if constexpr (std::is_void_v<U>) {
      finish_value();
    } else {
      resolve_call([in]() -> U { return in->transfer_value(); });
    }
  }

  bool phase_inner() const {
    return (this->flags_ & FutureStateBase::kPhaseInner) != 0;
  }
  // Called first by run(): what this stage waited on (its reference passes
  // to the caller); the stage is no longer a forwarding waiter.
  FutureStateBase* take_waiting() {
    FutureStateBase* w = waiting_;
    waiting_ = nullptr;
    this->flags_ &= ~FutureStateBase::kForwardWait;
    return w;
  }
  FutureStateBase* owner() const { return owner_; }

 protected:
  ~StageState() override {
    if (waiting_) waiting_->release();
    drop_owner();
  }

  FutureStateBase* cancel_step(const std::exception_ptr& exc) override {
    return this->stage_cancel_step(waiting_, exc);
  }
  FutureStateBase* awaiting() const noexcept override { return waiting_; }

  void cancel_cycle(const std::exception_ptr& exc) override {
    FutureStateBase* w = waiting_;
    this->flags_ &= ~FutureStateBase::kForwardWait;
    if (w != nullptr && !w->done() && w->remove_callback(this)) {
      waiting_ = nullptr;
      w->release();
      this->release();  // the callback list's reference (the walk holds one)
    }
    if (!this->done()) {
      this->flags_ &= ~(FutureStateBase::kMustCancel | FutureStateBase::kPhaseInner);
      this->error_ = nullptr;
      this->set_cancelled(exc);
      drop_owner();
    }
  }

  void wait_inner(FutureState<U>* in) {
    if (in == this) {
      finish_error(std::make_exception_ptr(RuntimeError(
                       "a task or stage cannot await its own future")),
                   false);
      return;
    }
    if (in->loop() != this->loop_) {
      finish_error(std::make_exception_ptr(RuntimeError(
                       "awaited a future attached to a different loop")),
                   false);
      return;
    }
    if (in->done()) {
      // As `await` on a done future in asyncio: no suspension, the stage
      // completes now (its own callbacks still go through the loop).
      in->add_ref();
      adopt_inner(in);
      in->release();
      return;
    }
    in->add_ref();
    this->flags_ |= FutureStateBase::kPhaseInner;
    if ((this->flags_ & FutureStateBase::kMustCancel) &&
        in->cancel_with(this->error_)) {
      // asyncio: the request went to the new awaited future.
      this->flags_ &= ~FutureStateBase::kMustCancel;
      this->error_ = nullptr;
    }
    if (in->is_frame()) {
      if (hand_off_forward_waiter(in)) {
        in->release();
        return;
      }
      // A then-stage is a coroutine frame: its outcome comes up in the step
      // that produces it (see "Forwarding" in future_state.h).
      this->flags_ |= FutureStateBase::kForwardWait;
      in->note_forward_waiter();
    }
    wait_on(in);
  }

  // A tail call. This stage's continuation returned the frame `in`, and the
  // only one who will ever see this stage's outcome is one forwarding
  // waiter (no handle, no other callback: the references are that waiter's
  // and the running step's). This stage's outcome would be `in`'s, passed
  // up unchanged, so the waiter waits on `in` directly and this stage ends
  // here, unobserved, when its step returns. A recursive chain (a function
  // returning `work().then([] { return itself(); })`) thus runs in constant
  // memory, and its outcome climbs one level instead of n. Returns false
  // when the conditions do not hold (the ordinary forwarding applies).
  bool hand_off_forward_waiter(FutureState<U>* in) {
    ReadyNode* only = this->callbacks_tail_;
    if (only == nullptr || only->next_ != only || !only->forwards() ||
        this->refs_ != 2 || !this->is_frame() ||
        (this->flags_ & FutureStateBase::kMustCancel))
      return false;
    // A forwarding waiter of a FutureState<U> is a StageState<U>.
    auto* waiter = static_cast<StageState<U>*>(static_cast<FutureStateBase*>(only));
    if (waiter == in || waiter->waiting_ != this) return false;  // a cycle
    this->callbacks_tail_ = nullptr;  // the waiter's list entry moves to in
    in->add_ref();                    // the waiter's reference to in
    waiter->waiting_ = in;
    in->note_forward_waiter();
    in->add_callback(waiter);
    this->release();  // the waiter's reference to this stage (the step
                      // still holds one: this stage dies when it returns)
    return true;
  }

  // The loop is closed: complete as cancelled without running user code.
  void discard_stage() {
    if (FutureStateBase* w = take_waiting()) {
      w->mark_retrieved();  // this stage was its consumer; it never runs
      w->release();
    }
    if (!this->done()) {
      this->flags_ &= ~FutureStateBase::kMustCancel;
      this->error_ = nullptr;
      this->set_cancelled(loop_closed_error(this->loop_));
      this->mark_retrieved();
    }
    drop_owner();
    this->release();
  }

  void drop_owner() {
    if (owner_) {
      FutureStateBase* o = owner_;
      owner_ = nullptr;
      o->release();
    }
  }

  FutureStateBase* waiting_ = nullptr;
  FutureStateBase* owner_;
};

template <class T, class U, class Kind>
class ThenNode final : public StageState<U> {
 public:
  ThenNode(EventLoop* loop, Kind&& kind)
      : StageState<U>(loop), kind_(std::move(kind)) {
    this->flags_ |= FutureStateBase::kFrame;
  }

  // "continuation in Task-3" (the task whose code created it).
  std::string describe() const override {
    if (this->owner() == nullptr) return "continuation";
    return "continuation in " + this->owner()->describe();
  }

  void run() override {
    FutureStateBase* w = this->take_waiting();
    {
      CurrentTaskScope scope(this->owner());
      if (this->phase_inner()) {
        this->adopt_inner(static_cast<FutureState<U>*>(w));
      } else {
        Incoming<T> in{static_cast<FutureState<T>*>(w),
                       this->take_cancel_request(w)};
        kind_->run(*this, in);
        kind_.reset();  // the continuation and its captures die now
      }
    }
    this->release_owner_if_done();
    w->release();
    this->release();
  }
  void discard() override { this->discard_stage(); }

 private:
  std::optional<Kind> kind_;
};

template <class T, class F>
struct ThenKind {
  F f;
  template <class Node>
  void run(Node& n, Incoming<T>& in) {
    if (in.failed()) {
      n.finish_error(in.error(), in.is_cancel());
      return;
    }
    n.resolve_call([&]() -> decltype(auto) {
      return call_with_value<T>(f, in.up);
    });
  }
};

template <class T>
Outcome<T> incoming_outcome(Incoming<T>& in) {
  if (in.failed()) return Outcome<T>(in.error(), in.is_cancel());
  if constexpr (std::is_void_v<T>) {
    return Outcome<T>();
  } else {
    if (in.up->value_taken()) return Outcome<T>(value_taken_error(), false);
    return Outcome<T>(in.up->transfer_value());
  }
}

template <class T, class F>
struct ThenOutcomeKind {
  F f;
  template <class Node>
  void run(Node& n, Incoming<T>& in) {
    n.resolve_call([&]() -> decltype(auto) {
      return f(incoming_outcome(in));
    });
  }
};

template <class T, class E, class F>
struct CatchKind {
  F f;
  template <class Node>
  void run(Node& n, Incoming<T>& in) {
    if (!in.failed()) {
      if constexpr (std::is_void_v<T>) {
        n.finish_value();
      } else {
        n.resolve_call([&]() -> T { return in.up->transfer_value(); });
      }
      return;
    }
    const bool is_cancel = in.is_cancel();
    std::exception_ptr e = in.error();
    // Like `except Exception` in Python, only a handler for CancelledError
    // (or a class derived from it) sees cancellation.
    if (is_cancel && !std::is_base_of_v<CancelledError, E>) {
      n.finish_error(std::move(e), true);
      return;
    }
    bool matched = false;
    try {
      std::rethrow_exception(e);
    } catch (const E& err) {
      matched = true;
      n.resolve_call([&]() -> decltype(auto) { return f(err); });
    } catch (...) {
      matched = false;  // not an E: forwarded unchanged below
    }
    if (!matched) n.finish_error(std::move(e), is_cancel);
  }
};

template <class T, class U, class Kind>
Future<U> make_stage(FutureState<T>* up, Kind&& kind, SourceLocation where) {
  auto* node = new ThenNode<T, U, std::decay_t<Kind>>(up->loop(),
                                                      std::forward<Kind>(kind));
  // Debug off: one untaken branch. On: the wrong-thread check (which frees
  // the new stage before it throws) and the creation site.
  if (debug_active()) debug_stage_created(node, where, "Future::then");
  up->add_ref();
  node->wait_on(up);
  return FutureAccess::adopt<U>(node);
}

// --- Done-callbacks ---------------------------------------------------------

// A done-callback waiting on (then queued for) `st`; F is called as f(st).
template <class F>
class DoneCallbackNode final : public ReadyNode {
 public:
  DoneCallbackNode(FutureStateBase* st, F&& f)
      : st_(st), id_(next_callback_id()), f_(std::move(f)) {}

  void run() override {
    EventLoop* loop = st_->loop();
    try {
      f_(st_);
    } catch (...) {
      report_callback_exception(loop, std::current_exception());
    }
    st_->release();
    delete this;
  }
  void discard() override {
    st_->release();
    delete this;
  }
  std::uint64_t callback_id() const override { return id_; }
  std::string describe_step() const override {
    return "done-callback of " + st_->describe_with_site();
  }

 private:
  FutureStateBase* st_;
  std::uint64_t id_;
  F f_;
};

// Attaches f (called as f(st)) as a done-callback of `st`; returns its id.
template <class F>
std::uint64_t add_done_callback_node(FutureStateBase* st, F&& f) {
  if (debug_active()) debug_check_thread(st->loop(), "add_done_callback");
  auto* node = new DoneCallbackNode<std::decay_t<F>>(st, std::forward<F>(f));
  st->add_ref();  // the node's, while it waits and runs
  const std::uint64_t id = node->callback_id();
  st->add_callback(node);
  return id;
}

// --- Promise state ----------------------------------------------------------

template <class T>
class PromiseState final : public FutureState<T> {
 public:
  using FutureState<T>::FutureState;
  absl::AnyInvocable<void()> hook_;

 protected:
  void on_cancel() override {
    if (hook_) {
      absl::AnyInvocable<void()> h = std::move(hook_);
      hook_ = nullptr;
      try {
        h();
      } catch (...) {
        // The future is cancelled already; the hook's failure is reported
        // like a callback's, never thrown out of cancel().
        report_callback_exception(this->loop_, std::current_exception());
      }
    }
  }
};

}  // namespace internal

// --- Future<T> --------------------------------------------------------------

template <class T>
Future<T>::Future(const Future& other) noexcept : state_(other.state_) {
  if (state_) state_->add_ref();
}
template <class T>
Future<T>::Future(Future&& other) noexcept : state_(other.state_) {
  other.state_ = nullptr;
}
template <class T>
Future<T>& Future<T>::operator=(const Future& other) noexcept {
  if (other.state_) other.state_->add_ref();
  if (state_) state_->release();
  state_ = other.state_;
  return *this;
}
template <class T>
Future<T>& Future<T>::operator=(Future&& other) noexcept {
  if (this != &other) {
    if (state_) state_->release();
    state_ = other.state_;
    other.state_ = nullptr;
  }
  return *this;
}
template <class T>
Future<T>::~Future() {
  if (state_) state_->release();
}

template <class T>
internal::FutureState<T>* Future<T>::checked() const {
  if (state_ == nullptr) internal::throw_invalid_state("empty Future");
  return state_;
}

template <class T>
bool Future<T>::done() const {
  return checked()->done();
}
template <class T>
bool Future<T>::cancelled() const {
  return checked()->cancelled();
}

template <class T>
typename internal::ResultRef<T>::type Future<T>::result() const {
  internal::FutureState<T>* s = checked();
  switch (s->state()) {
    case internal::State::kPending:
      internal::throw_invalid_state("Result is not set.");
    case internal::State::kResult:
      if constexpr (std::is_void_v<T>) {
        return;
      } else {
        return s->value_ref();
      }
    default:
      std::rethrow_exception(s->take_error());
  }
}

template <class T>
std::exception_ptr Future<T>::exception() const {
  internal::FutureState<T>* s = checked();
  switch (s->state()) {
    case internal::State::kPending:
      internal::throw_invalid_state("Exception is not set.");
    case internal::State::kResult:
      return nullptr;
    case internal::State::kCancelled:
      std::rethrow_exception(s->take_error());
    default:
      return s->take_error();
  }
}

template <class T>
Outcome<T> Future<T>::outcome() const {
  internal::FutureState<T>* s = checked();
  if (!s->done()) internal::throw_invalid_state("Result is not set.");
  if (s->has_error()) return Outcome<T>(s->take_error(), s->error_is_cancel());
  if constexpr (std::is_void_v<T>) {
    return Outcome<T>();
  } else {
    return Outcome<T>(s->read_value_for_handle());
  }
}

template <class T>
bool Future<T>::cancel(const std::string& msg) const {
  internal::FutureState<T>* s = checked();
  if (internal::debug_active())
    internal::debug_check_thread(s->loop(), "Future::cancel");
  return s->cancel(msg);
}

template <class T>
template <class F>
std::uint64_t Future<T>::add_done_callback(F&& cb) const {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&, Future<T>> || std::is_invocable_v<Fn&>,
                "a done-callback takes Future<T> or nothing");
  return internal::add_done_callback_node(
      checked(), [f = Fn(std::forward<F>(cb))](internal::FutureStateBase* s) mutable {
        if constexpr (std::is_invocable_v<Fn&, Future<T>>) {
          f(internal::FutureAccess::share(static_cast<internal::FutureState<T>*>(s)));
        } else {
          f();
        }
      });
}

template <class T>
std::size_t Future<T>::remove_done_callback(std::uint64_t id) const {
  return checked()->remove_callback_id(id);
}

template <class T>
EventLoop& Future<T>::get_loop() const {
  return *checked()->loop();
}

template <class T>
template <class F>
auto Future<T>::then(F&& f, SourceLocation where) const {
  using Fn = std::decay_t<F>;
  using R = internal::then_result_t<T, Fn>;
  using U = internal::continuation_value_t<R>;
  return internal::make_stage<T, U>(
      checked(), internal::ThenKind<T, Fn>{Fn(std::forward<F>(f))}, where);
}

template <class T>
template <class F>
auto Future<T>::then_outcome(F&& f, SourceLocation where) const {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&, Outcome<T>&&>,
                "then_outcome's continuation takes Outcome<T>");
  using R = std::invoke_result_t<Fn&, Outcome<T>&&>;
  using U = internal::continuation_value_t<R>;
  return internal::make_stage<T, U>(
      checked(), internal::ThenOutcomeKind<T, Fn>{Fn(std::forward<F>(f))},
      where);
}

template <class T>
template <class E, class F>
Future<T> Future<T>::catch_error(F&& f, SourceLocation where) const {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&, const E&>,
                "catch_error<E>'s handler takes const E&");
  using R = std::invoke_result_t<Fn&, const E&>;
  static_assert(std::is_same_v<internal::continuation_value_t<R>, T>,
                "catch_error's handler returns T, Future<T> or Outcome<T>");
  return internal::make_stage<T, T>(
      checked(), internal::CatchKind<T, E, Fn>{Fn(std::forward<F>(f))}, where);
}

template <class T>
template <class F>
Future<T> Future<T>::finally(F&& f, SourceLocation where) const {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "finally's callable takes nothing");
  using R = std::decay_t<std::invoke_result_t<Fn&>>;
  return then_outcome(
      [fn = Fn(std::forward<F>(f))](Outcome<T> o) mutable {
        if constexpr (std::is_void_v<R>) {
          fn();
          return o;
        } else {
          static_assert(internal::FutureLike<R>::value,
                        "finally's callable returns void or a future");
          using X = typename internal::FutureLike<R>::value_t;
          return Future<X>(fn()).then_outcome(
              [o = std::move(o)](Outcome<X> r) mutable -> Outcome<T> {
                if (r.has_exception())
                  return Outcome<T>(r.exception(), r.cancelled());
                return std::move(o);
              });
        }
      },
      where);
}

// --- Promise<T> -------------------------------------------------------------

template <class T>
Promise<T>::Promise(SourceLocation where)
    : state_(new internal::PromiseState<T>(internal::running_loop_or_throw())) {
  if (internal::debug_active()) internal::debug_note_created(state_, where);
}

template <class T>
Promise<T>::Promise(EventLoop& loop, SourceLocation where)
    : state_(new internal::PromiseState<T>(&loop)) {
  if (internal::debug_active()) internal::debug_note_created(state_, where);
}

template <class T>
Promise<T>::Promise(Promise&& other) noexcept : state_(other.state_) {
  other.state_ = nullptr;
}

template <class T>
Promise<T>& Promise<T>::operator=(Promise&& other) noexcept {
  if (this != &other) {
    Promise dying(std::move(*this));
    state_ = other.state_;
    other.state_ = nullptr;
  }
  return *this;
}

template <class T>
Promise<T>::~Promise() {
  if (state_ == nullptr) return;
  if (!state_->done() && state_->refs() > 1) {
    state_->hook_ = nullptr;
    state_->set_error(std::make_exception_ptr(BrokenPromise()), false);
  }
  state_->release();
}

template <class T>
internal::PromiseState<T>* Promise<T>::checked() const {
  if (state_ == nullptr) internal::throw_invalid_state("empty Promise");
  return state_;
}

template <class T>
Future<T> Promise<T>::get_future() const {
  return internal::FutureAccess::share<T>(checked());
}

template <class T>
template <class... A>
void Promise<T>::set_result(A&&... value) {
  internal::PromiseState<T>* s = checked();
  if (internal::debug_active())
    internal::debug_check_thread(s->loop(), "Promise::set_result");
  if (s->done()) internal::throw_invalid_state("invalid state: future is done");
  s->hook_ = nullptr;
  s->set_value(std::forward<A>(value)...);
}

template <class T>
void Promise<T>::set_exception(std::exception_ptr e) {
  internal::PromiseState<T>* s = checked();
  if (internal::debug_active())
    internal::debug_check_thread(s->loop(), "Promise::set_exception");
  if (s->done()) internal::throw_invalid_state("invalid state: future is done");
  if (!e) internal::throw_invalid_state("set_exception needs an exception");
  s->hook_ = nullptr;
  s->set_exception(std::move(e));
}

template <class T>
void Promise<T>::set_cancel_hook(absl::AnyInvocable<void()> hook) {
  checked()->hook_ = std::move(hook);
}

template <class T>
bool Promise<T>::done() const {
  return checked()->done();
}
template <class T>
bool Promise<T>::cancelled() const {
  return checked()->cancelled();
}

// --- Ready futures ----------------------------------------------------------

template <class T>
Future<internal::stored_t<T>> make_ready_future(EventLoop& loop, T&& value) {
  using V = internal::stored_t<T>;
  auto* s = new internal::FutureState<V>(&loop);
  Future<V> f = internal::FutureAccess::adopt<V>(s);  // frees s if T throws
  s->set_value(std::forward<T>(value));
  return f;
}

template <class T>
Future<internal::stored_t<T>> make_ready_future(T&& value) {
  return make_ready_future(*internal::running_loop_or_throw(),
                           std::forward<T>(value));
}

template <class T>
Future<T> make_exception_future(EventLoop& loop, std::exception_ptr e) {
  if (!e) internal::throw_invalid_state("make_exception_future needs an exception");
  auto* s = new internal::FutureState<T>(&loop);
  s->set_exception(std::move(e));
  return internal::FutureAccess::adopt<T>(s);
}

template <class T>
Future<T> make_exception_future(std::exception_ptr e) {
  return make_exception_future<T>(*internal::running_loop_or_throw(),
                                  std::move(e));
}

}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_FUTURE_INL_H_
