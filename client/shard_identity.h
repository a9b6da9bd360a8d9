#pragma once
// Whether the secondary holds the primary's pieces of a file, judged by
// gluster ids. Geo-replication creates every file and shard on the
// secondary under the primary's gfid and sends data by gfid, so a shard
// the secondary holds under another gfid (or not at all) is never filled,
// while the checkpoint still completes. Pure: works on two
// GlusterVolume.shardLayout replies.
#include "api/gluster_volume.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gdr::sync {

struct ShardMismatch {
  std::uint64_t index = 0;   // 0: the file itself (its first block)
  std::uint64_t offset = 0;  // where the piece starts in the file
  std::string primaryGfid;
  std::string secondaryGfid;  // empty: the secondary has no such piece
};

struct LayoutComparison {
  // Set when the layouts cannot be compared piece by piece (e.g. another
  // shard block size on the secondary): a difference no resync can fix.
  std::string problem;
  std::vector<ShardMismatch> mismatches;
  // Pieces held under the right gfid whose modification time differs
  // between the sites: geo-replication's rsync sets the time with the
  // data, so such a piece was not resent after its last change, and its
  // content is to be read whole (samples may miss a stale range). Their
  // offsets in the file.
  std::vector<std::uint64_t> modifiedApart;
  size_t piecesCompared = 0;
};

LayoutComparison compareShardLayouts(const api::ShardLayoutResult& primary, const api::ShardLayoutResult& secondary);

// "shard 34 is another file (gfid e7a6fdd5… where the primary's is
// 7158cabb…); shard 37 is missing" — the first few, then a count.
std::string describeMismatches(const std::vector<ShardMismatch>& mismatches);

}  // namespace gdr::sync
