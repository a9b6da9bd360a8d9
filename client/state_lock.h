#pragma once
// One cycle at a time per state dir (per storage domain): an exclusive
// flock(2) on DIR/lock, held while the process lives. The kernel drops it
// when the process dies, kill -9 included, so a crash never leaves the
// domain locked.
#include <string>

namespace gdr::sync {

class StateDirLock {
 public:
  // Takes the lock on `stateDir` (created if absent) without waiting;
  // throws std::runtime_error naming the pid that holds it.
  explicit StateDirLock(const std::string& stateDir);
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace gdr::sync
