#include "agent/worker_pool.h"

#include <spdlog/spdlog.h>

#include "core/dispatcher.h"

namespace gdr {

WorkerPool::WorkerPool(size_t workers, size_t queueCapacity) : capacity_(queueCapacity) {
  for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  workAvailable_.notify_all();
  for (auto& thread : threads_) thread.join();
}

bool WorkerPool::trySubmit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || queue_.size() >= capacity_) return false;
    queue_.push_back(std::move(task));
  }
  workAvailable_.notify_one();
  return true;
}

void WorkerPool::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    workAvailable_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and nothing left
    auto task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      spdlog::error("worker task threw: {}", e.what());
    }
    lock.lock();
    --running_;
    if (queue_.empty() && running_ == 0) idle_.notify_all();
  }
}

bool WorkerPool::drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  stopping_ = true;
  workAvailable_.notify_all();
  return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && running_ == 0; });
}

size_t WorkerPool::inFlight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size() + running_;
}

void RequestRunner::submit(std::string text, std::string transportFlowId, Done done) {
  auto prepared = std::make_shared<PreparedRequest>(dispatcher_.prepare(text, std::move(transportFlowId)));
  if (shuttingDown_) {
    done(dispatcher_.refuse(*prepared, Code::ShuttingDown, "agent is shutting down; retry on restart"));
    return;
  }
  if (!prepared->needsWorker) {
    done(dispatcher_.execute(*prepared));
    return;
  }
  // Whoever moves the request out of Queued/Running answers it.
  enum Stage : int { Queued, Running, Answered };
  auto stage = std::make_shared<std::atomic<int>>(Queued);
  const long long seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout_).count();
  const std::uint64_t deadline = deadlines_.add(Deadlines::Clock::now() + timeout_, [this, prepared, stage, done,
                                                                                     seconds] {
    int expected = Queued;
    if (stage->compare_exchange_strong(expected, Answered)) {
      spdlog::warn("request not started within {}s; refused", seconds);
      done(dispatcher_.refuse(*prepared, Code::RequestTimeout,
                              "not started within " + std::to_string(seconds) + "s (request_timeout): nothing was done"));
    } else if (expected == Running && stage->exchange(Answered) == Running) {
      spdlog::warn("request still running after {}s; answered RequestTimeout", seconds);
      done(dispatcher_.refuse(*prepared, Code::RequestTimeout,
                              "no reply within " + std::to_string(seconds) +
                                  "s (request_timeout); the call is still running and may complete"));
    }
  });
  auto task = [this, prepared, stage, done, deadline] {
    int expected = Queued;
    if (!stage->compare_exchange_strong(expected, Running)) return;  // timed out in the queue
    auto reply = dispatcher_.execute(*prepared);
    deadlines_.cancel(deadline);
    if (stage->exchange(Answered) == Running) done(std::move(reply));
  };
  if (!pool_.trySubmit(task)) {
    deadlines_.cancel(deadline);
    done(dispatcher_.refuse(*prepared, Code::Busy, "agent busy: all workers and queue slots taken; retry later"));
  }
}

Deadlines::Deadlines() : thread_([this] { loop(); }) {}

Deadlines::~Deadlines() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

std::uint64_t Deadlines::add(Clock::time_point when, std::function<void()> expire) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::uint64_t id = nextId_++;
  pending_.emplace(when, std::make_pair(id, std::move(expire)));
  changed_.notify_all();
  return id;
}

void Deadlines::cancel(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->second.first == id) {
      pending_.erase(it);
      return;
    }
  }
}

void Deadlines::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (pending_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const auto first = pending_.begin();
    if (first->first > Clock::now()) {
      // A copy: cancel() may erase the entry while this waits unlocked.
      const Clock::time_point when = first->first;
      changed_.wait_until(lock, when);
      continue;
    }
    auto expire = std::move(first->second.second);
    pending_.erase(first);
    lock.unlock();
    try {
      expire();
    } catch (const std::exception& e) {
      spdlog::error("deadline handler threw: {}", e.what());
    }
    lock.lock();
  }
}

}  // namespace gdr
