#pragma once
// A file replaced whole and durably: written to a temporary file beside
// it, fsync'ed, renamed over the target, and the directory fsync'ed. A
// crash at any point leaves either the old content or the new.
#include <filesystem>
#include <string>

namespace gdr {

// Throws std::runtime_error naming the file and the reason (ENOSPC, ...);
// the target is then untouched.
void writeFileDurably(const std::filesystem::path& target, const std::string& text, unsigned mode = 0600);

}  // namespace gdr
