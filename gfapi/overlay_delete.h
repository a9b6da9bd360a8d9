#pragma once
// Deleting snapshot overlays on a secondary volume: other people's data on
// a remote site, so every guard must pass for every path before anything
// is deleted. Works on any gfapi::Volume (the real one or a fake).
#include <json/value.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/gluster_volume.h"
#include "gfapi/qcow2.h"
#include "gfapi/volume.h"

namespace gdr::gfapi {

// qcow2 headers already read, keyed by volume and path and valid while the
// file's version (inode, size, times) is unchanged: deleting one overlay
// checks every sibling in its directory, and most have not changed since
// the last call. Thread-safe; bounded.
class HeaderCache {
 public:
  std::optional<std::optional<qcow2::Header>> find(const std::string& key, const std::string& version) const;
  void store(const std::string& key, const std::string& version, const std::optional<qcow2::Header>& header);
  size_t size() const;

 private:
  static constexpr size_t kMaxEntries = 100000;
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<std::string, std::optional<qcow2::Header>>> entries_;
};

struct OverlayDeleteRequest {
  std::vector<std::string> paths;             // volume-relative
  std::optional<std::string> expectedBacking; // volume-relative
  bool dryRun = false;
  std::vector<std::string> allowedPrefixes;   // empty: parent dir named .gdr-snapshots
  HeaderCache* cache = nullptr;               // optional
  std::string cacheScope;                     // names the volume in cache keys
  // Volume-relative path -> the running VM on this host whose disk chain
  // holds it ("name (uuid)"): never deleted.
  std::map<std::string, std::string> openByVms;
};

// Checks every path against every guard (path shape, prefix, not open by a
// running VM here, no symlink on
// the way, a regular qcow2 file with a backing file, the expected backing,
// no sibling image backed by it), throwing the guard's AgentError on the
// first refusal with nothing deleted; then deletes them (unless dryRun).
api::OverlayDeleteResult deleteOverlays(Volume& volume, const OverlayDeleteRequest& request);

// {path, type, size, mtime, mode, gfid}; throws FileNotFound when absent.
api::FileStatResult fileStat(Volume& volume, const std::string& path);

// A sparse sample of a file: one range of `length` bytes in every
// `stride` bytes, at an offset inside each stride that changes from one
// stride to the next (the same on every call, so two copies are sampled
// alike). One range per stride catches a piece of the file that is missing
// as a whole, e.g. a shard that arrived empty. Pure.
struct Sampling {
  std::uint64_t stride = 4 << 20;
  std::uint64_t length = 64 << 10;
  // A tiny stride on a large file would build millions of range sums in
  // one reply: more ranges than this is refused (InvalidParameter).
  std::uint64_t maxRanges = 65536;
};
std::vector<std::pair<std::uint64_t, std::uint64_t>> sampleRanges(std::uint64_t fileSize, const Sampling& sampling);

// {path, offset, bytes, sha256 (hex)} of `length` bytes from `offset`
// (to the end of the file when absent); with `sampling`, of the sampled
// ranges of the file from `offset` on, in order ({path, bytes, ranges,
// sha256}; offset when not 0).
api::ChecksumResult fileChecksum(Volume& volume, const std::string& path, std::uint64_t offset,
                         std::optional<std::uint64_t> length, std::optional<Sampling> sampling = std::nullopt);

// {path, marked}: the file and its shards (or, with `offsets`, the pieces
// holding those bytes) marked for geo-replication to send again; throws
// FileNotFound / NotRegularFile.
api::ResyncResult markForGeoRepResync(Volume& volume, const std::string& path, const std::vector<std::uint64_t>& offsets = {});

// {path, gfid, size, shardBlockSize, pieces: [{index, offset, gfid}]}:
// where each piece of the file lives (see ShardLayout); throws
// FileNotFound / NotRegularFile.
api::ShardLayoutResult shardLayout(Volume& volume, const std::string& path);

// {path, format ("qcow2"|"raw"), virtualSize, clusterSize, backingFile};
// raw files report their size as virtual size.
api::ImageInfoResult imageInfo(Volume& volume, const std::string& path);

// Whether the volume root holds nothing but gluster's own directories
// (.trashcan, .shard), with the first names it does hold.
api::EmptyCheckResult emptyCheck(Volume& volume);

}  // namespace gdr::gfapi
