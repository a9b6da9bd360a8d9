// --merge-bandwidth auto: when an overlay was begun (from its name) and the
// bandwidth a paced merge gets.
#include <gtest/gtest.h>

#include "client/merge_pace.h"

namespace gdr::sync {
namespace {

TEST(MergePaceTest, StampOfAnOverlayTheAgentNamed) {
  // 2026-12-06 07:35:58 UTC
  EXPECT_EQ(overlayStamp("/mnt/images/.gdr-snapshots/gdr-lab-vm1.20261206T073558Z.5d8c8e.qcow2"), 1796542558);
  EXPECT_EQ(overlayStamp("images/.gdr-snapshots/vm.20000101T000000Z.000000.qcow2"), 946684800);
}

TEST(MergePaceTest, TheLastStampCountsAndTheDiskNameIsNotOne) {
  // A disk named like a stamp, then the agent's own stamp.
  EXPECT_EQ(overlayStamp("20000101T000000Z.20261206T073558Z.abcdef.qcow2"), 1796542558);
  EXPECT_EQ(overlayStamp("20261206T073558Z.qcow2"), std::nullopt);
}

TEST(MergePaceTest, NoStampInOtherNames) {
  EXPECT_EQ(overlayStamp("/mnt/images/gdr-lab-vm1.qcow2"), std::nullopt);
  EXPECT_EQ(overlayStamp("vm.top.qcow2"), std::nullopt);
  EXPECT_EQ(overlayStamp("vm.2026120XT073558Z.qcow2"), std::nullopt);
  EXPECT_EQ(overlayStamp("vm.20261206T073558.qcow2"), std::nullopt);
  EXPECT_EQ(overlayStamp("vm.20261306T073558Z.x.qcow2"), std::nullopt);  // month 13
  EXPECT_EQ(overlayStamp(""), std::nullopt);
}

TEST(MergePaceTest, FourTimesTheRateTheVmWrote) {
  // 150 MiB written over 60 s: 2.5 MiB/s, merged at 10 MiB/s (15 s).
  EXPECT_EQ(pacedMergeBandwidth(150ull << 20, 60), 10u);
  // Rounded up: 100 MiB over 60 s is 6.67 MiB/s, merged at 7.
  EXPECT_EQ(pacedMergeBandwidth(100ull << 20, 60), 7u);
}

TEST(MergePaceTest, NeverUnderTheFloorNorAZeroTime) {
  EXPECT_EQ(pacedMergeBandwidth(100ull << 20, 3600), kMergePaceMinMiB);
  EXPECT_EQ(pacedMergeBandwidth(kMergeUnpacedBytes + 1, 600), kMergePaceMinMiB);
  // Written "in no time" (a clock step): counted as one second.
  EXPECT_EQ(pacedMergeBandwidth(80ull << 20, 0), 320u);
  EXPECT_EQ(pacedMergeBandwidth(80ull << 20, -5), 320u);
}

// An image of 64 MiB or less merges at full speed however slowly it was
// written (the lab's record writers' 32 MiB over 122 s took 16 s at 2
// MiB/s); one byte more is paced.
TEST(MergePaceTest, SmallImagesMergeAtFullSpeed) {
  EXPECT_EQ(pacedMergeBandwidth(0, 60), std::nullopt);
  EXPECT_EQ(pacedMergeBandwidth(32ull << 20, 122), std::nullopt);
  EXPECT_EQ(pacedMergeBandwidth(kMergeUnpacedBytes, 1), std::nullopt);
  EXPECT_EQ(pacedMergeBandwidth(kMergeUnpacedBytes + 1, 1), 257u);
}

}  // namespace
}  // namespace gdr::sync
