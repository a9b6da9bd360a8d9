#pragma once
// libgfapi behind gfapi::Volume, and the pool that keeps one long-lived
// connection (glfs_t) per (volfile servers, volume). glfs_init takes ~15 ms
// but glfs_fini ~11 s (a known upstream problem), so connections are made
// on first use, reused by every request, re-made after an error, and
// closed only when idle or at shutdown, by a reaper thread, never on a
// request's path.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gfapi/volume.h"

struct glfs;

namespace gdr::gfapi {

class Connection;

class VolumePool {
 public:
  struct Options {
    std::chrono::seconds idleTimeout{300};
    std::string logFile = "/dev/null";  // libgfapi's own log
    int logLevel = 5;                   // gluster's GF_LOG_WARNING
    std::chrono::milliseconds initTimeout{30000};
    // Open connections at most. A new one past it replaces the least
    // recently used idle one, or is refused (Busy) when all are in use.
    size_t maxConnections = 16;
  };

  explicit VolumePool(Options options);
  ~VolumePool();  // shutdown(2 s)

  // Runs `work` on the volume; when it fails with a connection-level error
  // (GfapiConnectFailed or GfapiIOError), the connection is dropped and
  // `work` runs once more on a fresh one. `work` must be safe to repeat.
  template <typename Fn>
  auto with(const std::vector<std::string>& servers, const std::string& volume, Fn&& work) {
    auto connection = acquire(servers, volume);
    try {
      return work(static_cast<Volume&>(*connectionVolume(connection)));
    } catch (const std::exception& e) {
      if (!retryable(e)) throw;
      drop(connection);
    }
    return work(static_cast<Volume&>(*connectionVolume(acquire(servers, volume))));
  }

  // Finishes the pending glfs_fini calls, waiting up to `timeout`. Returns
  // false when some are still running (the process may exit anyway).
  bool shutdown(std::chrono::milliseconds timeout);

  size_t openConnections() const;

 private:
  std::shared_ptr<Connection> acquire(const std::vector<std::string>& servers, const std::string& volume);
  static Volume* connectionVolume(const std::shared_ptr<Connection>& connection);
  static bool retryable(const std::exception& e);
  void drop(const std::shared_ptr<Connection>& connection);
  // Under the lock: below maxConnections, by moving the LRU idle
  // connection into `released`, or throws Busy.
  void makeRoom(std::vector<std::shared_ptr<Connection>>& released);
  void retire(glfs* fs);  // hands a handle to the reaper
  void reap();

  Options options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Connection>> connections_;
  std::deque<glfs*> toFinish_;
  std::condition_variable reaperWake_, reaperIdle_;
  bool stopping_ = false;
  size_t finishing_ = 0;
  std::thread reaper_;
};

}  // namespace gdr::gfapi
