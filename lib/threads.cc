// ThreadPoolExecutor, the loop's default executor, thread_context().
#include "asyncio/threads.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace asyncio {

// --- ThreadPoolExecutor -----------------------------------------------------

struct ThreadPoolExecutor::Shared {
  struct Item {
    absl::AnyInvocable<void()> work;
    absl::AnyInvocable<void()> cancel;
  };

  std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu:
  std::deque<Item> queue;
  std::vector<std::thread> threads;
  int idle = 0;
  bool shut_down = false;
  bool detach_on_destroy = false;

  // A worker: runs items until the queue is empty and the executor is shut
  // down. Holds `self` so the state outlives a destroyed executor.
  static void worker(std::shared_ptr<Shared> self) {
    std::unique_lock<std::mutex> lock(self->mu);
    for (;;) {
      while (self->queue.empty() && !self->shut_down) {
        ++self->idle;
        self->cv.wait(lock);
        --self->idle;
      }
      if (self->queue.empty()) return;  // shut down and drained
      Item item = std::move(self->queue.front());
      self->queue.pop_front();
      lock.unlock();
      item.work();  // never throws: run_in_executor's work captures
      item = Item();  // the work's captures die outside the lock
      lock.lock();
    }
  }
};

namespace {
int default_max_workers() {
  unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::min(32u, (cores == 0 ? 1u : cores) + 4u));
}
}  // namespace

ThreadPoolExecutor::ThreadPoolExecutor(int max_workers)
    : max_workers_(max_workers > 0 ? max_workers : default_max_workers()),
      shared_(std::make_shared<Shared>()) {}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  bool detach;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    detach = shared_->detach_on_destroy;
  }
  if (!detach) {
    shutdown(true, false);
    return;
  }
  // Shut down without waiting: the threads finish on their own (they hold
  // the shared state).
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    threads.swap(shared_->threads);
  }
  for (std::thread& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else if (t.joinable()) {
      t.detach();
    }
  }
}

void ThreadPoolExecutor::submit(absl::AnyInvocable<void()> work,
                                absl::AnyInvocable<void()> cancel) {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (shared_->shut_down)
      throw RuntimeError("cannot schedule new futures after shutdown");
    shared_->queue.push_back(Shared::Item{std::move(work), std::move(cancel)});
    if (shared_->idle == 0 &&
        static_cast<int>(shared_->threads.size()) < max_workers_) {
      shared_->threads.emplace_back(&Shared::worker, shared_);
      return;
    }
  }
  // Signalled after unlocking: a worker woken while the mutex is still
  // held would only block on it again.
  shared_->cv.notify_one();
}

void ThreadPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  std::deque<Shared::Item> dropped;
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->shut_down = true;
    if (cancel_futures) dropped.swap(shared_->queue);
    if (wait) {
      threads.swap(shared_->threads);
    } else {
      shared_->detach_on_destroy = true;
    }
  }
  shared_->cv.notify_all();
  for (Shared::Item& item : dropped) {
    if (item.cancel) item.cancel();
  }
  dropped.clear();
  for (std::thread& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // shut down from one of its own workers
    } else {
      t.join();
    }
  }
}

int ThreadPoolExecutor::threads_started() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return static_cast<int>(shared_->threads.size());
}

// --- Thread context -------------------------------------------------------

namespace {
thread_local const ThreadContext* tls_context = nullptr;
}  // namespace

const ThreadContext& thread_context() {
  static const ThreadContext kEmpty;
  return tls_context != nullptr ? *tls_context : kEmpty;
}

namespace internal {

ThreadContextScope::ThreadContextScope(ThreadContext* ctx) noexcept
    : saved_(tls_context) {
  tls_context = ctx;
}
ThreadContextScope::~ThreadContextScope() { tls_context = saved_; }

std::string current_task_name_or_empty() {
  FutureStateBase* t = tls_current_task;
  return t != nullptr ? t->task_core()->name() : std::string();
}

}  // namespace internal

// --- The loop's default executor ------------------------------------------

void EventLoop::set_default_executor(std::shared_ptr<Executor> executor) {
  default_executor_ = std::move(executor);
}

Executor& EventLoop::default_executor() {
  if (!default_executor_) default_executor_ = std::make_shared<ThreadPoolExecutor>();
  return *default_executor_;
}

Future<void> EventLoop::shutdown_default_executor() {
  if (!default_executor_) return make_ready_future(*this);
  // As asyncio: the threads are joined on a helper thread, so the loop keeps
  // running meanwhile (a worker may still post its result back); the helper
  // posts the completion like any executor job, and a loop closed first
  // ends the future itself (the job is abandoned, the post dropped).
  auto* job = new internal::ExecutorJobState<void>(*this);
  Future<void> result = job->future();
  add_job(job);
  std::shared_ptr<Executor> ex = default_executor_;
  std::shared_ptr<internal::LoopDoor> door = door_;
  shutdown_threads_.emplace_back([ex, door, job] {
    ex->shutdown(true, false);
    door->post([job] { job->complete(Outcome<void>()); });
  });
  return result;
}

}  // namespace asyncio
