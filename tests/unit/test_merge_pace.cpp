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
  // Written "in no time" (a clock step): counted as one second.
  EXPECT_EQ(pacedMergeBandwidth(80ull << 20, 0), 320u);
  EXPECT_EQ(pacedMergeBandwidth(80ull << 20, -5), 320u);
}

// However small, an image is paced (four small merges at full speed at once
// took half the throughput of guests writing flat out), at no less than the
// floor: the lab's record writers' 32 MiB over 122 s merge in 8 s at 4 MiB/s.
TEST(MergePaceTest, SmallImagesArePacedAtTheFloor) {
  EXPECT_EQ(pacedMergeBandwidth(32ull << 20, 122), kMergePaceMinMiB);
  EXPECT_EQ(pacedMergeBandwidth(1, 3600), kMergePaceMinMiB);
  // 49 MiB over 30 s (a guest writing flat out on the lab): four times its rate.
  EXPECT_EQ(pacedMergeBandwidth(49ull << 20, 30), 7u);
  // 64 MiB written in a second: four times its rate, far over the floor.
  EXPECT_EQ(pacedMergeBandwidth(64ull << 20, 1), 256u);
}

TEST(MergePaceTest, AnEmptyImageMergesAtFullSpeed) { EXPECT_EQ(pacedMergeBandwidth(0, 60), std::nullopt); }

}  // namespace
}  // namespace gdr::sync
