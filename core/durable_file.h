#pragma once
// A file replaced whole and durably: written to a temporary file beside
// it, fsync'ed, renamed over the target, and the directory fsync'ed. A
// crash at any point leaves either the old content or the new.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
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

// Every missing directory of `dir`, as std::filesystem::create_directories
// makes them, on a volume other hosts write at the same time: when another
// host has just made one, mkdir here fails with EEXIST while stat does not
// show a directory yet (gluster's FUSE client, on a fresh volume: two hosts
// saving their VMs' definitions in a cycle's first seconds). EEXIST is
// therefore tried again for up to `patience`; any other error, or EEXIST
// past it (a file in the way), throws std::filesystem::filesystem_error.
// `make` stands in for create_directories in tests.
using MakeDirectoriesOp = std::function<void(const std::filesystem::path&, std::error_code&)>;
void makeDirectories(const std::filesystem::path& dir,
                     std::chrono::milliseconds patience = std::chrono::milliseconds(2000),
                     const MakeDirectoriesOp& make = {});

}  // namespace gdr
