// The typed contract against the schema: every result struct, filled in
// and left sparse, encodes to exactly what verbs/schema.json says the verb
// returns; and the check has teeth.
#include <gtest/gtest.h>

#include "api/gluster_host.h"
#include "api/gluster_volume.h"
#include "api/host.h"
#include "api/recovery.h"
#include "api/recovery_point.h"
#include "api/vm.h"
#include "core/schema.h"

namespace gdr {
namespace {

template <class Verb>
void expectMatches(const typename Verb::Result& result) {
  const VerbSpec* verb = builtinSchema().find(Verb::kName);
  ASSERT_NE(verb, nullptr) << Verb::kName;
  const Json::Value json = api::encode(result);
  EXPECT_NO_THROW(builtinSchema().validateResult(*verb, json)) << Verb::kName << ": " << json.toStyledString();
  // And back: the client reads what the agent wrote.
  EXPECT_EQ(api::encode(api::decode<typename Verb::Result>(json)), json) << Verb::kName;
}

api::GeoRepWorkerInfo worker(bool full) {
  api::GeoRepWorkerInfo w{"node1",
                          "uuid",
                          "/bricks/b1",
                          "root",
                          "ssh://127.0.0.2::sec",
                          "127.0.0.2",
                          "Active",
                          "Changelog Crawl",
                          "No",
                          {},
                          {},
                          {},
                          {},
                          {},
                          {},
                          {}};
  if (full) {
    w.entry = w.data = w.meta = w.failures = 0;
    w.lastSynced = w.checkpointTime = w.checkpointCompletionTime = 1700000000;
  }
  return w;
}

TEST(Contract, HostResultsMatchTheSchema) {
  expectMatches<api::HostPing>({});
  expectMatches<api::HostGetCapabilities>({"0.2.0", "1", "host", {"Host.ping"}, {"10.0", std::nullopt, "7.2"}});
  api::Job job;
  job.id = "0f0e0d0c-0b0a-4908-8706-050403020100";
  job.type = "merge";
  job.state = "COMMIT";
  job.details["vmID"] = "vm";
  expectMatches<api::HostGetJobs>({{{job.id, job}}});
  job.state = "FAILED";
  job.error = api::JobError{52, "merge failed"};
  job.endTime = 1700000001;
  expectMatches<api::HostAbortJob>({job});
  api::VmDisk disk{"vda", "disk",       "file",      "/mnt/p/images/vm1.qcow2", "qcow2", {"/mnt/p/images/vm1.qcow2"},
                   false, std::nullopt, std::nullopt};
  api::VmList list{{{"uuid", "vm1", "running", {disk}}}};
  expectMatches<api::HostGetVMList>(list);
  disk.mirror = api::MirrorInfo{"active-commit", true};
  disk.gluster =
      api::GlusterLocation{"127.0.0.2", "gdr-primary", "images/vm1.qcow2", {"images/vm1.qcow2", std::nullopt}};
  list.vms[0].disks = {disk};
  expectMatches<api::HostGetVMList>(list);
}

TEST(Contract, VmResultsMatchTheSchema) {
  expectMatches<api::VmSnapshot>({true, 1700000000, {{"vda", "/o.qcow2", "/b.qcow2", std::nullopt}}});
  expectMatches<api::VmSnapshot>(
      {true,
       1700000000,
       {{"vda", "/m/i/.gdr-snapshots/o.qcow2", "/m/i/b.qcow2", api::VolumePath{"pri", "i/.gdr-snapshots/o.qcow2"}}}});
  expectMatches<api::VmMerge>({"0f0e0d0c-0b0a-4908-8706-050403020100"});
  expectMatches<api::RecoveryPointDrill>({"0f0e0d0c-0b0a-4908-8706-050403020100"});
  expectMatches<api::VmSaveDefinition>(
      {{"pri", ".gdr/vms/u.xml"}, "ab", 1234, 1700000000, {{"vda", "/m/i/b.qcow2", "qcow2", {"pri", "i/b.qcow2"}}}});
}

TEST(Contract, RecoveryPointResultsAndTheManifestMatchTheSchema) {
  api::PointManifest m;
  m.id = "20261202T131500Z-0a1b2c3d";
  m.time = 1764681300;
  m.volume = "pri";
  m.flowId = "f";
  api::PointDisk disk;
  static_cast<api::PointImage&>(disk) = {
      "i/b.qcow2", "qcow2", 1 << 30, 65536, {4 << 20, 65536, std::nullopt, "ab", {"0123456789abcdef"}}};
  disk.drive = "vda";
  // Deltas are sampled after their header cluster.
  disk.delta =
      api::PointImage{"i/.gdr-snapshots/b.2.qcow2", "qcow2", 1 << 30, 327680, {4 << 20, 65536, 65536, "cd", {}}};
  disk.olderDeltas.push_back(
      api::PointImage{"i/.gdr-snapshots/b.1.qcow2", "qcow2", 1 << 30, 327680, {4 << 20, 65536, 65536, "ef", {}}});
  m.vms.push_back({"u", "vm1", {".gdr/vms/u.xml", "ab", 12}, {disk}});
  expectMatches<api::RecoveryPointSave>({{"pri", ".gdr/points/" + m.id + ".json"}});
  expectMatches<api::RecoveryPointPrune>(
      {{"20261202T131000Z-0a1b2c3d"}, {m.id}, {"i/.gdr-snapshots/b.0.qcow2"}, {".gdr/vms/u-0123456789abcdef.xml"}});
  expectMatches<api::RecoveryPointList>(
      {{{m.id, m.time, "incomplete", {"vm1"}, 65536, true, {{"vm1", "vda", "i/b.qcow2 is missing"}}, {}}}});
  const api::PointCheckResult checked{m.id, true, true, 131072, {}, {{"vm1", "vda", "i/b.qcow2 differs"}}};
  expectMatches<api::RecoveryPointCheck>(checked);
  expectMatches<api::RecoveryPointSeal>(
      {{"sec", ".gdr/points/" + m.id + ".seal"}, checked, {"20261202T131000Z-0a1b2c3d"}});
  // What gdr-sync sends is what the agent accepts: the manifest passes the
  // schema as recoveryPointSave's parameter, and a wrong one does not.
  const Schema& schema = builtinSchema();
  Json::Value params = api::encode(api::PointSaveParams{"pri", m});
  EXPECT_NO_THROW(schema.validate(*schema.find("GlusterVolume.recoveryPointSave"), params));
  params["manifest"]["id"] = "../../etc";
  EXPECT_ANY_THROW(schema.validate(*schema.find("GlusterVolume.recoveryPointSave"), params));
}

TEST(Contract, GlusterVolumeResultsMatchTheSchema) {
  expectMatches<api::OverlayDelete>({{{"a.qcow2", false, "absent", 0, std::nullopt}}, false, false, std::nullopt});
  expectMatches<api::OverlayDelete>({{{"a.qcow2", true, "deleted", 4096, true}}, false, true, "sharded"});
  expectMatches<api::FileStat>({"images", "directory", 4096, 1700000000, 0755, "gfid"});
  expectMatches<api::GeoRepResyncFile>({"images/b.qcow2", 3});
  api::ChecksumResult sum;
  sum.path = "b";
  sum.offset = 0;
  sum.bytes = 10;
  sum.sha256 = "ab";
  expectMatches<api::FileChecksum>(sum);
  sum.offset.reset();
  sum.ranges = 2;
  sum.sampleStride = 4 << 20;
  sum.sampleLength = 65536;
  sum.rangeSums = std::vector<std::string>{"0123456789abcdef", "fedcba9876543210"};
  expectMatches<api::FileChecksum>(sum);
  expectMatches<api::ImageInfo>({"raw.img", "raw", 10, 10, std::nullopt, std::nullopt, std::nullopt});
  expectMatches<api::ImageInfo>({"o.qcow2", "qcow2", 1 << 30, 196608, 65536, 3, "../b.qcow2"});
  expectMatches<api::ShardLayout>(
      {"b", "gfid", 8 << 20, 4 << 20, {{0, 0, "g0", 1796575889542395512u}, {1, 4 << 20, "", std::nullopt}}});
  expectMatches<api::VolumeEmptyCheck>({true, {}});
  expectMatches<api::VolumeEmptyCheck>({false, {"images"}});
  expectMatches<api::GeoRepSessionList>({{{"key", "pri", "127.0.0.2", "sec", "root", {worker(false), worker(true)}}}});
  expectMatches<api::GeoRepSessionStatus>({{worker(true)}});
  expectMatches<api::GeoRepSessionStart>({});
  expectMatches<api::GeoRepConfigList>({{{"checkpoint", "1700000000"}, {"sync_method", "rsync"}}});
  expectMatches<api::GeoRepCheckpointSet>({1700000000});
  expectMatches<api::GeoRepSync>({"0f0e0d0c-0b0a-4908-8706-050403020100"});
  expectMatches<api::GeoRepKeysGet>({{"command=\"/usr/libexec/glusterfs/gsyncd\" ssh-rsa AAAA root@node1"}});
  expectMatches<api::GeoRepKeysUpdate>({2, 1});
  expectMatches<api::GeoRepMountBrokerSetup>({"/var/mountbroker-root", {"2d4098ac-26f2-4a4b-8d41-3c014b48b05c"}});
}

TEST(Contract, ResultCheckRejectsWhatTheSchemaDoesNotDescribe) {
  const Schema& schema = builtinSchema();
  const VerbSpec& snapshot = *schema.find("VM.snapshot");
  Json::Value good = api::encode(api::SnapshotResult{true, 1, {{"vda", "t", "b", std::nullopt}}});
  EXPECT_NO_THROW(schema.validateResult(snapshot, good));

  Json::Value missing = good;
  missing.removeMember("snapshotTime");
  EXPECT_THROW(schema.validateResult(snapshot, missing), std::logic_error);

  Json::Value renamed = good;
  renamed["disks"][0]["overlay"] = renamed["disks"][0]["top"];
  renamed["disks"][0].removeMember("top");
  EXPECT_THROW(schema.validateResult(snapshot, renamed), std::logic_error);

  Json::Value wrongType = good;
  wrongType["quiesced"] = "yes";
  EXPECT_THROW(schema.validateResult(snapshot, wrongType), std::logic_error);

  Json::Value unexpectedNull = good;
  unexpectedNull["disks"][0]["base"] = Json::Value();
  EXPECT_THROW(schema.validateResult(snapshot, unexpectedNull), std::logic_error);

  try {
    schema.validateResult(snapshot, renamed);
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("result.disks[0]"), std::string::npos) << e.what();
  }
}

TEST(Contract, DecodeNamesTheMemberThatIsWrong) {
  Json::Value json = api::encode(api::SnapshotResult{true, 1, {{"vda", "t", "b", std::nullopt}}});
  json["disks"][0]["top"] = 3;
  try {
    api::decode<api::SnapshotResult>(json);
    ADD_FAILURE() << "decoded a number as a string";
  } catch (const api::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("disks[0].top"), std::string::npos) << e.what();
  }
  json.removeMember("disks");
  EXPECT_THROW(api::decode<api::SnapshotResult>(json), api::DecodeError);
}

TEST(Contract, JobStatesHaveOneSpellingEach) {
  EXPECT_STREQ(api::enumName(api::MergeState::Ready), "READY");
  EXPECT_EQ(api::enumFromName<api::SyncState>("STOPPING"), api::SyncState::Stopping);
  EXPECT_FALSE(api::enumFromName<api::SyncState>("READY"));
  EXPECT_TRUE(api::isTerminalState(api::enumName(api::MergeState::Aborted)));
  EXPECT_FALSE(api::isTerminalState(api::enumName(api::SyncState::Syncing)));
}

}  // namespace
}  // namespace gdr
