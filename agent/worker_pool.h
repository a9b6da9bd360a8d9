#pragma once
// A fixed set of worker threads behind a bounded queue. Work beyond the
// queue's capacity is refused at once (the caller answers "busy"); it is
// never queued without bound and never dropped silently.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace gdr {

class Dispatcher;

class WorkerPool {
 public:
  WorkerPool(size_t workers, size_t queueCapacity);
  ~WorkerPool();  // finishes queued work, then joins

  // False when the queue is full or the pool is stopping.
  bool trySubmit(std::function<void()> task);

  // Stops taking work and waits up to `timeout` for queued and running
  // tasks to finish. Returns true if everything finished.
  bool drain(std::chrono::milliseconds timeout);

  size_t inFlight() const;

 private:
  void loop();

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable workAvailable_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Calls each registered function once its time comes, on a thread of its
// own, unless it was cancelled first.
class Deadlines {
 public:
  using Clock = std::chrono::steady_clock;
  Deadlines();
  ~Deadlines();  // cancels whatever is left

  std::uint64_t add(Clock::time_point when, std::function<void()> expire);
  void cancel(std::uint64_t id);

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::multimap<Clock::time_point, std::pair<std::uint64_t, std::function<void()>>> pending_;
  std::uint64_t nextId_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

// Runs requests for the transports: inline verbs on the caller's thread,
// the rest on the pool; refuses with Busy when the pool is full and with
// ShuttingDown once draining began. A worker request not answered within
// `timeout` is answered RequestTimeout: if it had not started it never
// will; if it is running, it finishes and its late reply is dropped.
// `done` is called exactly once.
class RequestRunner {
 public:
  using Done = std::function<void(std::optional<std::string> reply)>;

  RequestRunner(const Dispatcher& dispatcher, WorkerPool& pool,
                std::chrono::milliseconds timeout = std::chrono::minutes(5))
      : dispatcher_(dispatcher), pool_(pool), timeout_(timeout) {}

  void submit(std::string text, std::string transportFlowId, Done done);

  void beginShutdown() { shuttingDown_ = true; }

 private:
  const Dispatcher& dispatcher_;
  WorkerPool& pool_;
  const std::chrono::milliseconds timeout_;
  std::atomic<bool> shuttingDown_{false};
  Deadlines deadlines_;
};

}  // namespace gdr
