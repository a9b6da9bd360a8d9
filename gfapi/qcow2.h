#pragma once
// The qcow2 header, parsed from the first bytes of an image. Pure: the
// bytes come from wherever the caller read them (gfapi, a file, a test).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gdr::qcow2 {

// How much of an image to read to parse its header and backing file name:
// qemu keeps both within the first cluster, and refuses clusters > 2 MiB.
inline constexpr size_t kHeaderReadSize = 64 * 1024;

struct Header {
  std::uint32_t version = 0;       // 2 or 3
  std::uint32_t clusterBits = 0;
  std::uint64_t virtualSize = 0;   // bytes
  std::optional<std::string> backingFile;
};

// nullopt when `bytes` does not start with the qcow2 magic. Throws
// AgentError(ImageCorrupt) for a truncated or inconsistent header, or a
// backing file name that lies outside the bytes read or holds a NUL.
std::optional<Header> parseHeader(std::string_view bytes);

}  // namespace gdr::qcow2
