#pragma once
// A file replaced whole and durably: written to a temporary file beside
// it, fsync'ed, renamed over the target, and the directory fsync'ed. A
// crash at any point leaves either the old content or the new.
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace gdr {

struct FileOwner {
  uid_t uid;
  gid_t gid;
};

// Throws std::runtime_error naming the file and the reason (ENOSPC, ...);
// the target is then untouched. `owner`: the new file's, set before it
// takes the target's name (default: the process's).
void writeFileDurably(const std::filesystem::path& target, const std::string& text, unsigned mode = 0600,
                      std::optional<FileOwner> owner = std::nullopt);

}  // namespace gdr
