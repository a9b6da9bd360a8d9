#include "client/state_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

namespace gdr::sync {

namespace {

// The whole file, for writing, held by this open file description.
bool tryLock(int fd) {
  struct flock whole {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  whole.l_start = 0;
  whole.l_len = 0;
  return ::fcntl(fd, F_OFD_SETLK, &whole) == 0;
}

std::string hostName() {
  char name[HOST_NAME_MAX + 1] = "";
  if (::gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

}  // namespace

void requireSharedStorageMounted(const std::string& stateDir, const std::string& sharedRoot) {
  const std::string dir = std::filesystem::path(stateDir).lexically_normal().string();
  const std::string root = std::filesystem::path(sharedRoot).lexically_normal().string();
  if (dir != root && dir.compare(0, root.size() + 1, root + "/") != 0) return;
  struct stat self {}, parent {};
  const std::string up = std::filesystem::path(root).parent_path().string();
  if (::stat(root.c_str(), &self) != 0 || ::stat(up.c_str(), &parent) != 0 || self.st_dev == parent.st_dev) {
    throw std::runtime_error("the state dir " + stateDir + " is on the shared storage, and " + root +
                             " is not mounted: no cycle without the domain's lock "
                             "(is cluster.enable-shared-storage on?)");
  }
}

StateDirLock::StateDirLock(const std::string& stateDir) {
  std::error_code error;
  std::filesystem::create_directories(stateDir, error);
  const std::string path = stateDir + "/lock";
  // O_CLOEXEC: an alert command gdr-sync runs must not hold the lock on.
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  if (!tryLock(fd_)) {
    const int why = errno;
    char holder[256] = "";
    const ssize_t got = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (why == EAGAIN || why == EACCES) {
      std::string who(holder, got > 0 ? size_t(got) : 0);
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
      throw StateDirBusy("another gdr-sync runs a cycle on " + stateDir + (who.empty() ? "" : " (" + who + ")"));
    }
    throw std::runtime_error("cannot lock " + path + ": " + std::strerror(why));
  }
  // Who holds it, for the message above (advice only: the lock decides).
  const std::string self = "host " + hostName() + ", pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, self.data(), self.size(), 0);
  (void)::fsync(fd_);  // another host reads it through its own client
}

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace gdr::sync
