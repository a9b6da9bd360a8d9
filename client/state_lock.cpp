#include "client/state_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace gdr::sync {

StateDirLock::StateDirLock(const std::string& stateDir) {
  std::error_code error;
  std::filesystem::create_directories(stateDir, error);
  const std::string path = stateDir + "/lock";
  // O_CLOEXEC: an alert command gdr-sync runs must not hold the lock on.
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    char pid[32] = "";
    const ssize_t got = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (why == EWOULDBLOCK) {
      std::string holder(pid, got > 0 ? size_t(got) : 0);
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      throw std::runtime_error("another gdr-sync runs a cycle on " + stateDir +
                               (holder.empty() ? std::string() : " (pid " + holder + ")"));
    }
    throw std::runtime_error("cannot lock " + path + ": " + std::strerror(why));
  }
  // Who holds it, for the message above (advice only: the flock decides).
  const std::string self = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, self.data(), self.size(), 0);
}

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace gdr::sync
