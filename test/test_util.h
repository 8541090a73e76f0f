// test/test_util.h — helpers shared by the asyncio test files.
//
// Only helpers that two or more test files use live here; a helper one file
// uses stays in that file. Test files bring the names in with
// `using asyncio_test::Name;`.
#ifndef ASYNCIO_TEST_TEST_UTIL_H_
#define ASYNCIO_TEST_TEST_UTIL_H_

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <exception>
#include <string>
#include <vector>

#include "asyncio/asyncio.h"

namespace asyncio_test {

// --- Clocks -----------------------------------------------------------------

// What VirtualClock() returns: converts to EventLoop::Options and to
// RunOptions, both with the virtual clock on, so one helper serves
// `EventLoop loop(VirtualClock())` and `asyncio::run(main, VirtualClock())`.
struct VirtualClockOptions {
  operator asyncio::EventLoop::Options() const {
    return asyncio::EventLoop::Options{true};
  }
  operator asyncio::RunOptions() const { return asyncio::RunOptions{true}; }
};

// Options for a loop (or asyncio::run) on the virtual clock.
inline VirtualClockOptions VirtualClock() { return VirtualClockOptions(); }

// --- Watching the loop ------------------------------------------------------

// Records loop.time() once per libevent pass: an always-readable eventfd
// with a persistent read event. Its callback runs outside the ready queue,
// so it neither keeps the loop busy nor stops the virtual clock's jumps; it
// shows every (virtual) time the loop stopped at. The loop must be stopped
// by something else (the event never goes idle).
class PassRecorder {
 public:
  explicit PassRecorder(asyncio::EventLoop& loop) : loop_(loop) {
    fd_ = ::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    ev_ = event_new(loop.native_handle(), fd_, EV_READ | EV_PERSIST,
                    &PassRecorder::OnReadable, this);
    event_add(ev_, nullptr);
  }
  ~PassRecorder() {
    event_free(ev_);
    ::close(fd_);
  }
  PassRecorder(const PassRecorder&) = delete;
  PassRecorder& operator=(const PassRecorder&) = delete;

  const std::vector<double>& times() const { return times_; }

 private:
  static void OnReadable(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<PassRecorder*>(arg);
    self->times_.push_back(self->loop_.time());
  }

  asyncio::EventLoop& loop_;
  int fd_ = -1;
  event* ev_ = nullptr;
  std::vector<double> times_;
};

// Counts loop iterations: a callback that reschedules itself each time it
// runs. Queued before anything else, it runs first in every iteration, so
// iteration() is the number of the iteration running now. Stop() lets the
// loop go idle (the callback stops rescheduling itself).
class IterationCounter {
 public:
  explicit IterationCounter(asyncio::EventLoop& loop) : loop_(loop) {
    Schedule();
  }
  int iteration() const { return iteration_; }
  void Stop() { stopped_ = true; }

 private:
  void Schedule() {
    loop_.call_soon([this] {
      ++iteration_;
      if (!stopped_) Schedule();
    });
  }

  asyncio::EventLoop& loop_;
  int iteration_ = 0;
  bool stopped_ = false;
};

// --- Cancellation messages --------------------------------------------------
//
// Each returns the message of a CancelledError, or a marker that fails any
// comparison with a real message: "<no exception>" when there is nothing to
// look at, "<not a CancelledError>" when the exception is something else.

// The message of the CancelledError `f()` throws.
template <class F>
std::string CancelMessageThrownBy(F&& f) {
  try {
    f();
  } catch (const asyncio::CancelledError& c) {
    return c.message();
  } catch (...) {
    return "<not a CancelledError>";
  }
  return "<no exception>";
}

// The message of the CancelledError `e` holds.
inline std::string CancelMessageOf(const std::exception_ptr& e) {
  if (!e) return "<no exception>";
  return CancelMessageThrownBy([&e] { std::rethrow_exception(e); });
}

// The message of the CancelledError the future `f` ended with (what
// f.result() throws).
template <class T>
std::string CancelMessage(const asyncio::Future<T>& f) {
  return CancelMessageThrownBy([&f] { f.result(); });
}

}  // namespace asyncio_test

#endif  // ASYNCIO_TEST_TEST_UTIL_H_
