// asyncio/internal/task_state.h — the state behind Task<T>.
// Not part of the public API; included by asyncio/task.h.
#ifndef ASYNCIO_INTERNAL_TASK_STATE_H_
#define ASYNCIO_INTERNAL_TASK_STATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "asyncio/event_loop.h"
#include "asyncio/future.h"

namespace asyncio {
namespace internal {

std::uint64_t next_task_number();

// The non-template part of a task: its name, its cancel count and its links
// in the loop's registry of pending tasks.
class TaskCore {
 public:
  std::string name() const;
  void set_name(std::string name);

  std::uint64_t number = 0;
  std::unique_ptr<std::string> custom_name;  // null: "Task-<number>"
  FutureStateBase* prev = nullptr;
  FutureStateBase* next = nullptr;
  int cancelling = 0;
  bool registered = false;
};

// A task is a stage whose first step runs the body on a later iteration,
// then waits on what the body returned.
template <class T, class F>
class TaskState final : public StageState<T> {
 public:
  TaskState(EventLoop* loop, F&& body, std::string name)
      : StageState<T>(loop, kNoOwner), body_(std::move(body)) {
    core_.number = next_task_number();
    if (!name.empty()) core_.custom_name = std::make_unique<std::string>(std::move(name));
  }

  TaskCore* task_core() noexcept override { return &core_; }
  std::string describe() const override { return core_.name(); }

  void run() override {
    FutureStateBase* w = this->take_waiting();
    {
      CurrentTaskScope scope(this);
      if (!(this->flags_ & FutureStateBase::kStarted)) {
        this->flags_ |= FutureStateBase::kStarted;
        if (std::exception_ptr e = this->take_cancel_request(nullptr)) {
          this->finish_error(std::move(e), true);  // the body never runs
        } else {
          this->resolve_call([this]() -> decltype(auto) { return (*body_)(); });
        }
        body_.reset();
      } else {
        this->adopt_inner(static_cast<FutureState<T>*>(w));
      }
    }
    if (w) w->release();
    if (this->done()) this->loop_->unregister_task(this);
    this->release();
  }

  void discard() override {
    body_.reset();
    if (core_.registered) this->loop_->unregister_task(this);
    this->discard_stage();
  }

 protected:
  FutureStateBase* cancel_step(const std::exception_ptr& exc) override {
    ++core_.cancelling;
    return StageState<T>::cancel_step(exc);
  }
  void cancel_cycle(const std::exception_ptr& exc) override {
    StageState<T>::cancel_cycle(exc);
    body_.reset();
    if (core_.registered) this->loop_->unregister_task(this);
  }

 private:
  TaskCore core_;
  std::optional<F> body_;
};

}  // namespace internal
}  // namespace asyncio

#endif  // ASYNCIO_INTERNAL_TASK_STATE_H_
