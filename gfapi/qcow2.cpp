#include "gfapi/qcow2.h"

#include "core/errors.h"

namespace gdr::qcow2 {

namespace {

std::uint64_t be(std::string_view b, size_t offset, size_t width) {
  std::uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(b[offset + i]);
  return v;
}

[[noreturn]] void corrupt(const std::string& why) {
  throw AgentError(Code::ImageCorrupt, "qcow2 header: " + why);
}

}  // namespace

std::optional<Header> parseHeader(std::string_view bytes) {
  if (bytes.size() < 4 || bytes.substr(0, 4) != std::string_view("QFI\xfb", 4)) return std::nullopt;
  // Version 2 headers are 72 bytes; version 3 adds fields up to 104.
  if (bytes.size() < 72) corrupt("truncated (" + std::to_string(bytes.size()) + " bytes)");
  Header h;
  h.version = static_cast<std::uint32_t>(be(bytes, 4, 4));
  if (h.version != 2 && h.version != 3) corrupt("unsupported version " + std::to_string(h.version));
  const std::uint64_t backingOffset = be(bytes, 8, 8);
  const std::uint64_t backingSize = be(bytes, 16, 4);
  h.clusterBits = static_cast<std::uint32_t>(be(bytes, 20, 4));
  h.virtualSize = be(bytes, 24, 8);
  if (h.clusterBits < 9 || h.clusterBits > 21) corrupt("cluster_bits " + std::to_string(h.clusterBits));
  std::uint64_t headerLength = 72;
  if (h.version == 3) {
    if (bytes.size() < 104) corrupt("truncated version 3 header");
    headerLength = be(bytes, 100, 4);
    if (headerLength < 104) corrupt("header_length " + std::to_string(headerLength));
  }
  if (backingOffset == 0) {
    if (backingSize != 0) corrupt("backing file size without offset");
    return h;
  }
  // qemu limits backing file names to 1023 bytes, inside the first cluster.
  if (backingSize == 0 || backingSize > 1023) corrupt("backing file name size " + std::to_string(backingSize));
  if (backingOffset < headerLength) corrupt("backing file name overlaps the header");
  const std::uint64_t clusterSize = std::uint64_t(1) << h.clusterBits;
  if (backingOffset > clusterSize || backingSize > clusterSize - backingOffset) {
    corrupt("backing file name outside the first cluster");
  }
  if (backingOffset + backingSize > bytes.size()) corrupt("truncated before the backing file name");
  std::string name(bytes.substr(backingOffset, backingSize));
  if (name.find('\0') != std::string::npos) corrupt("NUL in the backing file name");
  h.backingFile = std::move(name);
  return h;
}

}  // namespace gdr::qcow2
