// asyncio/queues.h — Queue, LifoQueue and PriorityQueue: asyncio's queues.
//
//   asyncio::Future<void> main_() {
//     asyncio::Queue<int> queue(8);             // maxsize 8; 0 = unbounded
//     asyncio::Task<void> consumer = asyncio::create_task([queue] {
//       return asyncio::repeat([queue] {        // while True:
//         return queue.get().then([queue](int item) {  // item = await queue.get()
//           std::printf("%d\n", item);
//           queue.task_done();
//           return asyncio::Repeat::CONTINUE;
//         });
//       });
//     });
//     return queue.put(1)                              // await queue.put(1)
//         .then([queue] { return queue.put(2); })      // await queue.put(2)
//         .then([queue] { return queue.join(); })      // await queue.join()
//         .then([consumer] { consumer.cancel(); });
//   }
//
// Contract (CPython 3.13 asyncio.Queue, with the deviations listed below).
//  * A queue is a cheap copyable handle to one shared state; it binds to the
//    running loop at its first put(), get() or join() (using it from
//    another loop afterwards is a RuntimeError, thrown by that call).
//  * put(item) completes when the item is in the queue: at once when the
//    queue is not full (or a getter waits), else when a get frees a slot
//    for it. get() completes with the next item: done at once when the
//    queue holds one, else when a put brings one. The _nowait forms do not
//    wait: put_nowait throws QueueFull, get_nowait throws QueueEmpty.
//  * Fairness: waiting getters, and waiting putters, are served in FIFO
//    order, with hand-off and no barging: put() with a waiting getter
//    completes that getter's future with the item at once (its task resumes
//    on the next iteration, as in CPython), so a get() that comes in
//    between cannot take it; a get() that frees a slot stores the first
//    waiting putter's item and completes that put at once.
//  * Cancellation. A put or get cancelled while it waits leaves the queue
//    at once and never blocks those behind it; a cancelled put inserts
//    nothing. A get that was handed its item and whose task was cancelled
//    before it resumed does not lose the item: it goes back to the head of
//    the queue (LifoQueue: the top; PriorityQueue: back into the heap), or
//    straight to the first waiting getter. This holds for the done future a
//    get() on a non-empty queue returns too. A put whose item was inserted
//    and whose task was cancelled before it resumed leaves its item in the
//    queue (it was inserted when the slot freed).
//  * task_done() counts one item as processed; join() completes when every
//    item that entered the queue was counted (at once when none is
//    unfinished). task_done() with none unfinished is a ValueError.
//  * shutdown(immediate) (3.13): every waiting putter and getter fails with
//    QueueShutDown, as do later put(), put_nowait(), and get() and
//    get_nowait() once the queue is empty; until then gets drain what is
//    left. shutdown(true) also drops the stored items, counting each as a
//    task done (never below zero), which completes join() when none is
//    left unfinished.
//  * put() and get() report QueueShutDown through their future;
//    put_nowait(), get_nowait() and task_done() throw.
//  * An item is moved in and moved out: a move-only T (std::unique_ptr)
//    works. A get()'s future holds its item for one consumer: take it by
//    value (or T&&) in one continuation.
//
// Deviations from CPython, all consequences of the hand-off:
//  * qsize(), empty() and full() do not count an item handed to a waiting
//    getter whose task has not resumed yet (CPython keeps it in the queue
//    until then). So a put() right after a hand-off may store its item
//    where CPython would wait, and an item that comes back from a
//    cancelled getter may take qsize() past maxsize for a while.
//  * A putter's item goes in when the slot frees, not when its task
//    resumes: cancelling its task in between leaves the item in the queue
//    (CPython inserts nothing and wakes the next putter).
//  * An item handed to a getter before shutdown(true) is the getter's
//    (CPython drops it with the queue's items and the getter fails).
//  * The queue binds its loop at the first put(), get() or join(), even
//    one that need not wait (CPython binds when a call has to wait).
//  * maxsize is a std::size_t: 0 means unbounded (Python: <= 0).
//  * Dropping the last handle to a queue cancels the operations still
//    waiting on it (CancelledError "Queue dropped while tasks waited on
//    it"; a waiting put's item is dropped): nothing could complete them
//    any more. CPython leaves them pending. The synchronisation primitives
//    (locks.h) do the same. A queue with waiting operations must not
//    outlive its loop.
//
// Thread affinity: loop thread only. A queue must not be used after its
// loop is closed; one with waiting operations must not outlive its loop.
//
// Ownership: the queue owns its items; a waiting put's future state owns
// that put's item until it is inserted (or dropped, when the put is
// cancelled or the queue shut down).
//
// Cost. put() that need not wait makes no allocation: it returns the
// queue's shared done future. get() makes one allocation, its future's
// state, whether it waits or not: a Future<T> that is done at once must
// hold the item, and a waiting get's state is also its node in the FIFO.
// A put that waits makes one (its state, which carries the item); join()
// one when it waits; the _nowait forms, task_done(), qsize() none. put and
// get are O(1) amortized (PriorityQueue: O(log n)); hand-off and
// cancellation of a waiter are O(1).
#ifndef ASYNCIO_QUEUES_H_
#define ASYNCIO_QUEUES_H_

#include <cstddef>
#include <functional>
#include <utility>

#include "asyncio/errors.h"
#include "asyncio/future.h"
#include "asyncio/internal/queue_core.h"

namespace asyncio {

// asyncio::BasicQueue<T, Order>
//
// The interface of the three queues, which differ only in the order items
// come out in. Use Queue, LifoQueue or PriorityQueue.
template <class T, class Order>
class BasicQueue
    : private internal::QueueHandle<internal::QueueCore<T, Order>> {
 public:
  using value_type = T;

  // BasicQueue::put
  //
  // Completes when `item` is in the queue (see the contract). Fails with
  // QueueShutDown after shutdown(), or when shutdown() comes while it
  // waits. Throws RuntimeError when no loop runs here or the queue is
  // bound to another loop.
  [[nodiscard]] Future<void> put(T item) const {
    return this->core_->put(std::move(item));
  }

  // BasicQueue::put_nowait
  //
  // Precondition: !full(), else throws QueueFull. Throws QueueShutDown
  // after shutdown().
  void put_nowait(T item) const { this->core_->put_nowait(std::move(item)); }

  // BasicQueue::get
  //
  // Completes with the next item (see the contract). Fails with
  // QueueShutDown when the queue is shut down and empty. Throws
  // RuntimeError as put() does.
  [[nodiscard]] Future<T> get() const { return this->core_->get(); }

  // BasicQueue::get_nowait
  //
  // Precondition: !empty(), else throws QueueEmpty (QueueShutDown after
  // shutdown()).
  T get_nowait() const { return this->core_->get_nowait(); }

  // BasicQueue::qsize: the number of items stored (see the deviations).
  std::size_t qsize() const noexcept { return this->core_->qsize(); }
  bool empty() const noexcept { return this->core_->empty(); }
  // BasicQueue::full: maxsize() > 0 and qsize() >= maxsize().
  bool full() const noexcept { return this->core_->full(); }
  std::size_t maxsize() const noexcept { return this->core_->maxsize(); }

  // BasicQueue::task_done
  //
  // Counts one item as processed. Precondition: an item is unfinished,
  // else throws ValueError.
  void task_done() const { this->core_->task_done(); }

  // BasicQueue::join
  //
  // Completes when no item is unfinished. Throws RuntimeError as put()
  // does.
  [[nodiscard]] Future<void> join() const { return this->core_->join(); }

  // BasicQueue::shutdown
  //
  // See the contract. Idempotent; shutdown(true) after shutdown() drops
  // the items left.
  void shutdown(bool immediate = false) const { this->core_->shutdown(immediate); }

  friend bool operator==(const BasicQueue& a, const BasicQueue& b) {
    return a.core_ == b.core_;
  }
  friend bool operator!=(const BasicQueue& a, const BasicQueue& b) {
    return a.core_ != b.core_;
  }

 protected:
  template <class... A>
  explicit BasicQueue(std::size_t maxsize, A&&... order_args)
      : internal::QueueHandle<internal::QueueCore<T, Order>>(
            maxsize, std::forward<A>(order_args)...) {}
};

// asyncio::Queue<T>: first in, first out.
template <class T>
class Queue : public BasicQueue<T, internal::FifoOrder<T>> {
 public:
  explicit Queue(std::size_t maxsize = 0)
      : BasicQueue<T, internal::FifoOrder<T>>(maxsize) {}
};

// asyncio::LifoQueue<T>: last in, first out.
template <class T>
class LifoQueue : public BasicQueue<T, internal::LifoOrder<T>> {
 public:
  explicit LifoQueue(std::size_t maxsize = 0)
      : BasicQueue<T, internal::LifoOrder<T>>(maxsize) {}
};

// asyncio::PriorityQueue<T, Compare>
//
// The lowest item first: the item no other item is Compare-less than
// (std::less: the smallest; std::greater: the largest). Entries are
// typically std::pair<priority, data>, compared lexicographically as
// Python compares tuples. Items that compare equal come out in no
// particular order, as with Python's heapq.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, internal::PriorityOrder<T, Compare>> {
 public:
  explicit PriorityQueue(std::size_t maxsize = 0, Compare comp = Compare())
      : BasicQueue<T, internal::PriorityOrder<T, Compare>>(maxsize,
                                                           std::move(comp)) {}
};

}  // namespace asyncio

#endif  // ASYNCIO_QUEUES_H_
