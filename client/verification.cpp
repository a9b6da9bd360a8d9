#include "client/verification.h"

#include <algorithm>

namespace gdr::sync {

std::optional<std::string> headerDifference(const std::string& base, const api::ImageInfoResult& primary,
                                            const api::ImageInfoResult& secondary) {
  // The same backing file as the primary's (a base has none; a delta names
  // its base, relative).
  if (secondary.format == primary.format && secondary.backingFile == primary.backingFile &&
      secondary.virtualSize == primary.virtualSize && secondary.actualSize == primary.actualSize) {
    return std::nullopt;
  }
  return "the secondary's copy of " + base + " is not the primary's image (format " + secondary.format +
         ", virtual size " + std::to_string(secondary.virtualSize) + ", size " + std::to_string(secondary.actualSize) +
         " vs " + std::to_string(primary.actualSize) + ", backing " +
         (secondary.backingFile ? "\"" + *secondary.backingFile + "\"" : std::string("null")) + ")";
}

std::vector<std::uint64_t> sampleOffsets(std::uint64_t size, std::uint64_t chunk, std::uint64_t count) {
  std::vector<std::uint64_t> out;
  if (size <= chunk) return {0};
  for (std::uint64_t i = 0; i < count; ++i) out.push_back((size - chunk) / (count - 1) * i);
  return out;
}

std::vector<std::uint64_t> differingStrides(const api::ChecksumResult& primary, const api::ChecksumResult& secondary) {
  std::vector<std::uint64_t> out;
  const std::uint64_t stride = primary.sampleStride.value_or(0);
  if (stride == 0 || !primary.rangeSums || !secondary.rangeSums) return out;
  const auto& a = *primary.rangeSums;
  const auto& b = *secondary.rangeSums;
  if (a.size() != b.size()) return out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) out.push_back(std::uint64_t(i) * stride);
  }
  return out;
}

std::string describeStalePieces(size_t differing, size_t modifiedApart, std::uint64_t first) {
  return std::to_string(differing) + " of the " + std::to_string(modifiedApart) +
         " pieces it holds with another modification time (the first at byte " + std::to_string(first) + ")";
}

bool sameContent(const api::ChecksumResult& primary, const api::ChecksumResult& secondary) {
  return primary.sha256 == secondary.sha256 && primary.bytes == secondary.bytes;
}

void addOffsets(BaseDifference& diff, const std::vector<std::uint64_t>& more) {
  for (std::uint64_t at : more) {
    if (std::find(diff.offsets.begin(), diff.offsets.end(), at) == diff.offsets.end()) diff.offsets.push_back(at);
  }
}

std::string describeAll(const std::vector<BaseDifference>& differences) {
  std::string out;
  for (const auto& d : differences) out += (out.empty() ? "" : "; ") + d.why;
  return out;
}

}  // namespace gdr::sync
