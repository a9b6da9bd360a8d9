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
  auto task = [this, prepared, done] { done(dispatcher_.execute(*prepared)); };
  if (!pool_.trySubmit(task)) {
    done(dispatcher_.refuse(*prepared, Code::Busy, "agent busy: all workers and queue slots taken; retry later"));
  }
}

}  // namespace gdr
