// Comparing two GlusterVolume.shardLayout replies. Fixtures: a base's
// layout recorded on the lab's primary, its secondary recorded while the
// base still grew (the newest shard not yet sent), and the state seen after
// a failed cycle: shard 34 held on the secondary under a gfid that the
// primary's changelog recorded for its creation but the shard never had.
// The "times" pair, recorded with each piece's modification time, while
// the VM wrote into its base again after a cycle: the secondary holds
// pieces 1..26 with the primary's times to the nanosecond (rsync set
// them), pieces 0 and 27 with older ones, and not yet pieces 28..56.
#include <gtest/gtest.h>
#include <json/json.h>

#include <fstream>

#include "client/shard_identity.h"
#include "client/verification.h"
#include "tests/unit/sync_fixtures.h"

namespace gdr::sync {
namespace {

// Two GlusterVolume.shardLayout replies, as the client decodes them.
LayoutComparison compareShardLayouts(const Json::Value& primary, const Json::Value& secondary) {
  return sync::compareShardLayouts(api::decode<api::ShardLayoutResult>(primary),
                                   api::decode<api::ShardLayoutResult>(secondary));
}

TEST(ShardIdentity, SameLayoutsMatch) {
  const Json::Value primary = syncFixture("layout-primary.json");
  const LayoutComparison c = compareShardLayouts(primary, primary);
  EXPECT_TRUE(c.problem.empty());
  EXPECT_TRUE(c.mismatches.empty());
  EXPECT_EQ(c.piecesCompared, primary["pieces"].size());
  EXPECT_EQ(c.piecesCompared, 78u);
}

TEST(ShardIdentity, AMissingShardIsLocated) {
  const LayoutComparison c =
      compareShardLayouts(syncFixture("layout-primary.json"), syncFixture("layout-secondary-behind.json"));
  ASSERT_EQ(c.mismatches.size(), 1u);
  EXPECT_EQ(c.mismatches[0].index, 77u);
  EXPECT_EQ(c.mismatches[0].offset, 77u * (4u << 20));
  EXPECT_TRUE(c.mismatches[0].secondaryGfid.empty());
  EXPECT_EQ(describeMismatches(c.mismatches), "shard 77 is missing");
}

TEST(ShardIdentity, AShardUnderAnotherGfidIsLocated) {
  const Json::Value primary = syncFixture("layout-primary.json");
  const LayoutComparison c = compareShardLayouts(primary, syncFixture("layout-secondary-foreign-shard.json"));
  ASSERT_EQ(c.mismatches.size(), 1u);
  EXPECT_EQ(c.mismatches[0].index, 34u);
  EXPECT_EQ(c.mismatches[0].offset, 34u * (4u << 20));
  EXPECT_EQ(c.mismatches[0].primaryGfid, primary["pieces"][34]["gfid"].asString());
  EXPECT_EQ(c.mismatches[0].secondaryGfid, "e7a6fdd5-923a-4a43-9671-8802f663be8a");
  EXPECT_EQ(describeMismatches(c.mismatches),
            "shard 34 is another file (gfid e7a6fdd5-923a-4a43-9671-8802f663be8a "
            "where the primary's is " +
                primary["pieces"][34]["gfid"].asString() + ")");
}

TEST(ShardIdentity, ExtraPiecesOnTheSecondaryAreLeftToTheContentCheck) {
  // The secondary may still hold shards the primary no longer has; what
  // they hold is judged by comparing content, not ids.
  const LayoutComparison c =
      compareShardLayouts(syncFixture("layout-secondary-behind.json"), syncFixture("layout-primary.json"));
  EXPECT_TRUE(c.mismatches.empty());
  EXPECT_EQ(c.piecesCompared, 77u);
}

TEST(ShardIdentity, AnotherBlockSizeCannotBeComparedPieceByPiece) {
  const Json::Value primary = syncFixture("layout-primary.json");
  Json::Value secondary = primary;
  secondary["shardBlockSize"] = Json::UInt64(64u << 20);
  const LayoutComparison c = compareShardLayouts(primary, secondary);
  EXPECT_EQ(c.problem, "the secondary splits it in shards of 67108864 bytes, the primary in 4194304");
  EXPECT_TRUE(c.mismatches.empty());
}

TEST(ShardIdentity, TheFileItselfUnderAnotherGfidMismatchesEveryPiece) {
  // Shards are named after the file's gfid: a file re-created under another
  // id on the secondary has none of the primary's shards.
  const Json::Value primary = syncFixture("layout-primary.json");
  Json::Value secondary = primary;
  secondary["pieces"] = Json::Value(Json::arrayValue);
  secondary["pieces"][0]["index"] = 0;
  secondary["pieces"][0]["offset"] = 0;
  secondary["pieces"][0]["gfid"] = "00000000-0000-0000-0000-00000000beef";
  const LayoutComparison c = compareShardLayouts(primary, secondary);
  ASSERT_EQ(c.mismatches.size(), 78u);
  EXPECT_EQ(describeMismatches(c.mismatches).substr(0, 42), "its first block is another file (gfid 0000");
  EXPECT_NE(describeMismatches(c.mismatches).find("; and 75 more"), std::string::npos);
}

TEST(ShardIdentity, PiecesHeldWithAnotherModificationTimeAreLocated) {
  const LayoutComparison c =
      compareShardLayouts(syncFixture("layout-times-primary.json"), syncFixture("layout-times-secondary-behind.json"));
  EXPECT_EQ(c.piecesCompared, 57u);
  EXPECT_EQ(c.mismatches.size(), 29u);  // 28..56, missing
  EXPECT_EQ(c.mismatches.front().index, 28u);
  EXPECT_EQ(c.modifiedApart, (std::vector<std::uint64_t>{0, 27u * (4u << 20)}));
}

TEST(ShardIdentity, PiecesWithTheSameTimesOrNoTimesAreNotModifiedApart) {
  const Json::Value primary = syncFixture("layout-times-primary.json");
  EXPECT_TRUE(compareShardLayouts(primary, primary).modifiedApart.empty());
  // An agent that reports no times (the recorded pairs without them).
  EXPECT_TRUE(compareShardLayouts(syncFixture("layout-primary.json"), syncFixture("layout-secondary-behind.json"))
                  .modifiedApart.empty());
  Json::Value secondary = primary;
  secondary["pieces"][5].removeMember("mtimeNs");
  EXPECT_TRUE(compareShardLayouts(primary, secondary).modifiedApart.empty());
  // A time one nanosecond apart is another time.
  secondary["pieces"][5]["mtimeNs"] = Json::UInt64(primary["pieces"][5]["mtimeNs"].asUInt64() - 1);
  EXPECT_EQ(compareShardLayouts(primary, secondary).modifiedApart, (std::vector<std::uint64_t>{5u * (4u << 20)}));
}

// A copy's header must be the primary's: a base names no backing file, a
// delta the very backing file the primary's names.
TEST(Verification, StalePiecesAreCountedAndTheFirstIsLocated) {
  EXPECT_EQ(describeStalePieces(2, 3, 12u << 20),
            "2 of the 3 pieces it holds with another modification time (the first at byte 12582912)");
}

TEST(Verification, OffsetsAreAddedOnceInTheirOrder) {
  BaseDifference diff{"images/a.qcow2", "differs", {4u << 20}, true};
  addOffsets(diff, {12u << 20, 4u << 20, 0, 12u << 20});
  EXPECT_EQ(diff.offsets, (std::vector<std::uint64_t>{4u << 20, 12u << 20, 0}));
}

TEST(Verification, TheCopysHeaderNamesTheSameBackingFileAsThePrimarys) {
  api::ImageInfoResult primary;
  primary.format = "qcow2";
  primary.virtualSize = 2ull << 30;
  primary.actualSize = 12517376;
  api::ImageInfoResult copy = primary;
  EXPECT_FALSE(headerDifference("images/vm1.qcow2", primary, copy));
  copy.backingFile = "../vm1.qcow2";  // a base on the primary, an overlay on the secondary
  EXPECT_TRUE(headerDifference("images/vm1.qcow2", primary, copy));
  primary.backingFile = "../vm1.qcow2";  // a delta: the same name on both sides
  EXPECT_FALSE(headerDifference("images/.gdr-snapshots/vm1.1.qcow2", primary, copy));
  copy.backingFile = "../vm2.qcow2";
  const auto why = headerDifference("images/.gdr-snapshots/vm1.1.qcow2", primary, copy);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("backing \"../vm2.qcow2\""), std::string::npos) << *why;
  copy.backingFile = primary.backingFile;
  copy.actualSize = 0;  // created, not yet written
  EXPECT_TRUE(headerDifference("images/.gdr-snapshots/vm1.1.qcow2", primary, copy));
}

}  // namespace
}  // namespace gdr::sync
