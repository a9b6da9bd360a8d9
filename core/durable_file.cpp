#include "core/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace gdr {

void writeFileDurably(const std::filesystem::path& target, const std::string& text, unsigned mode,
                      std::optional<FileOwner> owner) {
  const std::filesystem::path temp = target.parent_path() / ("." + target.filename().string() + ".tmp");
  auto failure = [&](const char* what) {
    const std::string reason = std::strerror(errno);
    ::unlink(temp.c_str());
    return std::runtime_error("cannot " + std::string(what) + " " + target.string() + ": " + reason);
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) throw failure("write");
  if (owner && ::fchown(fd, owner->uid, owner->gid) != 0) {
    ::close(fd);
    throw failure("set the owner of");
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      ::close(fd);
      throw failure("write");
    }
    written += size_t(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    throw failure("sync");
  }
  ::close(fd);
  if (::rename(temp.c_str(), target.c_str()) != 0) throw failure("rename into");
  const int dirFd = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
}

void makeDirectories(const std::filesystem::path& dir, std::chrono::milliseconds patience,
                     const MakeDirectoriesOp& make) {
  const auto giveUp = std::chrono::steady_clock::now() + patience;
  for (;;) {
    std::error_code ec;
    if (make) {
      make(dir, ec);
    } else {
      std::filesystem::create_directories(dir, ec);
    }
    if (!ec) return;
    if (ec != std::errc::file_exists || std::chrono::steady_clock::now() >= giveUp) {
      throw std::filesystem::filesystem_error("cannot create directories", dir, ec);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace gdr
