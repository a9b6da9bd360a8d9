// The DR cycle against fake agents: what it asks of each host, in which
// order, and that once a snapshot exists every failure still merges every
// VM back, with the exit codes gdr-sync returns.
#include <gtest/gtest.h>
#include <json/json.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <set>

#include "api/codes.h"
#include "client/cycle.h"
#include "client/merge_pace.h"

namespace gdr::sync {
namespace {

using client::ClientError;

constexpr const char* kPrimary = "gdr-primary";
constexpr const char* kSecondary = "gdr-secondary";

// One host's agent: its VMs, and knobs to make each call fail.
class FakeAgent : public AgentApi {
 public:
  explicit FakeAgent(std::string endpoint) : endpoint_(std::move(endpoint)) {}

  void addVm(const std::string& id, const std::string& name, size_t chainLength = 1) {
    api::VmInfo vm;
    vm.vmId = id;
    vm.name = name;
    vm.state = "running";
    api::VmDisk disk;
    disk.target = "vda";
    disk.device = "disk";
    disk.type = "file";
    disk.format = "qcow2";
    disk.path = "/mnt/primary/images/" + name + ".qcow2";
    disk.chain.assign(chainLength, disk.path);
    disk.gluster = api::GlusterLocation{"127.0.0.2", kPrimary, "images/" + name + ".qcow2", {}};
    vm.disks.push_back(disk);
    vms_.push_back(vm);
  }

  // As a killed cycle leaves it: the VM's drive on an overlay of its base.
  void putOnOverlay(const std::string& id) {
    for (auto& vm : vms_) {
      if (vm.vmId != id) continue;
      auto& disk = vm.disks.front();
      const std::string base = disk.chain.back();
      disk.path = "/mnt/primary/images/.gdr-snapshots/" + vm.name + ".0.qcow2";
      disk.chain = {disk.path, base};
    }
  }
  bool onOneImage(const std::string& id) { return find(id).disks.front().chain.size() == 1; }
  api::VmInfo& find(const std::string& id) { return findVm(id); }
  void removeVms() { vms_.clear(); }

  // Knobs.
  bool unreachable = false;
  bool lostDuringSync = false;            // stops answering while its sync job runs
  std::set<std::string> snapshotFails;    // VM ids
  std::set<std::string> definitionFails;  // VM ids
  bool manifestFails = false;
  int sealFailures = 0;  // the next seals fail (3232: a file differs when -1 for ever)
  std::vector<std::string> sealed;
  std::vector<api::PointManifest> manifests;
  std::string georepOutcome = api::kJobDone;
  int georepErrorCode = 3101;            // when georepOutcome is not DONE
  bool syncAlreadyRunning = false;       // the first start finds an earlier run's sync job
  bool secondaryContentDiffers = false;  // in stride 3 (12 MiB) of each image
  bool resyncRepairsContent = false;     // a resync mark makes the copies the same
  // The secondary's copy of this file differs at byte 15 MiB (stride 3),
  // where neither the 1 MiB ranges of a sample check nor the 64 KiB
  // samples of each stride read: only a read of every byte sees it.
  std::string unsampledDifferenceIn;
  static constexpr std::uint64_t kUnsampledByte = 15 << 20;
  // The secondary holds piece 3 (12 MiB) of this file with another
  // modification time: geo-replication did not resend it after its last
  // change.
  std::string pieceModifiedApartIn;
  std::vector<bool> syncStopsSession;         // each sync's stopAfter
  std::vector<bool> syncStartsAfterRollover;  // each sync's startAfterRollover
  int foreignShardReadings = 0;               // how many secondary layout readings show shard 1 under another gfid
  int secondaryReadErrors = 0;                // secondary fileChecksum calls that fail before one succeeds
  // The secondary has no file at this path (its creation never reached it)
  // until it is marked for resync, when `resyncCreatesMissing`.
  std::string missingOnSecondary;
  bool resyncCreatesMissing = true;
  int primaryShortReads = 0;               // primary fileChecksum calls that read short before one succeeds
  std::uint64_t imageBytes = 64ull << 20;  // every image's size on the volume (imageInfo)
  bool overlayDeleteFails = false;
  std::set<std::string> mergeFails;  // VM ids
  // Each checksum waits (up to 300 ms) for a second one to be in flight:
  // how many were at once, at most, says whether the sites are read together.
  bool checksumsWaitForAnother = false;
  int checksumsAtOnce = 0;
  // Snapshots and merges change the chains as libvirt does (overlays named
  // NAME.1, NAME.2, ... in the order made).
  bool realChains = false;
  // Overlays named as the agent names them, NAME.YYYYMMDDTHHMMSSZ.N.qcow2,
  // with a time this many seconds before the snapshot (unset: NAME.N.qcow2).
  std::optional<std::int64_t> overlayBegunSecondsAgo;

  // What was asked.
  std::vector<std::string> calls;
  std::vector<api::MergeParams> merges;
  std::vector<api::OverlayDeleteParams> deletions;
  std::vector<api::ResyncParams> resyncs;

  const std::string& endpoint() const override { return endpoint_; }

  api::VmList getVMList() override {
    record("getVMList");
    if (unreachable) throw ClientError(ClientError::Kind::Connection, "cannot connect to " + endpoint_);
    return {vms_};
  }

  api::SnapshotResult snapshot(const api::SnapshotParams& p) override {
    record("snapshot " + p.vmId);
    if (snapshotFails.count(p.vmId)) throw ClientError(ClientError::Kind::Verb, "snapshot refused", 48);
    api::VmInfo& vm = find(p.vmId);
    api::SnapshotResult out{true, 1700000000 + std::int64_t(calls.size()), {}};
    std::string n = realChains ? std::to_string(++overlaysMade_) : "1";
    if (overlayBegunSecondsAgo) {
      const std::time_t begun = std::time(nullptr) - *overlayBegunSecondsAgo;
      std::tm tm{};
      gmtime_r(&begun, &tm);
      char stamp[32];
      std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
      n = stamp + ("." + n);
    }
    for (auto& d : vm.disks) {
      out.disks.push_back({d.target, "/mnt/primary/images/.gdr-snapshots/" + vm.name + "." + n + ".qcow2", d.path,
                           api::VolumePath{kPrimary, "images/.gdr-snapshots/" + vm.name + "." + n + ".qcow2"}});
      if (realChains) {
        d.path = out.disks.back().top;
        d.chain.insert(d.chain.begin(), d.path);
        d.gluster->path = out.disks.back().topOnVolume->path;
      }
    }
    return out;
  }

  api::SaveDefinitionResult saveDefinition(const api::VmParams& p) override {
    record("saveDefinition " + p.vmId);
    if (definitionFails.count(p.vmId)) throw ClientError(ClientError::Kind::Verb, "cannot write the definition", 1105);
    const api::VmInfo& vm = find(p.vmId);
    api::SaveDefinitionResult out;
    out.definition = {kPrimary, ".gdr/vms/" + p.vmId + ".xml"};
    out.sha256 = "d3f";
    out.size = 1234;
    for (const auto& d : vm.disks) out.disks.push_back({d.target, d.path, "qcow2", {kPrimary, "images/" + vm.name}});
    return out;
  }

  std::string startMerge(const api::MergeParams& p) override {
    record("merge " + p.vmId);
    std::lock_guard<std::mutex> lock(mutex_);
    merges.push_back(p);
    const std::string id = "merge-" + p.vmId;
    jobs_[id] = job(id, api::kMergeJobType, mergeFails.count(p.vmId) ? api::kJobFailed : api::kJobDone);
    for (auto& vm : vms_) {
      auto& disk = vm.disks.front();
      if (vm.vmId != p.vmId || mergeFails.count(p.vmId)) continue;
      if (realChains) {  // the top leaves the chain; an active commit pivots
        const auto top = std::find(disk.chain.begin(), disk.chain.end(), *p.topVolume);
        if (top == disk.chain.end()) continue;
        const bool active = top == disk.chain.begin();
        disk.chain.erase(top);
        if (active) {
          disk.path = disk.chain.front();
          disk.gluster->path = disk.path.substr(std::string("/mnt/primary/").size());
        }
      } else if (disk.chain.size() == 2 && disk.chain[0] == p.topVolume) {
        disk.chain = {disk.chain[1]};
        disk.path = disk.chain[0];
      }
    }
    return id;
  }

  std::string startGeoRepSync(const api::GeoRepSyncParams& p) override {
    record("geoRepSync " + p.volumeName + " " + p.remoteHost + "::" + p.remoteVolumeName);
    syncStopsSession.push_back(p.stopAfter);
    syncStartsAfterRollover.push_back(p.startAfterRollover);
    if (syncAlreadyRunning) {
      syncAlreadyRunning = false;
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_["sync-earlier"] = job("sync-earlier", api::kGeoRepSyncJobType, api::kJobDone);
      Json::Value data;
      data["jobId"] = "sync-earlier";
      throw ClientError(ClientError::Kind::Verb, "a geo-replication sync of this session is already running", 69, data);
    }
    const std::string id = "sync-" + std::to_string(calls.size());
    api::Job j = job(id, api::kGeoRepSyncJobType, georepOutcome);
    api::GeoRepSyncJobDetails d;
    d.volumeName = p.volumeName;
    d.workersTotal = 1;
    d.workersCompleted = georepOutcome == api::kJobDone ? 1 : 0;
    d.checkpointTime = 1700000100;
    if (p.startAfterRollover) {
      d.rolloverWaited = 6250;
      d.rolloverWait = "every brick rolled a changelog past the checkpoint";
    }
    if (georepOutcome != api::kJobDone)
      j.error = api::JobError{georepErrorCode, "geo-replication worker node1:/b (Faulty)"};
    j.details = api::encode(d);
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_[id] = j;
    return id;
  }

  api::OverlayDeleteResult overlayDelete(const api::OverlayDeleteParams& p) override {
    record("overlayDelete " + p.volumeName);
    if (overlayDeleteFails) throw ClientError(ClientError::Kind::Verb, "guard refused", 3215);
    deletions.push_back(p);
    return {{{p.paths.front(), true, "deleted", 1 << 20, true}}, false, true, std::nullopt};
  }

  api::ImageInfoResult imageInfo(const api::FileParams& p) override {
    record("imageInfo " + p.volumeName);
    if (p.volumeName == kSecondary && p.path == missingOnSecondary) {
      throw ClientError(ClientError::Kind::Verb, "no file at '" + p.path + "'", 3218);
    }
    return {p.path, "qcow2", 2ull << 30, imageBytes, 65536, 3, std::nullopt};
  }

  api::ShardLayoutResult shardLayout(const api::FileParams& p) override {
    record("shardLayout " + p.volumeName);
    api::ShardLayoutResult out{p.path, "gfid-file", 64ull << 20, 4 << 20, {}};
    for (std::uint64_t i = 0; i < 16; ++i) {
      out.pieces.push_back({i, i * (4 << 20), "gfid-" + std::to_string(i), 1796575889000000000u + i});
    }
    if (p.volumeName == kSecondary && p.path == pieceModifiedApartIn) *out.pieces[3].mtimeNs -= 1000;
    if (p.volumeName == kSecondary && foreignShardReadings > 0) {
      --foreignShardReadings;
      out.pieces[1].gfid = "gfid-foreign";
    }
    return out;
  }

  api::ChecksumResult fileChecksum(const api::ChecksumParams& p) override {
    record("fileChecksum " + p.volumeName);
    if (p.volumeName == kSecondary) {  // a piece not found yet
      std::lock_guard<std::mutex> lock(mutex_);
      if (secondaryReadErrors > 0) {
        --secondaryReadErrors;
        throw ClientError(ClientError::Kind::Verb, "no such file", 3218);
      }
    }
    if (checksumsWaitForAnother) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++checksumsInFlight_;
      checksumsAtOnce = std::max(checksumsAtOnce, checksumsInFlight_);
      checksumArrived_.notify_all();
      checksumArrived_.wait_for(lock, std::chrono::milliseconds(300), [this] { return checksumsInFlight_ >= 2; });
      checksumsAtOnce = std::max(checksumsAtOnce, checksumsInFlight_);
      --checksumsInFlight_;
    }
    if (p.volumeName == kPrimary && primaryShortReads > 0) {
      --primaryShortReads;
      const std::string why = "the read ended 65536 bytes short of the file's size";
      throw ClientError(ClientError::Kind::Verb, "cannot read '" + p.path + "' at byte 51089408: " + why, 4570);
    }
    api::ChecksumResult out;
    out.path = p.path;
    out.offset = p.offset;
    out.bytes = p.length.value_or(64ull << 20);
    const bool readsUnsampledByte =
        p.sampleStride ? (kUnsampledByte - p.offset) % *p.sampleStride < p.sampleLength
                       : p.offset <= kUnsampledByte && kUnsampledByte - p.offset < p.length.value_or(64ull << 20);
    const bool differs = p.volumeName == kSecondary &&
                         (secondaryContentDiffers || (readsUnsampledByte && p.path == unsampledDifferenceIn));
    out.sha256 = differs ? "bad" : "good";
    if (p.sampleStride) {
      out.sampleStride = p.sampleStride;
      out.rangeSums = std::vector<std::string>(16, "same");
      if (differs) (*out.rangeSums)[3] = "other";
    }
    return out;
  }

  api::PointSaveResult recoveryPointSave(const api::PointSaveParams& p) override {
    record("recoveryPointSave " + p.volumeName + " " + p.manifest.id);
    if (manifestFails) throw ClientError(ClientError::Kind::Verb, "this host does not mount volume gdr-primary", 3231);
    std::lock_guard<std::mutex> lock(mutex_);
    manifests.push_back(p.manifest);
    return {{p.volumeName, ".gdr/points/" + p.manifest.id + ".json"}};
  }

  api::PointPruneResult recoveryPointPrune(const api::PointPruneParams& p) override {
    record("recoveryPointPrune " + p.volumeName + " " + std::to_string(p.keep) + (p.removeDeltas ? " deltas" : ""));
    return {{"20231114T000000Z-00000000"}, {}, {}, {}};
  }

  api::PointSealResult recoveryPointSeal(const api::PointCheckParams& p) override {
    record("recoveryPointSeal " + p.volumeName + " " + p.pointId);
    if (sealFailures < 0) {
      throw ClientError(ClientError::Kind::Verb, "recovery point " + p.pointId + " is not sealed: vm1 vda: differs",
                        3232);
    }
    if (sealFailures > 0) {
      --sealFailures;
      throw ClientError(ClientError::Kind::Verb, "cannot read '.gdr/points': Stale file handle", 4570);
    }
    sealed.push_back(p.pointId);
    api::PointSealResult out;
    out.seal = {p.volumeName, ".gdr/points/" + p.pointId + ".seal"};
    out.check.id = p.pointId;
    out.check.complete = out.check.sealed = true;
    return out;
  }

  api::PointListResult recoveryPointList(const api::VolumeRef& p) override {
    record("recoveryPointList " + p.volumeName);
    return {};
  }

  api::ResyncResult geoRepResyncFile(const api::ResyncParams& p) override {
    record("geoRepResyncFile " + p.path);
    resyncs.push_back(p);
    if (resyncCreatesMissing && p.path == missingOnSecondary) missingOnSecondary.clear();
    if (resyncRepairsContent) {
      secondaryContentDiffers = false;
      unsampledDifferenceIn.clear();
      pieceModifiedApartIn.clear();
    }
    return {p.path, p.offsets.size()};
  }

  api::Job waitJob(const std::string& jobId, const std::function<void(const api::Job&)>& onPoll,
                   std::chrono::seconds) override {
    if (lostDuringSync && jobId.rfind("sync-", 0) == 0) {
      throw ClientError(ClientError::Kind::Connection, "cannot connect to " + endpoint_);
    }
    api::Job j;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      j = jobs_.at(jobId);
    }
    onPoll(j);
    return j;
  }

  size_t count(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::count_if(calls.begin(), calls.end(), [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
  }
  // Where the first call starting with `prefix` stands among the calls (their count when none).
  size_t position(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::find_if(calls.begin(), calls.end(), [&](const std::string& c) { return c.rfind(prefix, 0) == 0; }) -
           calls.begin();
  }

 private:
  void record(const std::string& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls.push_back(call);
  }
  // (public, see below)
  api::VmInfo& findVm(const std::string& id) {
    for (auto& vm : vms_) {
      if (vm.vmId == id) return vm;
    }
    throw ClientError(ClientError::Kind::Verb, "no such VM", 1);
  }
  static api::Job job(const std::string& id, const char* type, const std::string& state) {
    api::Job j;
    j.id = id;
    j.type = type;
    j.state = state;
    if (state == api::kJobFailed) j.error = api::JobError{52, "merge of vda failed"};
    return j;
  }

  std::string endpoint_;
  std::vector<api::VmInfo> vms_;
  int overlaysMade_ = 0;
  std::map<std::string, api::Job> jobs_;
  std::mutex mutex_;
  std::condition_variable checksumArrived_;
  int checksumsInFlight_ = 0;
};

class CycleTest : public ::testing::Test {
 protected:
  CycleTest() : host1_("unix:/run/host1.sock"), host2_("unix:/run/host2.sock") {
    host1_.addVm("vm-1", "vm1");
    host2_.addVm("vm-2", "vm2");
    options_.volume = kPrimary;
    options_.secondaryHost = "127.0.0.2";
    options_.secondaryVolume = kSecondary;
    options_.flowId = "gdr-sync-test";
    options_.layout = Layout::Flat;  // the delta layout's tests ask for it
  }

  Json::Value run() {
    const ProgressFn progress = [this](const std::string& step, const std::string& detail, bool done) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(step + " " + detail + (done ? " (done)" : ""));
    };
    return runCycle(options_, {&host1_, &host2_}, progress, [this](std::chrono::milliseconds) { ++sleeps_; });
  }

  // The first step of that name in the report (null when there is none).
  static Json::Value stepNamed(const Json::Value& report, const std::string& name) {
    for (const auto& s : report["steps"]) {
      if (s["step"] == name) return s;
    }
    return Json::Value();
  }

  static std::vector<std::string> stepNames(const Json::Value& report) {
    std::vector<std::string> out;
    for (const auto& s : report["steps"]) out.push_back(s["step"].asString() + ":" + s["status"].asString());
    return out;
  }

  // Every VM snapshotted was merged back on its own host.
  void expectAllMergedBack() {
    ASSERT_EQ(host1_.merges.size(), 1u);
    EXPECT_EQ(host1_.merges[0].vmId, "vm-1");
    EXPECT_EQ(host1_.merges[0].topVolume, "/mnt/primary/images/.gdr-snapshots/vm1.1.qcow2");
    EXPECT_EQ(host1_.merges[0].baseVolume, "/mnt/primary/images/vm1.qcow2");
    EXPECT_TRUE(host1_.merges[0].deleteTop);
    ASSERT_EQ(host2_.merges.size(), 1u);
    EXPECT_EQ(host2_.merges[0].vmId, "vm-2");
  }

  FakeAgent host1_, host2_;
  CycleOptions options_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
  int sleeps_ = 0;
};

TEST_F(CycleTest, ASuccessfulCycleAcrossTwoHosts) {
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess);
  EXPECT_EQ(report["status"], "success");
  EXPECT_FALSE(report.isMember("alert"));
  EXPECT_EQ(stepNames(report),
            (std::vector<std::string>{"discover:ok", "snapshot:ok", "definitions:ok", "manifest:ok", "georep:ok",
                                      "verify:ok", "overlay-delete:ok", "seal:ok", "merge:ok"}));
  EXPECT_EQ(report["flowId"], "gdr-sync-test");
  EXPECT_TRUE(report["recoveryPoint"].isIntegral());
  // Each step says when it began, in order: a step lines up with the logs.
  double previous = 0;
  for (const auto& s : report["steps"]) {
    ASSERT_TRUE(s["startTime"].isDouble()) << s;
    EXPECT_GE(s["startTime"].asDouble(), previous) << s;
    EXPECT_GT(s["startTime"].asDouble(), 1.7e9) << s;
    previous = s["startTime"].asDouble();
  }
  // Geo-replication once, through the first host.
  EXPECT_EQ(host1_.count("geoRepSync gdr-primary 127.0.0.2::gdr-secondary"), 1u);
  EXPECT_EQ(host2_.count("geoRepSync"), 0u);
  // Each overlay deleted on the secondary by its own host, its base named.
  ASSERT_EQ(host1_.deletions.size(), 1u);
  EXPECT_EQ(host1_.deletions[0].volumeName, kSecondary);
  EXPECT_EQ(host1_.deletions[0].paths, std::vector<std::string>{"images/.gdr-snapshots/vm1.1.qcow2"});
  EXPECT_EQ(host1_.deletions[0].expectedBacking, "images/vm1.qcow2");
  ASSERT_EQ(host2_.deletions.size(), 1u);
  EXPECT_EQ(host2_.deletions[0].paths, std::vector<std::string>{"images/.gdr-snapshots/vm2.1.qcow2"});
  expectAllMergedBack();
  // Each VM's definition saved by its own host, before the sync carries it.
  EXPECT_EQ(host1_.count("saveDefinition vm-1"), 1u);
  EXPECT_EQ(host2_.count("saveDefinition vm-2"), 1u);
  EXPECT_LT(host1_.position("saveDefinition vm-1"), host1_.position("geoRepSync gdr-primary 127.0.0.2::gdr-secondary"));
  // The report names each VM's host, disks and definition.
  ASSERT_EQ(report["vms"].size(), 2u);
  EXPECT_EQ(report["vms"][1]["definition"]["path"], ".gdr/vms/vm-2.xml");
  EXPECT_EQ(report["vms"][1]["definition"]["sha256"], "d3f");
  // The point's manifest, saved on the primary before the sync ships it:
  // each VM's definition, each base's header and sampled sums.
  ASSERT_EQ(host1_.manifests.size(), 1u);
  EXPECT_LT(host1_.position("recoveryPointSave"), host1_.position("geoRepSync"));
  const api::PointManifest& m = host1_.manifests.front();
  EXPECT_EQ(m.volume, kPrimary);
  EXPECT_EQ(m.time, report["recoveryPoint"].asInt64());
  EXPECT_EQ(m.id.size(), 25u);
  EXPECT_EQ(report["point"]["id"], m.id);
  EXPECT_EQ(report["point"]["manifest"], ".gdr/points/" + m.id + ".json");
  ASSERT_EQ(m.vms.size(), 2u);
  EXPECT_EQ(m.vms[1].name, "vm2");
  EXPECT_EQ(m.vms[1].definition.path, ".gdr/vms/vm-2.xml");
  EXPECT_EQ(m.vms[1].definition.size, 1234u);
  ASSERT_EQ(m.vms[1].disks.size(), 1u);
  EXPECT_EQ(m.vms[1].disks[0].path, "images/vm2.qcow2");
  EXPECT_EQ(m.vms[1].disks[0].virtualSize, 2ull << 30);
  EXPECT_EQ(m.vms[1].disks[0].sample.stride, 4u << 20);
  EXPECT_EQ(m.vms[1].disks[0].sample.sha256, "good");
  // Kept: the newest three, pruned once the cycle succeeded.
  EXPECT_EQ(host1_.count("recoveryPointPrune gdr-primary 3"), 1u);
  EXPECT_GT(host1_.position("recoveryPointPrune"), host1_.position("merge"));
  EXPECT_EQ(report["point"]["pruned"][0], "20231114T000000Z-00000000");
  EXPECT_EQ(report["vms"][1]["host"], "unix:/run/host2.sock");
  EXPECT_EQ(report["vms"][1]["disks"][0]["overlay"], "images/.gdr-snapshots/vm2.1.qcow2");
}

// The journal of a cycle, in memory, with every version it was saved as.
class MemoryJournal : public CycleJournal {
 public:
  std::optional<Json::Value> load() override { return current; }
  void save(const Json::Value& journal) override {
    if (saveFails) throw std::runtime_error("cannot write cycle-journal.json: No space left on device");
    current = journal;
    saved.push_back(journal);
  }
  void clear() override { current.reset(); }
  std::optional<Json::Value> current;
  std::vector<Json::Value> saved;
  bool saveFails = false;
};

TEST_F(CycleTest, TheJournalNamesEveryVmBeforeItsSnapshotAndIsClearedWhenAllAreBack) {
  MemoryJournal journal;
  options_.journal = &journal;
  EXPECT_EQ(run()["outcome"].asInt(), kSuccess);
  ASSERT_EQ(journal.saved.size(), 2u);
  EXPECT_EQ(journal.saved[0]["step"], "snapshot");
  ASSERT_EQ(journal.saved[0]["vms"].size(), 2u);
  EXPECT_EQ(journal.saved[0]["vms"][0]["host"], "unix:/run/host1.sock");
  EXPECT_EQ(journal.saved[0]["vms"][0]["disks"][0]["base"], "/mnt/primary/images/vm1.qcow2");
  EXPECT_EQ(journal.saved[1]["vms"][1]["disks"][0]["top"], "/mnt/primary/images/.gdr-snapshots/vm2.1.qcow2");
  EXPECT_FALSE(journal.current);
}

TEST_F(CycleTest, NoJournalNoSnapshot) {
  MemoryJournal journal;
  journal.saveFails = true;
  options_.journal = &journal;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedUnchanged);
  EXPECT_NE(report["alert"].asString().find("No space left"), std::string::npos) << report["alert"];
  EXPECT_EQ(host1_.count("snapshot"), 0u);
}

TEST_F(CycleTest, AnInterruptedCycleIsAdoptedItsOverlaysMergedBackThenANewCycleRuns) {
  MemoryJournal journal;
  options_.journal = &journal;
  EXPECT_EQ(run()["outcome"].asInt(), kSuccess);
  journal.current = journal.saved[1];  // as if killed after the snapshots
  (*journal.current)["flowId"] = "gdr-sync-killed";
  host1_.putOnOverlay("vm-1");  // vm-2 was merged back before the kill
  host1_.merges.clear();
  host2_.merges.clear();
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report.toStyledString();
  EXPECT_EQ(report["interrupted"]["flowId"], "gdr-sync-killed");
  EXPECT_EQ(stepNames(report).front(), "adopt:ok");
  EXPECT_EQ(report["steps"][0]["merged"].asInt(), 1);
  ASSERT_EQ(host1_.merges.size(), 2u);  // the adopted overlay, then this cycle's own
  EXPECT_EQ(host1_.merges[0].topVolume, "/mnt/primary/images/.gdr-snapshots/vm1.0.qcow2");
  EXPECT_EQ(host1_.merges[0].baseVolume, "/mnt/primary/images/vm1.qcow2");
  EXPECT_EQ(host2_.merges.size(), 1u);  // only this cycle's
  EXPECT_TRUE(host1_.onOneImage("vm-1"));
  EXPECT_FALSE(journal.current);
}

// Delta layout: a run that got its point onto the secondary but not its
// deltas committed (here the commit failed; a kill would leave the same)
// is finished by the next run, which commits them and goes on.
TEST_F(CycleTest, TheDeltaLayoutFinishesTheCommitAnInterruptedRunLeft) {
  MemoryJournal journal;
  options_.journal = &journal;
  options_.layout = Layout::Delta;
  options_.keepPoints = 1;  // each delta committed by the cycle that ships it
  host1_.realChains = host2_.realChains = true;
  ASSERT_EQ(run()["outcome"].asInt(), kSuccess);
  host1_.mergeFails = {"vm-1"};
  Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kMergeBackFailed);
  EXPECT_NE(report["alert"].asString().find("committing the deltas failed"), std::string::npos) << report["alert"];
  ASSERT_TRUE(journal.current);
  EXPECT_EQ((*journal.current)["step"], "commit");
  EXPECT_EQ(host1_.find("vm-1").disks[0].chain.size(), 3u);
  host1_.mergeFails.clear();
  host1_.merges.clear();
  report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report.toStyledString();
  EXPECT_EQ(report["interrupted"]["step"], "commit");
  EXPECT_EQ(report["steps"][0]["merged"].asInt(), 1);
  ASSERT_EQ(host1_.merges.size(), 2u);  // the interrupted run's commit, then this cycle's
  EXPECT_EQ(host1_.merges[0].topVolume, "/mnt/primary/images/.gdr-snapshots/vm1.1.qcow2");
  EXPECT_EQ(host1_.merges[0].baseVolume, "/mnt/primary/images/vm1.qcow2");
  EXPECT_FALSE(host1_.merges[0].deleteTop);
  EXPECT_EQ(host1_.merges[1].topVolume, "/mnt/primary/images/.gdr-snapshots/vm1.2.qcow2");
  EXPECT_EQ(host1_.find("vm-1").disks[0].chain.size(), 2u);
  EXPECT_FALSE(journal.current);
}

TEST_F(CycleTest, WhenAdoptingFailsNoNewCycleStartsAndTheJournalStays) {
  MemoryJournal journal;
  options_.journal = &journal;
  run();
  journal.current = journal.saved[1];
  host1_.putOnOverlay("vm-1");
  host1_.mergeFails = {"vm-1"};
  host1_.merges.clear();
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kMergeBackFailed);
  EXPECT_EQ(stepNames(report), std::vector<std::string>{"adopt:failed"});
  EXPECT_EQ(host1_.count("snapshot"), 1u);  // only the first run's
  EXPECT_TRUE(journal.current);
}

TEST_F(CycleTest, ASyncStillRunningFromAnEarlierRunIsWaitedForThenOneIsStarted) {
  host1_.syncAlreadyRunning = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report.toStyledString();
  EXPECT_EQ(host1_.count("geoRepSync"), 2u);
  EXPECT_EQ(stepNamed(report, "georep")["waitedFor"], "sync-earlier");
}

TEST_F(CycleTest, ProgressLinesNameEachStep) {
  run();
  auto has = [&](const std::string& line) { return std::count(lines_.begin(), lines_.end(), line) == 1; };
  EXPECT_TRUE(has("discover 2 VMs on gdr-primary (done)"));
  EXPECT_TRUE(has("snapshot 2/2 VMs (done)"));
  EXPECT_TRUE(has("geo-rep 1/1 workers"));
  EXPECT_TRUE(has("geo-rep DONE (done)"));
  EXPECT_TRUE(has("overlay delete 2/2 (done)"));
  EXPECT_TRUE(has("merge 2/2 (done)"));
  for (const auto& line : lines_) EXPECT_EQ(line.find("0/0 workers"), std::string::npos) << line;
}

TEST_F(CycleTest, AFailedGeoReplicationMergesEveryVmBack) {
  host1_.georepOutcome = api::kJobFailed;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(report["alert"].asString().find("geo-replication failed: 3101"), std::string::npos)
      << report["alert"].asString();
  EXPECT_EQ(stepNames(report), (std::vector<std::string>{"discover:ok", "snapshot:ok", "definitions:ok", "manifest:ok",
                                                         "georep:failed", "merge:ok"}));
  EXPECT_TRUE(host1_.deletions.empty());
  expectAllMergedBack();
}

TEST_F(CycleTest, ACopyThatDiffersFailsVerificationKeepsTheOverlaysAndMergesBack) {
  options_.repair = false;  // --no-repair
  host2_.secondaryContentDiffers = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(report["alert"].asString().find("verification of the secondary failed"), std::string::npos);
  EXPECT_NE(report["alert"].asString().find("images/vm2.qcow2 differs"), std::string::npos)
      << report["alert"].asString();
  EXPECT_TRUE(host1_.deletions.empty());
  EXPECT_TRUE(host2_.deletions.empty());
  EXPECT_TRUE(host2_.resyncs.empty());  // not resent with --no-repair
  expectAllMergedBack();
}

// By default, the sample check's finding is located by the shards
// check (and the pieces the differing range lies in), resent, and checked
// again.
TEST_F(CycleTest, ContentThatDiffersIsResentWhereItDiffers) {
  host2_.secondaryContentDiffers = true;
  host2_.resyncRepairsContent = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  ASSERT_EQ(host2_.resyncs.size(), 1u);
  EXPECT_EQ(host2_.resyncs[0].path, "images/vm2.qcow2");
  std::vector<std::uint64_t> offsets = host2_.resyncs[0].offsets;
  ASSERT_GE(offsets.size(), 2u);
  EXPECT_EQ(offsets[0], 12u << 20);  // the stride the shards check located
  EXPECT_EQ(stepNamed(report, "verify-repair")["repaired"][0], "images/vm2.qcow2");
  EXPECT_EQ(host1_.count("geoRepSync") + host2_.count("geoRepSync"), 2u);
  EXPECT_TRUE(host1_.resyncs.empty());
}

// A stale range of a base outside every sample passes the sample check;
// the piece holding it, whose modification time on the secondary is not the
// primary's, is read whole on both sides and resent.
TEST_F(CycleTest, APieceHeldWithAnotherModificationTimeIsReadWholeAndResent) {
  host1_.unsampledDifferenceIn = "images/vm1.qcow2";
  const Json::Value missed = run();  // the same times: the samples alone miss it
  ASSERT_EQ(missed["outcome"].asInt(), kSuccess) << missed["alert"].asString();
  EXPECT_TRUE(host1_.resyncs.empty());
  EXPECT_EQ(missed["vms"][0]["secondary"]["vda"]["base"]["piecesModifiedApart"].asUInt64(), 0u);

  host1_.pieceModifiedApartIn = "images/vm1.qcow2";
  host1_.resyncRepairsContent = true;
  const Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  const Json::Value& verify = stepNamed(report, "verify");
  EXPECT_NE(verify["differed"].asString().find(
                "images/vm1.qcow2 differs from the primary's in 1 of the 1 pieces it holds with another modification "
                "time (the first at byte 12582912)"),
            std::string::npos)
      << verify;
  ASSERT_EQ(host1_.resyncs.size(), 1u);
  EXPECT_EQ(host1_.resyncs[0].path, "images/vm1.qcow2");
  EXPECT_EQ(host1_.resyncs[0].offsets, std::vector<std::uint64_t>{12u << 20});  // that piece only
  EXPECT_EQ(stepNamed(report, "verify-repair")["repaired"][0], "images/vm1.qcow2");
}

TEST_F(CycleTest, APieceWithAnotherTimeButTheSameBytesPasses) {
  host1_.pieceModifiedApartIn = "images/vm1.qcow2";
  const Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  EXPECT_TRUE(host1_.resyncs.empty());
  EXPECT_EQ(report["vms"][0]["secondary"]["vda"]["base"]["piecesModifiedApart"].asUInt64(), 1u);
}

// With --verify full a base is read whole on both sides, stride by stride:
// only the stride that differs is resent.
TEST_F(CycleTest, AFullCheckComparesEveryByteOfABaseAndResendsOnlyWhatDiffers) {
  options_.verify = VerifyMode::Full;
  host2_.secondaryContentDiffers = true;
  host2_.resyncRepairsContent = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  ASSERT_EQ(host2_.resyncs.size(), 1u);
  EXPECT_EQ(host2_.resyncs[0].path, "images/vm2.qcow2");
  EXPECT_EQ(host2_.resyncs[0].offsets, std::vector<std::uint64_t>{12u << 20});
  EXPECT_NE(stepNamed(report, "verify")["differed"].asString().find("in 1 of 16 strides (67108864 bytes compared)"),
            std::string::npos)
      << stepNamed(report, "verify");
}

TEST_F(CycleTest, TheTwoSitesAreReadAtOnce) {
  options_.verify = VerifyMode::Full;
  host1_.checksumsWaitForAnother = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  EXPECT_GE(host1_.count("fileChecksum " + std::string(kSecondary)), 1u);
  EXPECT_EQ(host1_.checksumsAtOnce, 2);  // one after the other, it would be 1
}

// Seen with a 1 s changelog rollover: the checkpoint completed, yet the
// secondary never got a delta's file, and no later sync sent it.
TEST_F(CycleTest, AFileTheSecondaryLacksIsResentWhole) {
  options_.layout = Layout::Delta;
  host1_.realChains = true;
  host2_.realChains = true;
  ASSERT_EQ(run()["outcome"].asInt(), kSuccess);                    // the first point: the bases
  host1_.missingOnSecondary = "images/.gdr-snapshots/vm1.1.qcow2";  // the second point's delta
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  ASSERT_EQ(host1_.resyncs.size(), 1u);
  EXPECT_EQ(host1_.resyncs[0].path, "images/.gdr-snapshots/vm1.1.qcow2");
  EXPECT_TRUE(host1_.resyncs[0].offsets.empty());  // the whole file
  EXPECT_NE(stepNamed(report, "verify")["differed"].asString().find("does not hold images/.gdr-snapshots/vm1.1.qcow2"),
            std::string::npos)
      << stepNamed(report, "verify");
  EXPECT_EQ(stepNamed(report, "verify-repair")["repaired"][0].asString(), "images/.gdr-snapshots/vm1.1.qcow2");
  EXPECT_TRUE(host2_.resyncs.empty());
}

TEST_F(CycleTest, AFileStillMissingAfterItsResyncFailsTheCycle) {
  options_.layout = Layout::Delta;
  host1_.realChains = true;
  host2_.realChains = true;
  ASSERT_EQ(run()["outcome"].asInt(), kSuccess);
  host1_.missingOnSecondary = "images/.gdr-snapshots/vm1.1.qcow2";
  host1_.resyncCreatesMissing = false;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(
      report["alert"].asString().find("does not hold images/.gdr-snapshots/vm1.1.qcow2 at all, even after a resync"),
      std::string::npos)
      << report["alert"].asString();
  EXPECT_EQ(host1_.sealed.size(), 1u);  // the first point's seal only
}

TEST_F(CycleTest, ContentStillDifferingAfterTheResyncFailsTheCycle) {
  options_.repair = true;
  host2_.secondaryContentDiffers = true;  // and the resync does not cure it
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(report["alert"].asString().find("images/vm2.qcow2 differs"), std::string::npos)
      << report["alert"].asString();
  EXPECT_NE(report["alert"].asString().find("even after a resync"), std::string::npos) << report["alert"].asString();
  EXPECT_TRUE(host1_.sealed.empty());
  expectAllMergedBack();
}

TEST_F(CycleTest, AFailedOverlayDeletionMergesBack) {
  host1_.overlayDeleteFails = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(report["alert"].asString().find("overlay deletion on the secondary failed: 3215"), std::string::npos);
  expectAllMergedBack();
}

TEST_F(CycleTest, OneSnapshotFailingMergesBackTheOthers) {
  host2_.snapshotFails = {"vm-2"};
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(report["alert"].asString().find("snapshot failed: vm2: 48"), std::string::npos)
      << report["alert"].asString();
  EXPECT_EQ(host1_.count("geoRepSync"), 0u);
  ASSERT_EQ(host1_.merges.size(), 1u);
  EXPECT_TRUE(host2_.merges.empty());  // nothing to merge: no overlay was made
}

// A recovery point without a VM's definition is no recovery point.
TEST_F(CycleTest, ADefinitionThatCannotBeSavedFailsTheCycleBeforeTheSyncAndMergesBack) {
  host2_.definitionFails = {"vm-2"};
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(report["alert"].asString().find("saving definitions failed: vm2: 1105"), std::string::npos)
      << report["alert"].asString();
  EXPECT_EQ(stepNames(report),
            (std::vector<std::string>{"discover:ok", "snapshot:ok", "definitions:failed", "merge:ok"}));
  EXPECT_EQ(host1_.count("geoRepSync"), 0u);
  expectAllMergedBack();
}

TEST_F(CycleTest, AManifestThatCannotBeSavedFailsTheCycleBeforeTheSyncAndPrunesNothing) {
  host1_.manifestFails = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(report["alert"].asString().find("writing the recovery point's manifest failed: 3231"), std::string::npos)
      << report["alert"].asString();
  EXPECT_EQ(host1_.count("geoRepSync"), 0u);
  EXPECT_EQ(host1_.count("recoveryPointPrune"), 0u);
  expectAllMergedBack();
}

// The seal comes after the sync and its verification, on the secondary,
// and names the point the manifest step wrote.
TEST_F(CycleTest, TheSecondarySealsThePointAfterVerification) {
  const Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  ASSERT_EQ(host1_.sealed.size(), 1u);
  EXPECT_EQ(host1_.sealed[0], report["point"]["id"].asString());
  EXPECT_EQ(host1_.count("recoveryPointSeal gdr-secondary " + host1_.sealed[0]), 1u);
  EXPECT_GT(host1_.position("recoveryPointSeal"), host1_.position("geoRepSync"));
  EXPECT_LT(host1_.position("recoveryPointSeal"), host1_.position("recoveryPointPrune"));
  EXPECT_EQ(report["point"]["seal"], ".gdr/points/" + host1_.sealed[0] + ".seal");
}

TEST_F(CycleTest, ASealThatFailsWhileTheSecondarySettlesIsTriedAgain) {
  host1_.sealFailures = 2;
  const Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  EXPECT_EQ(host1_.count("recoveryPointSeal"), 3u);
  EXPECT_EQ(host1_.sealed.size(), 1u);
}

// A point whose files differ from its manifest after a completed sync is
// not sealed, and the cycle fails: no point is pruned, every VM merged back.
TEST_F(CycleTest, APointTheSecondaryRefusesToSealFailsTheCycle) {
  host1_.sealFailures = -1;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(report["alert"].asString().find("sealing the recovery point on the secondary failed: 3232"),
            std::string::npos)
      << report["alert"].asString();
  EXPECT_EQ(host1_.count("recoveryPointSeal"), 1u);  // a difference is not retried
  EXPECT_EQ(host1_.count("recoveryPointPrune"), 0u);
  expectAllMergedBack();
}

TEST_F(CycleTest, NoVmOnTheVolumeMakesNoPointAndPrunesNothing) {
  host1_.removeVms();
  host2_.removeVms();
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  EXPECT_EQ(stepNamed(report, "manifest")["note"], "no VM: no recovery point");
  EXPECT_EQ(host1_.count("recoveryPoint"), 0u);
  EXPECT_FALSE(report.isMember("point"));
}

TEST_F(CycleTest, NoSnapshotTakenMeansNothingChanged) {
  host1_.snapshotFails = {"vm-1"};
  host2_.snapshotFails = {"vm-2"};
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedUnchanged);
  EXPECT_TRUE(host1_.merges.empty());
  EXPECT_TRUE(host2_.merges.empty());
}

// A VM two hosts report is migrating: left out of the cycle with the
// reason, the other VMs protected as usual.
TEST_F(CycleTest, AVmReportedByTwoHostsIsLeftOutOfTheCycle) {
  host2_.addVm("vm-1", "vm1");  // the migration's destination, paused
  const Json::Value report = run();
  EXPECT_EQ(report["status"], "success");
  const Json::Value discover = stepNamed(report, "discover");
  EXPECT_EQ(discover["vms"].asUInt(), 1u);
  ASSERT_EQ(discover["refused"].size(), 1u);
  EXPECT_EQ(discover["refused"][0]["vmId"], "vm-1");
  EXPECT_EQ(discover["refused"][0]["why"].asString(),
            "VM vm1 (vm-1) is reported by unix:/run/host1.sock and unix:/run/host2.sock (a migration under way?): "
            "not protected by this cycle");
  EXPECT_EQ(report["warnings"][0], discover["refused"][0]["why"]);
  EXPECT_EQ(host1_.count("snapshot vm-1"), 0u);
  EXPECT_EQ(host2_.count("snapshot vm-1"), 0u);
  EXPECT_EQ(host2_.count("snapshot vm-2"), 1u);
  ASSERT_EQ(report["vms"].size(), 1u);
  EXPECT_EQ(report["vms"][0]["name"], "vm2");
}

// A host that does not answer: the others' VMs complete their cycle; the
// VMs it ran at the last cycle are named unprotected and the alert names it.
TEST_F(CycleTest, AnUnreachableHostLeavesItsVmsUnprotectedAndTheOthersGoOn) {
  host2_.unreachable = true;
  options_.lastSeen = {{"unix:/run/host1.sock", "vm-1", "vm1"},
                       {"unix:/run/host2.sock", "vm-2", "vm2"},
                       {"unix:/run/host2.sock", "vm-9", "vm9"}};
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kPartial);
  EXPECT_EQ(report["status"], "partial");
  EXPECT_EQ(report["alert"].asString(),
            "host unix:/run/host2.sock did not answer: its VMs are not protected by this cycle; the other hosts' "
            "VMs are");
  const Json::Value discover = stepNamed(report, "discover");
  ASSERT_EQ(discover["unreachable"].size(), 1u);
  EXPECT_EQ(discover["unreachable"][0]["host"], "unix:/run/host2.sock");
  ASSERT_EQ(discover["unreachable"][0]["lastSeenVms"].size(), 2u);
  EXPECT_EQ(discover["unreachable"][0]["lastSeenVms"][0], "vm2");
  EXPECT_EQ(discover["unreachable"][0]["lastSeenVms"][1], "vm9");
  ASSERT_EQ(report["unprotected"].size(), 2u);
  EXPECT_EQ(report["unprotected"][0]["vmId"], "vm-2");
  EXPECT_EQ(report["unprotected"][1]["vm"], "vm9");
  EXPECT_NE(report["warnings"][0].asString().find("(last seen there: vm2, vm9)"), std::string::npos);
  // host1's VM went through the whole cycle, geo-replication through host1.
  EXPECT_EQ(stepNames(report),
            (std::vector<std::string>{"discover:ok", "snapshot:ok", "definitions:ok", "manifest:ok", "georep:ok",
                                      "verify:ok", "overlay-delete:ok", "seal:ok", "merge:ok"}));
  ASSERT_EQ(report["vms"].size(), 1u);
  EXPECT_EQ(report["vms"][0]["name"], "vm1");
  EXPECT_EQ(host1_.merges.size(), 1u);
  // Older points may hold the only copy of host2's VMs: none is pruned.
  EXPECT_EQ(host1_.count("recoveryPointPrune"), 0u);
  // The point says what it lacks: a recovery takes those VMs from an older one.
  ASSERT_EQ(host1_.manifests.size(), 1u);
  const api::PointManifest& m = host1_.manifests[0];
  ASSERT_EQ(m.vms.size(), 1u);
  ASSERT_EQ(m.unprotected.size(), 2u);
  EXPECT_EQ(m.unprotected[0].vmId, "vm-2");
  EXPECT_EQ(m.unprotected[0].name, "vm2");
  EXPECT_NE(m.unprotected[0].why.find("did not answer"), std::string::npos) << m.unprotected[0].why;
  EXPECT_EQ(m.unprotected[1].vmId, "vm-9");
}

TEST_F(CycleTest, NoHostAnsweringFailsDiscoveryAndChangesNothing) {
  host1_.unreachable = true;
  host2_.unreachable = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedUnchanged);
  EXPECT_NE(report["alert"].asString().find("no host answered: cannot connect to unix:/run/host1.sock"),
            std::string::npos);
  EXPECT_EQ(host1_.count("snapshot"), 0u);
  EXPECT_EQ(host2_.count("snapshot"), 0u);
}

// The geo-rep job runs on a host that answered, not necessarily the first.
TEST_F(CycleTest, GeoReplicationRunsThroughAHostThatAnswered) {
  host1_.unreachable = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kPartial);
  EXPECT_EQ(host1_.count("geoRepSync"), 0u);
  EXPECT_EQ(host2_.count("geoRepSync gdr-primary 127.0.0.2::gdr-secondary"), 1u);
  EXPECT_EQ(stepNamed(report, "georep")["host"], "unix:/run/host2.sock");
  EXPECT_EQ(stepNamed(report, "georep")["status"], "ok");
}

// The agent running the sync is lost mid-way: the next host's agent takes
// the session over with a sync of its own, and the cycle completes.
TEST_F(CycleTest, AnotherHostAdoptsTheSyncWhenItsAgentIsLost) {
  host1_.lostDuringSync = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"];
  EXPECT_EQ(host1_.count("geoRepSync"), 1u);
  EXPECT_EQ(host2_.count("geoRepSync"), 1u);
  const Json::Value georep = stepNamed(report, "georep");
  EXPECT_EQ(georep["host"], "unix:/run/host2.sock");
  EXPECT_EQ(georep["lostAgents"][0], "unix:/run/host1.sock");
  EXPECT_NE(report["warnings"][0].asString().find("unix:/run/host2.sock takes the session over"), std::string::npos);
  // A sync its agent cannot follow (the host's glusterd gone): handed over too.
  host1_.lostDuringSync = false;
  host1_.georepOutcome = api::kJobFailed;
  host1_.georepErrorCode = int(gdr::Code::GeoRepStatusUnreadable);
  const Json::Value handedOver = run();
  EXPECT_EQ(handedOver["outcome"].asInt(), kSuccess) << handedOver["alert"];
  EXPECT_EQ(stepNamed(handedOver, "georep")["host"], "unix:/run/host2.sock");
  EXPECT_NE(handedOver["warnings"][0].asString().find("could not follow the sync"), std::string::npos);
  // Any other failure of the job is the sync's own: no hand-over.
  host1_.georepErrorCode = int(gdr::Code::GeoRepWorkerFaulty);
  EXPECT_EQ(run()["outcome"].asInt(), kFailedMergedBack);
  host1_.georepOutcome = api::kJobDone;
  // Lost on every host: the step fails (and every VM is merged back).
  host1_.lostDuringSync = true;
  host2_.lostDuringSync = true;
  const Json::Value failed = run();
  EXPECT_EQ(failed["outcome"].asInt(), kFailedMergedBack);
}

TEST_F(CycleTest, AVmLeftOnAnOverlayIsRefusedBeforeAnything) {
  host2_.addVm("vm-3", "vm3", 2);
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedUnchanged);
  EXPECT_NE(report["alert"].asString().find("VM vm3 drive vda is not on a single image"), std::string::npos);
  EXPECT_EQ(host1_.count("snapshot"), 0u);
}

TEST_F(CycleTest, AMergeThatFailsIsCritical) {
  host2_.mergeFails = {"vm-2"};
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kMergeBackFailed);
  EXPECT_NE(report["alert"].asString().find("merging back failed"), std::string::npos);
  EXPECT_EQ(report["steps"][report["steps"].size() - 1]["status"], "failed");
  expectAllMergedBack();  // both were tried
}

TEST_F(CycleTest, APieceUnderAnotherGfidIsResyncedAndCheckedAgain) {
  host1_.foreignShardReadings = 1;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  EXPECT_EQ(
      stepNames(report),
      (std::vector<std::string>{"discover:ok", "snapshot:ok", "definitions:ok", "manifest:ok", "georep:ok", "verify:ok",
                                "georep-repair:ok", "verify-repair:ok", "overlay-delete:ok", "seal:ok", "merge:ok"}));
  ASSERT_EQ(host1_.resyncs.size(), 1u);
  EXPECT_EQ(host1_.resyncs[0].volumeName, kPrimary);
  EXPECT_EQ(host1_.resyncs[0].offsets, std::vector<std::uint64_t>{4u << 20});
  EXPECT_EQ(host1_.count("geoRepSync"), 2u);
  EXPECT_EQ(stepNamed(report, "verify-repair")["repaired"][0], "images/vm1.qcow2");
}

// --no-repair still lets a piece under another gfid be resynced, but not
// content that differs elsewhere in the same image: that fails the cycle
// (seen on the lab: a foreign shard turned up in the very cycle a test
// expected to fail on an emptied one, and the repair refilled both).
TEST_F(CycleTest, WithoutRepairContentDifferingBesideAForeignPieceFailsTheCycle) {
  options_.repair = false;
  host1_.foreignShardReadings = 1;
  const Json::Value alone = run();
  ASSERT_EQ(alone["outcome"].asInt(), kSuccess) << alone["alert"].asString();
  ASSERT_EQ(host1_.resyncs.size(), 1u);

  host1_.resyncs.clear();
  host1_.merges.clear();
  host2_.merges.clear();
  host1_.foreignShardReadings = 1;
  host1_.secondaryContentDiffers = true;  // stride 3 (12 MiB), outside shard 1
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(
      report["alert"].asString().find("shard 1 is another file (gfid gfid-foreign where the primary's is gfid-1); "
                                      "its content differs too, in 1 more of its 16 strides"),
      std::string::npos)
      << report["alert"].asString();
  EXPECT_TRUE(host1_.resyncs.empty());
  EXPECT_EQ(stepNamed(report, "verify")["differedAt"]["images/vm1.qcow2"],
            api::encode(std::vector<std::uint64_t>{4u << 20, 12u << 20}));
  expectAllMergedBack();
}

TEST_F(CycleTest, ASecondaryStillSettlingIsReadAgain) {
  host1_.secondaryReadErrors = 2;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  EXPECT_EQ(sleeps_, 2);
  options_.settleAttempts = 2;  // and not for ever
  host1_.secondaryReadErrors = 5;
  host1_.merges.clear();
  host2_.merges.clear();
  const Json::Value failed = run();
  EXPECT_EQ(failed["outcome"].asInt(), kFailedMergedBack);
}

// A primary replica healing after an outage read short for minutes: the
// manifest waits for it, within the same bound as the secondary's reads.
TEST_F(CycleTest, APrimaryImageThatReadsShortIsReadAgainForTheManifest) {
  host1_.primaryShortReads = 2;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  EXPECT_EQ(sleeps_, 2);
  EXPECT_EQ(host1_.manifests.size(), 1u);
  options_.settleAttempts = 2;  // and not for ever
  host1_.primaryShortReads = 5;
  host1_.merges.clear();
  host2_.merges.clear();
  const Json::Value failed = run();
  EXPECT_EQ(failed["outcome"].asInt(), kFailedMergedBack);
  EXPECT_EQ(stepNamed(failed, "manifest")["status"].asString(), "failed");
  EXPECT_NE(failed["alert"].asString().find("65536 bytes short"), std::string::npos) << failed["alert"];
  EXPECT_EQ(host1_.count("geoRepSync"), 1u);  // only the first cycle's: nothing ships without its manifest
  expectAllMergedBack();
}

TEST_F(CycleTest, ADryRunPlansAndTouchesNothing) {
  options_.dryRun = true;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess);
  EXPECT_EQ(report["plan"].size(), 2u);
  EXPECT_EQ(host1_.count("snapshot"), 0u);
  EXPECT_EQ(host2_.count("merge"), 0u);
}

// The delta layout, cycle by cycle, one point kept: the first leaves each
// VM on its new overlay; the next freezes that overlay as the point's
// delta, ships it, and only then commits it into the base (no pivot, no
// deletion), and the point before goes with its delta.
// --merge-bandwidth auto, the default: 4 times the rate the VM wrote the
// overlay, from its size (imageInfo) and the time in its name.
TEST_F(CycleTest, AutoMergeBandwidthPacesEachMergeAtFourTimesTheRateItsVmWrote) {
  ASSERT_TRUE(options_.pacedMerges);  // the default
  host1_.overlayBegunSecondsAgo = 60;
  host1_.imageBytes = host2_.imageBytes = 128ull << 20;
  const Json::Value report = run();
  ASSERT_EQ(report["status"], "success") << report;
  ASSERT_EQ(host1_.merges.size(), 1u);
  // 128 MiB over 60 s (61 or 62 on a slow machine): 2.13 MiB/s, merged at 9.
  EXPECT_EQ(host1_.merges[0].bandwidth, std::optional<std::uint64_t>(9));
  const Json::Value& paced = report["vms"][0]["merge"]["vda"]["pace"][0];
  EXPECT_EQ(paced["bandwidth"].asUInt64(), 9u) << report["vms"][0];
  EXPECT_EQ(paced["bytes"].asUInt64(), 128u << 20);
  EXPECT_GE(paced["writingSeconds"].asInt(), 60);
  // vm2's overlay has no time in its name: merged at full speed, and the
  // report says why.
  ASSERT_EQ(host2_.merges.size(), 1u);
  EXPECT_EQ(host2_.merges[0].bandwidth, std::nullopt);
  const Json::Value& unpaced = report["vms"][1]["merge"]["vda"]["pace"][0];
  EXPECT_EQ(unpaced["bandwidth"], "unlimited") << report["vms"][1];
  EXPECT_NE(unpaced["why"].asString().find("no time in the name of /mnt/primary/images/.gdr-snapshots/vm2.1.qcow2"),
            std::string::npos)
      << unpaced;
}

// A delta the VM wrote until the next cycle's snapshot: its writing time
// ends where the next image's began, not when it is committed.
TEST_F(CycleTest, AutoMergeBandwidthOfACommitCountsTheTimeUntilTheNextImage) {
  options_.layout = Layout::Delta;
  options_.keepPoints = 1;  // each cycle from the second commits the delta before it
  host1_.realChains = host2_.realChains = true;
  host1_.overlayBegunSecondsAgo = 600;  // every image "begun" 600 s before its snapshot
  host1_.imageBytes = 128ull << 20;
  ASSERT_EQ(run()["outcome"].asInt(), kSuccess);
  host1_.merges.clear();
  const Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  const Json::Value& paced = report["vms"][0]["merge"]["vda"]["pace"][0];
  ASSERT_TRUE(paced.isMember("writingSeconds")) << report["vms"][0];
  // Both names hold a time 600 s before their snapshots, made moments apart.
  EXPECT_LE(paced["writingSeconds"].asInt(), 2);
  ASSERT_EQ(host1_.merges.size(), 1u);
  EXPECT_EQ(host1_.merges[0].bandwidth,
            std::optional<std::uint64_t>(pacedMergeBandwidth(128 << 20, paced["writingSeconds"].asDouble())));
  EXPECT_GE(*host1_.merges[0].bandwidth, 170u);  // 128 MiB in at most 3 s, times 4
}

// A VM that wrote little since its snapshot is paced too, at no less than
// the floor however slowly it wrote (64 MiB in 16 s); an empty image merges
// at full speed, and the report says why.
TEST_F(CycleTest, AutoMergeBandwidthPacesASmallImageAtTheFloor) {
  host1_.overlayBegunSecondsAgo = host2_.overlayBegunSecondsAgo = 600;
  host1_.imageBytes = 64ull << 20;
  host2_.imageBytes = 0;
  const Json::Value report = run();
  ASSERT_EQ(report["status"], "success") << report;
  ASSERT_EQ(host1_.merges.size(), 1u);
  EXPECT_EQ(host1_.merges[0].bandwidth, std::optional<std::uint64_t>(kMergePaceMinMiB));
  const Json::Value& pace = report["vms"][0]["merge"]["vda"]["pace"][0];
  EXPECT_EQ(pace["bandwidth"].asUInt64(), kMergePaceMinMiB) << report["vms"][0];
  EXPECT_EQ(pace["bytes"].asUInt64(), 64u << 20);
  ASSERT_EQ(host2_.merges.size(), 1u);
  EXPECT_EQ(host2_.merges[0].bandwidth, std::nullopt);
  const Json::Value& empty = report["vms"][1]["merge"]["vda"]["pace"][0];
  EXPECT_EQ(empty["bandwidth"], "unlimited") << report["vms"][1];
  EXPECT_EQ(empty["why"], "an empty image: merged at full speed");
}

// --merge-bandwidth unlimited: no pace, no image read for one.
TEST_F(CycleTest, UnlimitedMergesAreNotPaced) {
  options_.pacedMerges = false;
  host1_.overlayBegunSecondsAgo = 60;
  host1_.imageBytes = 1ull << 30;
  const Json::Value report = run();
  ASSERT_EQ(report["status"], "success") << report;
  ASSERT_EQ(host1_.merges.size(), 1u);
  EXPECT_EQ(host1_.merges[0].bandwidth, std::nullopt);
  EXPECT_FALSE(report["vms"][0]["merge"]["vda"].isMember("pace"));
}

// A fixed --merge-bandwidth is passed as it is, and nothing is paced.
TEST_F(CycleTest, AFixedMergeBandwidthIsEachMergesCap) {
  options_.pacedMerges = false;  // as --merge-bandwidth 20 sets it
  options_.mergeBandwidth = 20;
  host1_.overlayBegunSecondsAgo = 60;
  const Json::Value report = run();
  ASSERT_EQ(report["status"], "success") << report;
  ASSERT_EQ(host1_.merges.size(), 1u);
  EXPECT_EQ(host1_.merges[0].bandwidth, std::optional<std::uint64_t>(20));
  EXPECT_FALSE(report["vms"][0]["merge"]["vda"].isMember("pace"));
}

TEST_F(CycleTest, TheDeltaLayoutShipsEachOverlayBeforeCommittingIt) {
  options_.layout = Layout::Delta;
  options_.keepPoints = 1;
  host1_.realChains = host2_.realChains = true;
  Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  EXPECT_EQ(stepNames(report),
            (std::vector<std::string>{"discover:ok", "snapshot:ok", "definitions:ok", "manifest:ok", "georep:ok",
                                      "verify:ok", "overlay-delete:ok", "seal:ok", "commit:ok"}));
  EXPECT_TRUE(host1_.deletions.empty());  // the overlay on the secondary is the next delta: it stays
  EXPECT_TRUE(host1_.merges.empty());     // nothing under the overlay to commit yet
  EXPECT_EQ(
      host1_.find("vm-1").disks[0].chain,
      (std::vector<std::string>{"/mnt/primary/images/.gdr-snapshots/vm1.1.qcow2", "/mnt/primary/images/vm1.qcow2"}));
  ASSERT_EQ(host1_.manifests.size(), 1u);
  EXPECT_FALSE(host1_.manifests[0].vms[0].disks[0].delta);  // this point is the base alone
  EXPECT_EQ(host1_.count("recoveryPointPrune gdr-primary 1 deltas"), 1u);

  report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  ASSERT_EQ(host1_.manifests.size(), 2u);
  const api::PointDisk& disk = host1_.manifests[1].vms[0].disks[0];
  EXPECT_EQ(disk.path, "images/vm1.qcow2");
  ASSERT_TRUE(disk.delta);
  EXPECT_EQ(disk.delta->path, "images/.gdr-snapshots/vm1.1.qcow2");
  EXPECT_EQ(disk.delta->sample.offset, 65536u);  // past its header cluster
  EXPECT_FALSE(disk.sample.offset);
  // Both images of the point compared on both sides after the sync.
  EXPECT_TRUE(report["vms"][0]["secondary"]["vda"].isMember("base"));
  EXPECT_TRUE(report["vms"][0]["secondary"]["vda"].isMember("delta"));
  ASSERT_EQ(host1_.merges.size(), 1u);
  EXPECT_EQ(host1_.merges[0].topVolume, "/mnt/primary/images/.gdr-snapshots/vm1.1.qcow2");
  EXPECT_EQ(host1_.merges[0].baseVolume, "/mnt/primary/images/vm1.qcow2");
  EXPECT_FALSE(host1_.merges[0].deleteTop);
  EXPECT_GT(host1_.position("merge"), host1_.position("geoRepSync"));
  EXPECT_EQ(
      host1_.find("vm-1").disks[0].chain,
      (std::vector<std::string>{"/mnt/primary/images/.gdr-snapshots/vm1.2.qcow2", "/mnt/primary/images/vm1.qcow2"}));
}

// A point reads its deltas whole: each is compared byte for byte, the
// older ones too, whatever the check mode, and what differs is resent.
TEST_F(CycleTest, EveryByteOfEachDeltaIsComparedAndWhatDiffersResent) {
  options_.layout = Layout::Delta;
  options_.keepPoints = 3;
  host1_.realChains = host2_.realChains = true;
  for (int cycle = 1; cycle <= 3; ++cycle) ASSERT_EQ(run()["outcome"].asInt(), kSuccess) << "cycle " << cycle;
  // Cycle 4's point: the base, vm1.1 and vm1.2 (older), vm1.3 (its delta).
  const std::string older = "images/.gdr-snapshots/vm1.1.qcow2";
  host1_.unsampledDifferenceIn = older;
  host1_.resyncRepairsContent = true;
  const Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  const Json::Value& verify = stepNamed(report, "verify");
  EXPECT_NE(verify["differed"].asString().find("delta " + older + " differs"), std::string::npos) << verify;
  ASSERT_EQ(host1_.resyncs.size(), 1u);
  EXPECT_EQ(host1_.resyncs[0].path, older);
  EXPECT_EQ(host1_.resyncs[0].offsets, (std::vector<std::uint64_t>{12u << 20}));  // the stride that differs
  EXPECT_EQ(stepNamed(report, "verify-repair")["repaired"][0], older);
  const Json::Value& compared = report["vms"][0]["secondary"]["vda"];
  ASSERT_EQ(compared["olderDeltas"].size(), 2u);
  EXPECT_EQ(compared["olderDeltas"][0]["verifiedBytes"].asUInt64(), 64u << 20);
  EXPECT_EQ(compared["delta"]["verifiedBytes"].asUInt64(), 64u << 20);

  // Without a repair, such a copy fails the cycle: no point is sealed.
  options_.repair = false;
  host1_.unsampledDifferenceIn = "images/.gdr-snapshots/vm1.3.qcow2";  // cycle 5's point holds it
  host1_.sealed.clear();
  const Json::Value failed = run();
  EXPECT_EQ(failed["outcome"].asInt(), kFailedMergedBack);
  EXPECT_NE(failed["alert"].asString().find("delta images/.gdr-snapshots/vm1.3.qcow2 differs"), std::string::npos)
      << failed["alert"].asString();
  EXPECT_TRUE(host1_.sealed.empty());
}

// The session is stopped after a sync unless --session keep (delta layout
// only) says otherwise.
TEST_F(CycleTest, TheSessionStopsAfterTheSyncUnlessKept) {
  options_.layout = Layout::Delta;
  const Json::Value stopped = run();
  ASSERT_EQ(stopped["outcome"].asInt(), kSuccess);
  options_.session = SessionAfterSync::Keep;
  ASSERT_EQ(run()["outcome"].asInt(), kSuccess);
  options_.session.reset();
  options_.layout = Layout::Flat;
  ASSERT_EQ(run()["outcome"].asInt(), kSuccess);
  EXPECT_EQ(host1_.syncStopsSession, (std::vector<bool>{true, false, true}));
  const Json::Value& georep = stopped["steps"][4];
  ASSERT_EQ(georep["step"].asString(), "georep");
  EXPECT_EQ(georep["session"].asString(), "stopped");
  EXPECT_EQ(georep["sessionRestarts"].asInt(), 0);
  // How long the start waited for the bricks' changelogs, and why it ended.
  EXPECT_EQ(georep["rolloverWaited"].asInt(), 6250);
  EXPECT_EQ(georep["rolloverWait"].asString(), "every brick rolled a changelog past the checkpoint");
  options_.georepStartAfterRollover = false;
  const Json::Value atOnce = run();
  ASSERT_EQ(atOnce["outcome"].asInt(), kSuccess);
  EXPECT_EQ(host1_.syncStartsAfterRollover, (std::vector<bool>{true, true, true, false}));
  int georepSteps = 0;
  for (const auto& step : atOnce["steps"]) {
    if (step["step"].asString() != "georep") continue;
    ++georepSteps;
    EXPECT_FALSE(step.isMember("rolloverWaited"));
  }
  EXPECT_EQ(georepSteps, 1);
}

// A failed sync in the delta layout: the delta is not committed (the
// previous point, under it, stays the one to recover); the new overlay is
// merged back into it, and nothing is pruned.
TEST_F(CycleTest, ADeltaLayoutCycleThatFailsMergesTheNewOverlayBackIntoTheDelta) {
  options_.layout = Layout::Delta;
  host1_.realChains = host2_.realChains = true;
  ASSERT_EQ(run()["outcome"].asInt(), kSuccess);
  host1_.georepOutcome = api::kJobFailed;
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedMergedBack);
  ASSERT_EQ(host1_.merges.size(), 1u);
  EXPECT_EQ(host1_.merges[0].topVolume, "/mnt/primary/images/.gdr-snapshots/vm1.2.qcow2");
  EXPECT_EQ(host1_.merges[0].baseVolume, "/mnt/primary/images/.gdr-snapshots/vm1.1.qcow2");
  EXPECT_TRUE(host1_.merges[0].deleteTop);
  EXPECT_EQ(host1_.count("recoveryPointPrune"), 1u);  // the first cycle's only
  EXPECT_EQ(host1_.find("vm-1").disks[0].chain.size(), 2u);
}

// Three points kept (the default): a delta is committed only once three
// points stand over it, the oldest first, right above the base; each
// manifest names the deltas under its own, oldest first.
TEST_F(CycleTest, TheDeltaLayoutKeepsThreePointsApartOverOneBase) {
  options_.layout = Layout::Delta;
  ASSERT_EQ(options_.keepPoints, 3);
  host1_.realChains = host2_.realChains = true;
  const std::string snaps = "/mnt/primary/images/.gdr-snapshots/vm1.";
  for (int cycle = 1; cycle <= 5; ++cycle) {
    host1_.merges.clear();
    const Json::Value report = run();
    ASSERT_EQ(report["outcome"].asInt(), kSuccess) << cycle << ": " << report["alert"].asString();
    EXPECT_EQ(host1_.count("recoveryPointPrune gdr-primary 3 deltas"), size_t(cycle));
    const api::PointDisk& disk = host1_.manifests.back().vms[0].disks[0];
    std::vector<std::string> chain;  // the point's deltas, oldest first
    for (const auto* d : disk.deltas()) chain.push_back(d->path);
    const auto& vm1Merges = [&] {
      std::vector<std::string> tops;
      for (const auto& m : host1_.merges) {
        if (m.vmId == "vm-1") tops.push_back(*m.topVolume);
      }
      return tops;
    }();
    switch (cycle) {
      case 1:  // the base alone; the VM moves onto overlay 1
        EXPECT_TRUE(chain.empty());
        EXPECT_TRUE(vm1Merges.empty());
        break;
      case 2:
        EXPECT_EQ(chain, (std::vector<std::string>{"images/.gdr-snapshots/vm1.1.qcow2"}));
        EXPECT_TRUE(vm1Merges.empty());
        break;
      case 3:  // three points: the base, and the base through 1, and through 1 and 2
        EXPECT_EQ(chain,
                  (std::vector<std::string>{"images/.gdr-snapshots/vm1.1.qcow2", "images/.gdr-snapshots/vm1.2.qcow2"}));
        EXPECT_TRUE(vm1Merges.empty());
        EXPECT_EQ(report["vms"][0]["merge"]["vda"]["note"],
                  "the new overlay stays, over 2 deltas kept apart for the points kept");
        break;
      case 4:  // a fourth point: delta 1 goes into the base, after the seal
        EXPECT_EQ(chain.size(), 3u);
        EXPECT_EQ(vm1Merges, (std::vector<std::string>{snaps + "1.qcow2"}));
        EXPECT_GT(host1_.position("merge"), host1_.position("recoveryPointSeal"));
        EXPECT_EQ(host1_.merges[0].baseVolume, "/mnt/primary/images/vm1.qcow2");
        EXPECT_FALSE(host1_.merges[0].deleteTop);
        break;
      case 5:  // its manifest no longer names delta 1
        EXPECT_EQ(chain,
                  (std::vector<std::string>{"images/.gdr-snapshots/vm1.2.qcow2", "images/.gdr-snapshots/vm1.3.qcow2",
                                            "images/.gdr-snapshots/vm1.4.qcow2"}));
        EXPECT_EQ(vm1Merges, (std::vector<std::string>{snaps + "2.qcow2"}));
        EXPECT_EQ(report["vms"][0]["merge"]["vda"]["committed"][0], "images/.gdr-snapshots/vm1.2.qcow2");
        break;
    }
  }
  // The VM writes overlay 5, over deltas 3 and 4 and the base.
  EXPECT_EQ(host1_.find("vm-1").disks[0].chain,
            (std::vector<std::string>{snaps + "5.qcow2", snaps + "4.qcow2", snaps + "3.qcow2",
                                      "/mnt/primary/images/vm1.qcow2"}));
}

// Fewer points asked for than the chain holds: the cycle commits the
// surplus, oldest first, one after the other.
TEST_F(CycleTest, TheDeltaLayoutCommitsEverySurplusDeltaWhenFewerPointsAreKept) {
  options_.layout = Layout::Delta;
  host1_.realChains = host2_.realChains = true;
  for (int cycle = 1; cycle <= 3; ++cycle) ASSERT_EQ(run()["outcome"].asInt(), kSuccess);
  options_.keepPoints = 1;
  host1_.merges.clear();
  const Json::Value report = run();
  ASSERT_EQ(report["outcome"].asInt(), kSuccess) << report["alert"].asString();
  std::vector<std::string> tops;
  for (const auto& m : host1_.merges) {
    if (m.vmId == "vm-1") tops.push_back(*m.topVolume);
  }
  EXPECT_EQ(tops, (std::vector<std::string>{"/mnt/primary/images/.gdr-snapshots/vm1.1.qcow2",
                                            "/mnt/primary/images/.gdr-snapshots/vm1.2.qcow2",
                                            "/mnt/primary/images/.gdr-snapshots/vm1.3.qcow2"}));
  EXPECT_EQ(host1_.find("vm-1").disks[0].chain.size(), 2u);
}

// Killed in the commit step with three points kept: the next run commits
// what the journal says was due, those still in the chain, oldest first.
TEST_F(CycleTest, TheDeltaLayoutFinishesAnInterruptedCommitOfTheOldestDelta) {
  MemoryJournal journal;
  options_.journal = &journal;
  options_.layout = Layout::Delta;
  host1_.realChains = host2_.realChains = true;
  for (int cycle = 1; cycle <= 3; ++cycle) ASSERT_EQ(run()["outcome"].asInt(), kSuccess);
  host1_.mergeFails = {"vm-1"};
  ASSERT_EQ(run()["outcome"].asInt(), kMergeBackFailed);
  ASSERT_TRUE(journal.current);
  EXPECT_EQ((*journal.current)["step"], "commit");
  EXPECT_EQ((*journal.current)["vms"][0]["disks"][0]["commits"].asInt(), 1);
  EXPECT_EQ((*journal.current)["vms"][0]["disks"][0]["olderDeltas"].size(), 2u);
  EXPECT_EQ(host1_.find("vm-1").disks[0].chain.size(), 5u);
  host1_.mergeFails.clear();
  host1_.merges.clear();
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kSuccess) << report.toStyledString();
  EXPECT_EQ(report["interrupted"]["step"], "commit");
  ASSERT_GE(host1_.merges.size(), 2u);
  EXPECT_EQ(host1_.merges[0].topVolume, "/mnt/primary/images/.gdr-snapshots/vm1.1.qcow2");  // the adopted commit
  EXPECT_EQ(host1_.merges[1].topVolume, "/mnt/primary/images/.gdr-snapshots/vm1.2.qcow2");  // this cycle's
  EXPECT_EQ(host1_.find("vm-1").disks[0].chain.size(), 4u);
}

// A VM whose drive runs on an overlay that is not gdr's is left alone.
TEST_F(CycleTest, TheDeltaLayoutRefusesAnOverlayItDidNotMake) {
  options_.layout = Layout::Delta;
  host1_.putOnOverlay("vm-1");
  auto& disk = host1_.find("vm-1").disks[0];
  disk.path = "/mnt/primary/images/other/vm1-top.qcow2";
  disk.chain[0] = disk.path;
  disk.gluster->path = "images/other/vm1-top.qcow2";
  const Json::Value report = run();
  EXPECT_EQ(report["outcome"].asInt(), kFailedUnchanged);
  EXPECT_NE(report["alert"].asString().find("not an overlay of gdr's"), std::string::npos) << report["alert"];
  EXPECT_EQ(host1_.count("snapshot"), 0u);
}

TEST(Durations, ParseUnits) {
  EXPECT_EQ(parseDuration("90"), std::chrono::seconds(90));
  EXPECT_EQ(parseDuration("15m"), std::chrono::seconds(900));
  EXPECT_EQ(parseDuration("2h"), std::chrono::seconds(7200));
  EXPECT_THROW(parseDuration("5x"), std::invalid_argument);
  EXPECT_THROW(parseDuration("0"), std::invalid_argument);
}

}  // namespace
}  // namespace gdr::sync
