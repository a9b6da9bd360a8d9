// Which processes a failover's fence stops: chosen from a recorded /proc
// listing of a host holding both volumes while geo-replication synced.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "gluster/georep_fence.h"

namespace gdr::gluster {
namespace {

std::vector<ProcessInfo> recorded() {
  std::ifstream in(std::string(GDR_SOURCE_DIR) + "/tests/fixtures/gluster/processes-during-sync.tsv");
  std::vector<ProcessInfo> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream s(line);
    for (std::string f; std::getline(s, f, '\t');) fields.push_back(f);
    ProcessInfo p;
    p.pid = pid_t(std::stol(fields.at(0)));
    p.ppid = pid_t(std::stol(fields.at(1)));
    p.cwd = fields.at(2);
    p.argv.assign(fields.begin() + 3, fields.end());
    out.push_back(p);
  }
  return out;
}

std::vector<pid_t> sorted(std::vector<pid_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The connection (13840), the receiver under it (13846), the rsync server it
// feeds (14044) and the forced command about to start another (14083); the
// secondary's auxiliary mount (13952). Not the primary's workers, their ssh
// clients and rsyncs, the primary's auxiliary mount (13977), the bricks,
// sshd's listener, or the lab's own mounts.
TEST(GeoRepFence, ASessionsReceiversConnectionAndMountAreChosenNothingElse) {
  const auto processes = recorded();
  ASSERT_EQ(processes.size(), 18u);
  const ReceiverSet set = geoRepReceivers(processes, "gdr-secondary");
  EXPECT_EQ(sorted(set.receivers), (std::vector<pid_t>{13840, 13846, 14044, 14083}));
  EXPECT_EQ(set.mountClients, (std::vector<pid_t>{13952}));
  ASSERT_EQ(set.mountPoints.size(), 1u);
  EXPECT_EQ(set.mountPoints[0].rfind("/tmp/gsyncd-aux-mount-", 0), 0u) << set.mountPoints[0];
  EXPECT_EQ(set.described.size(), 5u);
  EXPECT_NE(std::find(set.described.begin(), set.described.end(), "13846 gsyncd receiver into gdr-secondary"),
            set.described.end());
}

TEST(GeoRepFence, AnotherVolumeOrNoSessionChoosesNothing) {
  EXPECT_TRUE(geoRepReceivers(recorded(), "gdr-other").described.empty());
  // The primary volume is no session's secondary here: its auxiliary mount
  // (the primary's workers' own) is not a receiver's.
  EXPECT_TRUE(geoRepReceivers(recorded(), "gdr-primary").described.empty());
  std::vector<ProcessInfo> idle;
  for (const auto& p : recorded()) {
    if (p.pid == 29062 || p.pid == 29376 || p.pid == 29409 || p.pid == 30914 || p.pid == 30938) idle.push_back(p);
  }
  EXPECT_TRUE(geoRepReceivers(idle, "gdr-secondary").described.empty());
}

// An rsync server is known by where it writes even when its connection is
// not seen (its sshd gone from the listing): aimed at a receiver's cwd.
TEST(GeoRepFence, AnRsyncServerAimedAtAReceiverIsChosenWithoutItsConnection) {
  std::vector<ProcessInfo> processes;
  for (const auto& p : recorded()) {
    if (p.pid != 13840) processes.push_back(p);
  }
  const ReceiverSet set = geoRepReceivers(processes, "gdr-secondary");
  EXPECT_EQ(sorted(set.receivers), (std::vector<pid_t>{13846, 14044}));
}

// A client that looks like an auxiliary mount but ends its command line
// with another path: killed, its path never detached.
TEST(GeoRepFence, OnlyGsyncdsOwnMountPointsAreDetached) {
  auto processes = recorded();
  for (auto& p : processes) {
    if (p.pid == 13952) p.argv.back() = "/";
  }
  const ReceiverSet set = geoRepReceivers(processes, "gdr-secondary");
  EXPECT_EQ(set.mountClients, (std::vector<pid_t>{13952}));
  EXPECT_TRUE(set.mountPoints.empty());
}

TEST(GeoRepFence, ThisHostsProcessesAreListed) {
  const auto processes = listProcesses();
  const auto self = std::find_if(processes.begin(), processes.end(),
                                 [](const ProcessInfo& p) { return p.pid == ::getpid(); });
  ASSERT_NE(self, processes.end());
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_FALSE(self->argv.empty());
  EXPECT_FALSE(self->cwd.empty());
}

}  // namespace
}  // namespace gdr::gluster
