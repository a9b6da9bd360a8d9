#include "client/shard_identity.h"

#include <map>

namespace gdr::sync {

LayoutComparison compareShardLayouts(const api::ShardLayoutResult& primary, const api::ShardLayoutResult& secondary) {
  LayoutComparison out;
  const std::uint64_t blockSize = primary.shardBlockSize;
  if (secondary.shardBlockSize != blockSize) {
    out.problem = "the secondary splits it in shards of " + std::to_string(secondary.shardBlockSize) +
                  " bytes, the primary in " + std::to_string(primary.shardBlockSize);
    return out;
  }
  std::map<std::uint64_t, const api::ShardPiece*> held;
  for (const auto& piece : secondary.pieces) held[piece.index] = &piece;
  for (const auto& piece : primary.pieces) {
    ++out.piecesCompared;
    const std::uint64_t index = piece.index;
    const std::string& gfid = piece.gfid;
    const auto it = held.find(index);
    if (it != held.end() && it->second->gfid == gfid) {
      // An agent that does not report times leaves them out: nothing to compare.
      if (piece.mtimeNs && it->second->mtimeNs && *piece.mtimeNs != *it->second->mtimeNs) {
        out.modifiedApart.push_back(index * blockSize);
      }
      continue;
    }
    out.mismatches.push_back({index, index * blockSize, gfid, it == held.end() ? "" : it->second->gfid});
  }
  return out;
}

std::string describeMismatches(const std::vector<ShardMismatch>& mismatches) {
  constexpr size_t shown = 3;
  std::string out;
  for (size_t i = 0; i < mismatches.size() && i < shown; ++i) {
    const ShardMismatch& m = mismatches[i];
    out += i ? "; " : "";
    out += m.index == 0 ? std::string("its first block") : "shard " + std::to_string(m.index);
    out += m.secondaryGfid.empty()
               ? " is missing"
               : " is another file (gfid " + m.secondaryGfid + " where the primary's is " + m.primaryGfid + ")";
  }
  if (mismatches.size() > shown) out += "; and " + std::to_string(mismatches.size() - shown) + " more";
  return out;
}

}  // namespace gdr::sync
