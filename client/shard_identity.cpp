#include "client/shard_identity.h"

#include <map>

namespace gdr::sync {

LayoutComparison compareShardLayouts(const Json::Value& primary, const Json::Value& secondary) {
  LayoutComparison out;
  const std::uint64_t blockSize = primary["shardBlockSize"].asUInt64();
  if (secondary["shardBlockSize"].asUInt64() != blockSize) {
    out.problem = "the secondary splits it in shards of " + secondary["shardBlockSize"].asString() +
                  " bytes, the primary in " + primary["shardBlockSize"].asString();
    return out;
  }
  std::map<std::uint64_t, std::string> held;
  for (const auto& piece : secondary["pieces"]) held[piece["index"].asUInt64()] = piece["gfid"].asString();
  for (const auto& piece : primary["pieces"]) {
    ++out.piecesCompared;
    const std::uint64_t index = piece["index"].asUInt64();
    const std::string gfid = piece["gfid"].asString();
    const auto it = held.find(index);
    if (it != held.end() && it->second == gfid) continue;
    out.mismatches.push_back({index, index * blockSize, gfid, it == held.end() ? "" : it->second});
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
    out += m.secondaryGfid.empty() ? " is missing"
                                   : " is another file (gfid " + m.secondaryGfid + " where the primary's is " +
                                         m.primaryGfid + ")";
  }
  if (mismatches.size() > shown) out += "; and " + std::to_string(mismatches.size() - shown) + " more";
  return out;
}

}  // namespace gdr::sync
