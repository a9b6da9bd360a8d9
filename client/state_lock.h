#pragma once
// One cycle at a time per state dir (per storage domain): an exclusive
// open-file-description lock (fcntl F_OFD_SETLK) on DIR/lock, held while
// the process lives. A POSIX lock, unlike flock(2), reaches gluster's
// bricks through a FUSE mount, so a state dir on the shared storage volume
// (gluster_shared_storage) is locked for every host of the pool. It is
// dropped when the process dies, kill -9 included, and by the bricks when
// the holder's host stops answering (its client connection goes), so a
// crash never leaves the domain locked.
#include <stdexcept>
#include <string>

namespace gdr::sync {

// The lock is held by another gdr-sync (on this host or another).
class StateDirBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where glusterd's hook mounts gluster_shared_storage on every node.
inline constexpr const char* kSharedStorage = "/run/gluster/shared_storage";

// A state dir under `sharedRoot` needs the volume mounted there: unmounted,
// the path is a directory of this host's own /run, and every host would
// take a lock of its own and run the cycle. Throws std::runtime_error then.
void requireSharedStorageMounted(const std::string& stateDir, const std::string& sharedRoot = kSharedStorage);

class StateDirLock {
 public:
  // Takes the lock on `stateDir` (created if absent) without waiting;
  // throws StateDirBusy naming the holder (host, pid) when another holds
  // it, std::runtime_error when it cannot be taken at all.
  explicit StateDirLock(const std::string& stateDir);
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace gdr::sync
