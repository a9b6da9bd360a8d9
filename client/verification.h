#pragma once
// The comparisons behind a cycle's verification of the secondary: pure, on
// the typed replies of both sides.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/codec.h"
#include "api/gluster_volume.h"

namespace gdr::sync {

// How much of each base is compared, primary against secondary (both are
// frozen during the cycle): headers only; 16 ranges of 1 MiB; 64 KiB of
// every 4 MiB (every shard is read and the strides that differ are
// located); every byte.
enum class VerifyMode { None, Sample, Shards, Full };

// A base whose copy on the secondary differs from the primary's.
struct BaseDifference {
  std::string base;                    // volume-relative path
  std::string why;
  std::vector<std::uint64_t> offsets;  // where, when located (pieces or strides)
  // The secondary holds some pieces under other gluster ids (or not at all):
  // a known geo-replication failure that a resync repairs.
  bool identity = false;
  // With `identity`: content differs too, outside those pieces (its
  // repair is one of content, which --no-repair does not make).
  bool contentToo = false;
};

// Set when the secondary's copy is not a base like the primary's (format,
// backing file, sizes).
std::optional<std::string> headerDifference(const std::string& base, const api::ImageInfoResult& primary,
                                            const api::ImageInfoResult& secondary);

// The offsets of `count` ranges of `chunk` bytes spread over a file.
std::vector<std::uint64_t> sampleOffsets(std::uint64_t size, std::uint64_t chunk = 1 << 20, std::uint64_t count = 16);

// The strides whose range sums differ in two sampled checksums.
std::vector<std::uint64_t> differingStrides(const api::ChecksumResult& primary, const api::ChecksumResult& secondary);

bool sameContent(const api::ChecksumResult& primary, const api::ChecksumResult& secondary);

// Adds the offsets `more` names that `diff` does not yet, in their order.
void addOffsets(BaseDifference& diff, const std::vector<std::uint64_t>& more);

// "2 of the 3 pieces it holds with another modification time (the first
// at byte 12582912)": of the pieces whose times differ between the sites,
// read whole, how many differ and where the first begins.
std::string describeStalePieces(size_t differing, size_t modifiedApart, std::uint64_t first);

// "d1; d2" — every difference's reason.
std::string describeAll(const std::vector<BaseDifference>& differences);

}  // namespace gdr::sync

namespace gdr::api {
template <>
struct EnumNames<sync::VerifyMode> {
  static constexpr std::pair<sync::VerifyMode, const char*> table[] = {{sync::VerifyMode::None, "none"},
                                                                       {sync::VerifyMode::Sample, "sample"},
                                                                       {sync::VerifyMode::Shards, "shards"},
                                                                       {sync::VerifyMode::Full, "full"}};
};
}  // namespace gdr::api
