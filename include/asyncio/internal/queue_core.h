// asyncio/internal/queue_core.h — the shared state behind asyncio/queues.h.
// Not part of the public API; include asyncio/queues.h instead.
//
// A queue's core is a WaiterOwner (internal/waiters.h) holding the items,
// in one of three orders (FifoOrder, LifoOrder, PriorityOrder), and three
// intrusive FIFOs of waiters: getters (Waiter<T>), putters (Waiter<void>
// carrying the item they put) and joiners (Waiter<void>). The part that
// does not depend on T — unfinished-task count, joiners, shutdown state,
// handle count — is QueueCoreBase, compiled once in lib/queues.cc.
//
// Invariants, kept by every operation:
//  * getters wait only while no item is stored: a put with a waiting
//    getter hands the item to the first getter instead of storing it;
//  * putters wait only while the queue is full: a get that takes an item
//    stores the first putter's item and completes its future.
// So at most one of the two lists is non-empty, and an item never waits
// in the queue while a getter waits.
//
// A waiter's life (its future's state; linked = in its list):
//
//   getter  linked ──put: handed the item──▶ done ──its consumer cancelled
//             │                                     before it ran──▶ the
//             │                                     item passes on
//             ├──cancel()──▶ unlinked, cancelled     (waiter_dropped)
//             └──shutdown()──▶ unlinked, failed with QueueShutDown
//   putter  as a getter, "a get freed a slot: its item is stored" for the
//           hand-off; a dropped putter passes nothing on (its item is in),
//           a cancelled or failed one drops its item.
//   joiner  linked ──no task left unfinished──▶ done; cancel() as above;
//           shutdown() does not fail it.
//
// A get() on a non-empty queue makes a getter that is done at once (never
// linked): its item passes on the same way if its consumer is cancelled.
//
// Shutdown state machine (CPython 3.13):
//
//     kAlive ──shutdown()──────────────▶ kShutDown ──shutdown(true)──▶ kImmediate
//        └─────shutdown(immediate=true)─────────────────────────────────▲
//
// No transition leaves kImmediate; shutdown() in a state at or past the
// one it asks for only fails the waiters again (there are none).
//
// Ownership. Each public handle holds one reference and counts as one
// handle; each waiter holds one reference (WaiterOwner), and the lists
// hold one reference to each linked waiter. When the last handle goes,
// nobody can put, get or call task_done() any more: the core cancels the
// operations still waiting (orphaned), as the synchronisation primitives
// do (internal/lock_cores.h). That also breaks the cycle core -> linked
// waiter -> core, which would otherwise keep both alive when a waiter's
// future is not awaited by a task.
#ifndef ASYNCIO_INTERNAL_QUEUE_CORE_H_
#define ASYNCIO_INTERNAL_QUEUE_CORE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "asyncio/errors.h"
#include "asyncio/future.h"
#include "asyncio/internal/waiters.h"

namespace asyncio {
namespace internal {

// --- Item orders -------------------------------------------------------------
//
// Each keeps the stored items: push() stores a new item, pop() takes the
// next one out (precondition: !empty()), push_back_head() puts back an item
// that pop() gave and nobody took (where pop() will find it first).

// Queue: first in, first out.
template <class T>
class FifoOrder {
 public:
  bool empty() const noexcept { return items_.empty(); }
  std::size_t size() const noexcept { return items_.size(); }
  void push(T&& item) { items_.push_back(std::move(item)); }
  T pop() {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  void push_back_head(T&& item) { items_.push_front(std::move(item)); }
  void clear() { items_.clear(); }

 private:
  std::deque<T> items_;
};

// LifoQueue: last in, first out (a stack; the head is its top).
template <class T>
class LifoOrder {
 public:
  bool empty() const noexcept { return items_.empty(); }
  std::size_t size() const noexcept { return items_.size(); }
  void push(T&& item) { items_.push_back(std::move(item)); }
  T pop() {
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }
  void push_back_head(T&& item) { push(std::move(item)); }
  void clear() { items_.clear(); }

 private:
  std::vector<T> items_;
};

// PriorityQueue: the lowest item under Compare first (a binary heap, as
// Python's heapq; equal items come out in no particular order).
template <class T, class Compare>
class PriorityOrder {
 public:
  explicit PriorityOrder(Compare comp = Compare()) : heap_{{}, std::move(comp)} {}
  bool empty() const noexcept { return heap_.items.empty(); }
  std::size_t size() const noexcept { return heap_.items.size(); }
  void push(T&& item) {
    heap_.items.push_back(std::move(item));
    std::push_heap(heap_.items.begin(), heap_.items.end(), Greater{&heap_.comp});
  }
  T pop() {
    std::pop_heap(heap_.items.begin(), heap_.items.end(), Greater{&heap_.comp});
    T item = std::move(heap_.items.back());
    heap_.items.pop_back();
    return item;
  }
  void push_back_head(T&& item) { push(std::move(item)); }
  void clear() { heap_.items.clear(); }

 private:
  // std::*_heap keep the greatest item on top; comp reversed keeps the
  // lowest there.
  struct Greater {
    const Compare* comp;
    bool operator()(const T& a, const T& b) const { return (*comp)(b, a); }
  };
  struct Heap {
    std::vector<T> items;
    Compare comp;
  } heap_;
};

// --- The non-template part ---------------------------------------------------

class QueueCoreBase : public WaiterOwner {
 public:
  // What WaiterBase::tag says a waiter is.
  enum WaiterKind : std::uint64_t { kGetter = 0, kPutter = 1, kJoiner = 2 };
  std::string describe_waiter(const WaiterBase* w) const override {
    switch (w->tag) {
      case kGetter:
        return "Queue.get";
      case kPutter:
        return "Queue.put";
      default:
        return "Queue.join";
    }
  }
  enum class Shutdown : std::uint8_t { kAlive, kShutDown, kImmediate };

  explicit QueueCoreBase(std::size_t maxsize) noexcept : maxsize_(maxsize) {}

  std::size_t maxsize() const noexcept { return maxsize_; }
  bool shut_down() const noexcept { return shutdown_ != Shutdown::kAlive; }

  // Queue.task_done(). Throws ValueError when no task is unfinished.
  void task_done();
  // Queue.join(): the shared done future when no task is unfinished, else
  // a joiner. Binds the loop.
  Future<void> join();

  // Handle counting (see "Ownership" above). Each handle also holds a
  // reference, released after the last handle's waiters are forgotten.
  void add_handle() noexcept {
    ++handles_;
    ref();
  }
  void drop_handle() noexcept {
    if (--handles_ == 0) orphaned();
    unref();
  }

 protected:
  ~QueueCoreBase() override = default;

  // An item entered the queue (stored, or handed to a getter).
  void item_added() noexcept { ++unfinished_; }
  // shutdown(immediate=True) dropped `n` items: as many tasks are done,
  // never counting below zero (CPython 3.13). Joiners wake when none is
  // left.
  void items_dropped(std::size_t n);
  void wake_joiners();
  // Moves the state to kShutDown or kImmediate (never back).
  void enter_shutdown(bool immediate) noexcept;
  // Fails every waiter of `list` with `e`, in FIFO order.
  static void fail_all(WaiterList& list, const std::exception_ptr& e);
  // Cancels every waiter of `list` with `e`, in FIFO order; each unlinks
  // itself through waiter_cancelled.
  static void cancel_all(WaiterList& list, const std::exception_ptr& e);
  // The CancelledError of the operations a dropped queue cancels.
  static std::exception_ptr dropped_error();
  // Unlinks the joiner `w` (cancelled while it waited) and drops the
  // list's reference.
  void joiner_cancelled(WaiterBase* w);
  // The last handle is gone: cancel every waiter (the subclass adds its
  // getters and putters).
  virtual void orphaned() noexcept;
  // A new QueueShutDown for failing futures.
  static std::exception_ptr shut_down_error();

  std::size_t maxsize_;
  std::size_t unfinished_ = 0;
  Shutdown shutdown_ = Shutdown::kAlive;
  std::uint32_t handles_ = 1;  // the creating handle
  WaiterList joiners_;
};

// --- The typed core ----------------------------------------------------------

template <class T, class Order>
class QueueCore final : public QueueCoreBase {
 public:
  using GetWaiter = Waiter<T>;
  using PutWaiter = Waiter<void, std::optional<T>>;

  template <class... A>
  explicit QueueCore(std::size_t maxsize, A&&... order_args)
      : QueueCoreBase(maxsize), items_(std::forward<A>(order_args)...) {}

  std::size_t qsize() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  bool full() const noexcept { return maxsize_ > 0 && items_.size() >= maxsize_; }

  Future<void> put(T&& item) {
    EventLoop* loop = bind_loop();
    if (shut_down()) return make_exception_future<void>(*loop, shut_down_error());
    if (!getters_.empty()) {
      hand_to_getter(std::move(item));
      item_added();
      return done_future();
    }
    if (!full()) {
      items_.push(std::move(item));
      item_added();
      return done_future();
    }
    auto* w = new PutWaiter(loop, this);
    Future<void> f = FutureAccess::adopt<void>(w);
    w->tag = kPutter;
    w->payload.emplace(std::move(item));
    putters_.push_back(w);
    return f;
  }

  void put_nowait(T&& item) {
    if (shut_down()) throw QueueShutDown();
    if (!getters_.empty()) {
      hand_to_getter(std::move(item));
      item_added();
      return;
    }
    if (full()) throw QueueFull();
    items_.push(std::move(item));
    item_added();
  }

  Future<T> get() {
    EventLoop* loop = bind_loop();
    if (items_.empty() && shut_down())
      return make_exception_future<T>(*loop, shut_down_error());
    // One state either way: done now (it holds the item), or a getter.
    auto* w = new GetWaiter(loop, this);
    Future<T> f = FutureAccess::adopt<T>(w);
    w->tag = kGetter;
    if (!items_.empty()) {
      w->set_value(take_item());
    } else {
      getters_.push_back(w);
    }
    return f;
  }

  T get_nowait() {
    if (items_.empty()) {
      if (shut_down()) throw QueueShutDown();
      throw QueueEmpty();
    }
    return take_item();
  }

  void shutdown(bool immediate) {
    enter_shutdown(immediate);
    if (immediate) {
      const std::size_t n = items_.size();
      items_.clear();
      items_dropped(n);
    }
    if (getters_.empty() && putters_.empty()) return;
    const std::exception_ptr e = shut_down_error();
    fail_all(getters_, e);  // getters wait only on an empty queue
    for (WaiterBase* w = putters_.front(); w != nullptr; w = w->next_waiter)
      static_cast<PutWaiter*>(w)->payload.reset();  // never inserted
    fail_all(putters_, e);
  }

  void waiter_cancelled(WaiterBase* w) override {
    switch (w->tag) {
      case kGetter:
        getters_.unlink(w);
        break;
      case kPutter:
        putters_.unlink(w);
        static_cast<PutWaiter*>(w)->payload.reset();  // not inserted
        break;
      default:
        joiner_cancelled(w);
        return;
    }
    w->state()->release();  // the list's reference
  }

  void waiter_dropped(WaiterBase* w) override {
    // A putter's item is in the queue already; a joiner was handed nothing.
    if (w->tag != kGetter) return;
    auto* g = static_cast<GetWaiter*>(w);
    if (g->value_taken()) return;  // another consumer of its future took it
    T item = g->take_handed_value();
    if (shutdown_ == Shutdown::kImmediate) {
      items_dropped(1);  // shutdown(immediate=True) would have dropped it
    } else if (!getters_.empty()) {
      hand_to_getter(std::move(item));
    } else {
      items_.push_back_head(std::move(item));
    }
  }

 private:
  ~QueueCore() override = default;

  void hand_to_getter(T&& item) {
    auto* g = static_cast<GetWaiter*>(getters_.pop_front());
    g->set_value(std::move(item));
    g->release();  // the list's reference
  }

  // Takes the next item out; the slot it frees goes to the first putter.
  T take_item() {
    T item = items_.pop();
    if (WaiterBase* w = putters_.pop_front()) {
      auto* p = static_cast<PutWaiter*>(w);
      items_.push(std::move(*p->payload));
      p->payload.reset();
      item_added();
      p->set_value();
      p->release();  // the list's reference
    }
    return item;
  }

  void orphaned() noexcept override {
    if (getters_.empty() && putters_.empty()) {
      QueueCoreBase::orphaned();
      return;
    }
    const std::exception_ptr e = dropped_error();
    cancel_all(getters_, e);
    cancel_all(putters_, e);  // their items are dropped (waiter_cancelled)
    QueueCoreBase::orphaned();
  }

  Order items_;
  WaiterList getters_;
  WaiterList putters_;
};

// A copyable handle to a queue core (as CoreHandle in locks.h, counting
// handles apart from references; see "Ownership" above).
template <class Core>
class QueueHandle {
 public:
  template <class... A>
  explicit QueueHandle(std::size_t maxsize, A&&... order_args)
      : core_(new Core(maxsize, std::forward<A>(order_args)...)) {}
  QueueHandle(const QueueHandle& o) noexcept : core_(o.core_) { core_->add_handle(); }
  QueueHandle& operator=(const QueueHandle& o) noexcept {
    o.core_->add_handle();
    core_->drop_handle();
    core_ = o.core_;
    return *this;
  }
  ~QueueHandle() { core_->drop_handle(); }

 protected:
  Core* core_;
};

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_QUEUE_CORE_H_
