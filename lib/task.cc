// Task bookkeeping: numbers and names, AnyTask, current_task, all_tasks.
#include <atomic>
#include <string>
#include <vector>

#include "asyncio/task.h"

namespace asyncio {
namespace internal {

std::uint64_t next_task_number() {
  // asyncio numbers tasks process-wide (Task-1, Task-2, ...).
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::string TaskCore::name() const {
  if (custom_name) return *custom_name;
  return "Task-" + std::to_string(number);
}

void TaskCore::set_name(std::string name) {
  custom_name = std::make_unique<std::string>(std::move(name));
}

}  // namespace internal

std::uint64_t AnyTask::add_done_callback(absl::AnyInvocable<void()> cb) const {
  return internal::add_done_callback_node(
      checked(), [cb = std::move(cb)](internal::FutureStateBase*) mutable { cb(); });
}

AnyTask::AnyTask(internal::FutureStateBase* state) noexcept : state_(state) {
  if (state_) state_->add_ref();
}
AnyTask::AnyTask(const AnyTask& other) noexcept : AnyTask(other.state_) {}
AnyTask& AnyTask::operator=(const AnyTask& other) noexcept {
  if (other.state_) other.state_->add_ref();
  if (state_) state_->release();
  state_ = other.state_;
  return *this;
}
AnyTask::AnyTask(AnyTask&& other) noexcept : state_(other.state_) {
  other.state_ = nullptr;
}
AnyTask& AnyTask::operator=(AnyTask&& other) noexcept {
  if (this != &other) {
    if (state_) state_->release();
    state_ = other.state_;
    other.state_ = nullptr;
  }
  return *this;
}
AnyTask::~AnyTask() {
  if (state_) state_->release();
}

internal::FutureStateBase* AnyTask::checked() const {
  if (state_ == nullptr) throw InvalidStateError("empty AnyTask");
  return state_;
}

bool AnyTask::done() const { return checked()->done(); }
bool AnyTask::cancelled() const { return checked()->cancelled(); }
bool AnyTask::cancel(const std::string& msg) const {
  return checked()->cancel(msg);
}
std::exception_ptr AnyTask::exception() const {
  internal::FutureStateBase* s = checked();
  switch (s->state()) {
    case internal::State::kPending:
      throw InvalidStateError("Exception is not set.");
    case internal::State::kResult:
      return nullptr;
    case internal::State::kCancelled:
      std::rethrow_exception(s->take_error());
    default:
      return s->take_error();
  }
}
std::string AnyTask::get_name() const {
  return checked()->task_core()->name();
}
void AnyTask::set_name(std::string name) const {
  checked()->task_core()->set_name(std::move(name));
}
int AnyTask::cancelling() const { return checked()->task_core()->cancelling; }
int AnyTask::uncancel() const {
  internal::TaskCore* c = checked()->task_core();
  if (c->cancelling > 0 && --c->cancelling == 0)
    checked()->clear_cancel_request();
  return c->cancelling;
}
EventLoop& AnyTask::get_loop() const { return *checked()->loop(); }

AnyTask current_task() {
  get_running_loop();  // throws RuntimeError outside a running loop
  return AnyTask(internal::tls_current_task);
}

std::vector<AnyTask> all_tasks(EventLoop& loop) {
  std::vector<AnyTask> out;
  for (internal::FutureStateBase* t = loop.first_task(); t != nullptr;
       t = t->task_core()->next) {
    if (!t->done()) out.emplace_back(t);
  }
  return out;
}

std::vector<AnyTask> all_tasks() { return all_tasks(get_running_loop()); }

}  // namespace asyncio
