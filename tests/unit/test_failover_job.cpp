// The failover job against fakes of its seams: the point and the site's
// gluster (promotion, fence, mount), libvirt, qemu-img.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "core/errors.h"
#include "core/job_store.h"
#include "tests/unit/recovery_fakes.h"
#include "verbs/failover_job.h"

namespace gdr {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace testing_fakes;

const std::string kWebId = "11111111-1111-4111-8111-111111111111";
const std::string kDbId = "22222222-2222-4222-8222-222222222222";

struct FakeSite : FailoverSite {
  std::mutex mutex;
  api::PointManifest newest;
  api::PointCheckResult result;
  bool readOnlyNow = true;
  int allowWritesCalls = 0, fenceCalls = 0;
  std::vector<std::string> keys = {"command=\"gsyncd\" ssh-rsa AAAA root@p1"};
  std::set<std::string> files;  // what exists on the mount
  std::vector<std::string> receivers = {"4242 gsyncd receiver into gdr-secondary"};
  bool receiversFencedBeforeWrites = false;  // still read-only when they were stopped
  std::string fencedVolume;
  FakeSite() {
    newest.id = "20261204T040000Z-0a1b2c3d";
    newest.time = 1796356800;
    newest.vms = {pointVm(kWebId, "web"), pointVm(kDbId, "db")};
    result.id = newest.id;
    result.complete = result.sealed = true;
  }
  // Older complete points, by id, and their checks.
  std::map<std::string, api::PointManifest> older;
  std::map<std::string, api::PointCheckResult> olderResults;
  api::PointListResult points(const api::FailoverJobDetails&) override {
    api::PointListResult list;
    auto add = [&](const api::PointManifest& m, const api::PointCheckResult& r) {
      api::PointSummary summary;
      summary.id = m.id;
      for (const auto& vm : m.vms) summary.vms.push_back(vm.name);
      summary.sealed = r.sealed;
      summary.problems = r.problems;
      summary.state = r.complete && r.problems.empty() ? "complete" : "superseded";
      list.points.push_back(summary);
    };
    add(newest, result);
    for (auto it = older.rbegin(); it != older.rend(); ++it) add(it->second, olderResults[it->first]);
    return list;
  }
  api::PointCheckResult check(const api::FailoverJobDetails& d) override {
    EXPECT_EQ(d.pointId, newest.id);
    return result;
  }
  api::PointManifest manifest(const api::FailoverJobDetails& d) override {
    if (d.pointId == newest.id) return newest;
    EXPECT_EQ(older.count(d.pointId), 1u) << d.pointId;
    return older[d.pointId];
  }
  // The newest point made while db's host did not answer; db from `olderId`.
  void dbMissedTheNewestPoint(const std::string& olderId) {
    api::PointManifest before = newest;
    before.id = olderId;
    older[olderId] = before;
    api::PointCheckResult checked = result;
    checked.id = olderId;
    olderResults[olderId] = checked;
    newest.vms.pop_back();
    newest.unprotected = {{kDbId, "db", "its host did not answer: connection refused"}};
  }
  // The recorded definition as each VM's own: its name and UUID.
  std::string definition(const api::FailoverJobDetails&, const api::PointDefinition& definition) override {
    std::string xml = definitionFixture();
    const bool web = definition.path.find(kWebId) != std::string::npos;
    xml.replace(xml.find("gdr-lab-vm1"), 11, web ? "web" : "db");
    xml.replace(xml.find("32b1c668-ee26-40fc-b5f4-5539b9185203"), 36, web ? kWebId : kDbId);
    return xml;
  }
  bool readOnly(const std::string& volume) override {
    EXPECT_EQ(volume, "gdr-secondary");
    std::lock_guard<std::mutex> lock(mutex);
    return readOnlyNow;
  }
  void allowWrites(const std::string&) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++allowWritesCalls;
    readOnlyNow = false;
  }
  std::vector<std::string> fenceGeoRepKeys(const std::string&) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++fenceCalls;
    return std::exchange(keys, {});
  }
  std::vector<std::string> fenceGeoRepReceivers(const std::string& volume) override {
    std::lock_guard<std::mutex> lock(mutex);
    receiversFencedBeforeWrites = readOnlyNow;
    fencedVolume = volume;
    return std::exchange(receivers, {});
  }
  std::string writableMount(const api::FailoverJobDetails&) override { return "/mnt/rw"; }
  bool exists(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mutex);
    return files.count(path) > 0;
  }
};

class FailoverJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("gdr-failover-" + JobStore::newId());
    fs::create_directories(dir_ / "jobs");
  }
  void TearDown() override { fs::remove_all(dir_); }

  FailoverTools tools() {
    FailoverTools t{site_, launcher_,
                    [this](const std::string& overlay, const virt::ChainImage& backing, std::uint64_t) {
                      std::lock_guard<std::mutex> lock(site_.mutex);
                      overlays_.push_back(overlay + " <- " + backing.path);
                      site_.files.insert(overlay);
                    }};
    t.pollInterval = 5ms;
    return t;
  }

  JobRecord failover(const std::string& pointId = "", std::int64_t bootTimeout = 30) {
    api::FailoverParams p;
    p.volfileServers = {"127.0.0.1"};
    p.volumeName = "gdr-secondary";
    if (!pointId.empty()) p.pointId = pointId;
    p.bootTimeout = bootTimeout;
    p.mapping.priority = {{"db", 1}};
    JobRecord r = newFailoverRecord(p, (dir_ / "failovers").string());
    r.id = JobStore::newId();
    return r;
  }

  JobRecord runToEnd(JobRecord r) {
    JobStore store(dir_ / "jobs", 3600s);
    const std::string id = store.start(r, std::make_unique<FailoverJob>(tools())).id;
    // Generous: a loaded machine slows the job's threads, not its logic.
    for (const auto deadline = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < deadline;) {
      const JobRecord now = store.get(id);
      if (now.terminal()) return now;
      std::this_thread::sleep_for(5ms);
    }
    ADD_FAILURE() << "the failover did not end";
    return store.get(id);
  }

  static api::FailoverVm vmNamed(const JobRecord& r, const std::string& name) {
    for (const auto& vm : api::decode<api::FailoverJobDetails>(r.details).vms) {
      if (vm.name == name) return vm;
    }
    ADD_FAILURE() << "no VM " << name;
    return {};
  }

  fs::path dir_;
  FakeSite site_;
  FakeLauncher launcher_;
  std::vector<std::string> overlays_;
};

TEST_F(FailoverJobTest, TheNewestPointsVmsRunHereAsThemselvesInPriorityOrder) {
  launcher_.startTakes = 20ms;
  const JobRecord end = runToEnd(failover());
  EXPECT_EQ(end.state, kJobDone) << end.toJson().toStyledString();
  EXPECT_FALSE(end.error);
  const auto d = api::decode<api::FailoverJobDetails>(end.details);
  EXPECT_EQ(d.pointId, site_.newest.id);  // the newest complete one, chosen at CHECK
  // Promoted once: fenced first, writes allowed, what it found recorded.
  EXPECT_EQ(d.readOnlyWas, std::optional<bool>(true));
  EXPECT_EQ(site_.fenceCalls, 1);
  EXPECT_EQ(site_.allowWritesCalls, 1);
  EXPECT_EQ(d.fencedKeys.size(), 1u);
  // A session still connected is cut before writes are allowed.
  EXPECT_EQ(d.fencedProcesses, (std::vector<std::string>{"4242 gsyncd receiver into gdr-secondary"}));
  EXPECT_TRUE(site_.receiversFencedBeforeWrites);
  EXPECT_EQ(site_.fencedVolume, "gdr-secondary");
  EXPECT_EQ(d.mountPoint, "/mnt/rw");
  // db (priority 1) first, then web: one after the other.
  ASSERT_EQ(launcher_.started, (std::vector<std::string>{kDbId, kWebId}));
  EXPECT_EQ(launcher_.mostStartsAtOnce, 1);
  for (const std::string name : {"web", "db"}) {
    const api::FailoverVm vm = vmNamed(end, name);
    EXPECT_EQ(vm.result, "running") << vm.why;
    ASSERT_TRUE(vm.rtoSeconds);
    EXPECT_GE(*vm.rtoSeconds, 0.0);
    EXPECT_EQ(vm.leftOut, std::vector<std::string>{});
  }
  // Each overlay in the snapshot directory beside its base, named after
  // the point, over the chain's top by a relative name.
  EXPECT_EQ(overlays_.size(), 4u);
  EXPECT_NE(std::find(overlays_.begin(), overlays_.end(),
                      "/mnt/rw/images/.gdr-snapshots/web-vda.failover-" + site_.newest.id + ".qcow2 <- web-vda.p1.qcow2"),
            overlays_.end())
      << ::testing::PrintToString(overlays_);
  // Defined as themselves, on the overlays; none destroyed.
  const std::string& xml = launcher_.defined.at(kWebId);
  EXPECT_NE(xml.find("<name>web</name>"), std::string::npos);
  EXPECT_NE(xml.find("web-vda.failover-"), std::string::npos) << xml;
  EXPECT_TRUE(launcher_.destroyed.empty());
  EXPECT_TRUE(fs::exists(dir_ / "failovers" / "web.xml"));
  for (const std::string state : {"INIT", "CHECK", "PROMOTE", "DEFINE", "START", "WATCH"}) {
    EXPECT_EQ(d.stateSeconds.count(state), 1u) << state;
  }
}

// A VM the newest point lacks (its host did not answer that cycle) comes
// from the newest older point that holds it, over that point's chain.
TEST_F(FailoverJobTest, AVmTheNewestPointMissedComesFromAnOlderPoint) {
  const std::string olderId = "20261204T020000Z-88888888", missedToo = "20261204T030000Z-99999999";
  site_.dbMissedTheNewestPoint(olderId);
  // The point between them missed db too.
  site_.older[missedToo] = site_.newest;
  site_.older[missedToo].id = missedToo;
  site_.olderResults[missedToo] = site_.result;
  const JobRecord end = runToEnd(failover());
  EXPECT_EQ(end.state, kJobDone) << end.toJson().toStyledString();
  const auto d = api::decode<api::FailoverJobDetails>(end.details);
  EXPECT_EQ(d.pointId, site_.newest.id);
  const api::FailoverVm db = vmNamed(end, "db"), web = vmNamed(end, "web");
  EXPECT_EQ(db.result, "running") << db.why;
  EXPECT_EQ(db.pointId, olderId);
  EXPECT_EQ(web.result, "running") << web.why;
  EXPECT_EQ(web.pointId, "");
  EXPECT_NE(std::find(overlays_.begin(), overlays_.end(),
                      "/mnt/rw/images/.gdr-snapshots/db-vda.failover-" + olderId + ".qcow2 <- db-vda.p1.qcow2"),
            overlays_.end())
      << ::testing::PrintToString(overlays_);
  EXPECT_NE(launcher_.defined.at(kDbId).find("db-vda.failover-" + olderId), std::string::npos);
}

// No point holds it intact: reported failed, named; the others still run.
TEST_F(FailoverJobTest, AVmNoPointHoldsIntactFailsAloneAndSaysWhy) {
  const std::string olderId = "20261204T030000Z-99999999";
  site_.dbMissedTheNewestPoint(olderId);
  site_.olderResults[olderId].complete = false;
  site_.olderResults[olderId].problems = {{"db", "vda", "range 3 differs"}};
  // An older one still, never sealed: its sync did not finish.
  const std::string unsealedId = "20261204T010000Z-77777777";
  site_.older[unsealedId] = site_.older[olderId];
  site_.older[unsealedId].id = unsealedId;
  site_.olderResults[unsealedId].id = unsealedId;
  const JobRecord end = runToEnd(failover());
  EXPECT_EQ(end.state, kJobFailed) << end.toJson().toStyledString();
  const api::FailoverVm db = vmNamed(end, "db");
  EXPECT_EQ(db.result, "failed");
  EXPECT_NE(db.why.find("not in point " + site_.newest.id), std::string::npos) << db.why;
  // Each point that holds it, newest first, and why it cannot serve.
  EXPECT_NE(db.why.find("point " + olderId + " holds it but vda: range 3 differs; point " + unsealedId +
                        " holds it but is not sealed"),
            std::string::npos)
      << db.why;
  EXPECT_EQ(launcher_.defined.count(kDbId), 0u);
  EXPECT_EQ(vmNamed(end, "web").result, "running");
  ASSERT_TRUE(end.error);
  EXPECT_NE(end.error->message.find("db"), std::string::npos) << end.error->message;
}

// Another VM's problem in the older point does not keep this one out.
TEST_F(FailoverJobTest, AnOlderPointServesAVmWhoseOwnFilesCheckOut) {
  const std::string olderId = "20261204T030000Z-99999999";
  site_.dbMissedTheNewestPoint(olderId);
  site_.olderResults[olderId].complete = false;
  site_.olderResults[olderId].problems = {{"web", "vda", "superseded: its base was committed into since"}};
  const JobRecord end = runToEnd(failover());
  EXPECT_EQ(end.state, kJobDone) << end.toJson().toStyledString();
  EXPECT_EQ(vmNamed(end, "db").pointId, olderId);
  EXPECT_EQ(vmNamed(end, "db").result, "running");
}

// VMs of one priority start together: each start is seconds of libvirt's.
TEST_F(FailoverJobTest, VmsOfOnePriorityStartTogether) {
  launcher_.startTakes = 200ms;
  JobRecord r = failover();
  auto d = api::decode<api::FailoverJobDetails>(r.details);
  d.mapping.priority.clear();
  r.details = api::encode(d);
  const JobRecord end = runToEnd(r);
  EXPECT_EQ(end.state, kJobDone) << end.toJson().toStyledString();
  EXPECT_EQ(launcher_.mostStartsAtOnce, 2);
  EXPECT_EQ(launcher_.started.size(), 2u);
  for (const std::string name : {"web", "db"}) EXPECT_EQ(vmNamed(end, name).result, "running");
}

TEST_F(FailoverJobTest, AnIncompletePointChangesNothing) {
  site_.result.complete = false;
  site_.result.problems = {{"web", "vda", "range 1 differs"}};
  const JobRecord end = runToEnd(failover(site_.newest.id));
  EXPECT_EQ(end.state, kJobFailed);
  ASSERT_TRUE(end.error);
  EXPECT_EQ(end.error->code, int(Code::PointIncomplete));
  EXPECT_NE(end.error->message.find("range 1 differs"), std::string::npos) << end.error->message;
  EXPECT_EQ(site_.fenceCalls, 0);
  EXPECT_EQ(site_.allowWritesCalls, 0);
  EXPECT_TRUE(overlays_.empty());
  EXPECT_TRUE(launcher_.defined.empty());

  site_.result.complete = true;
  site_.result.problems.clear();
  site_.result.sealed = false;
  const JobRecord unsealed = runToEnd(failover(site_.newest.id));
  EXPECT_EQ(unsealed.state, kJobFailed);
  EXPECT_NE(unsealed.error->message.find("not sealed"), std::string::npos) << unsealed.error->message;
  EXPECT_EQ(site_.allowWritesCalls, 0);
}

// A file where an overlay would go is someone's: never replaced. Its VM
// fails naming it; the other one runs.
TEST_F(FailoverJobTest, AFileWhereAnOverlayWouldGoIsLeftAloneAndItsVmFails) {
  const std::string theirs = "/mnt/rw/images/.gdr-snapshots/web-vdb.failover-" + site_.newest.id + ".qcow2";
  site_.files.insert(theirs);
  const JobRecord end = runToEnd(failover());
  EXPECT_EQ(end.state, kJobFailed);
  ASSERT_TRUE(end.error);
  EXPECT_EQ(end.error->code, int(Code::FailoverFailed));
  EXPECT_NE(end.error->message.find("web: " + theirs + " exists"), std::string::npos) << end.error->message;
  EXPECT_EQ(vmNamed(end, "db").result, "running");
  EXPECT_EQ(vmNamed(end, "web").result, "failed");
  for (const auto& o : overlays_) EXPECT_NE(o.rfind(theirs, 0), 0u) << o;
  EXPECT_EQ(launcher_.started, std::vector<std::string>{kDbId});
}

TEST_F(FailoverJobTest, AGuestWithoutDiskIoFailsAndIsLeftForALook) {
  launcher_.ioStepsByName["web"] = 0;
  const JobRecord end = runToEnd(failover("", 1));
  EXPECT_EQ(end.state, kJobFailed);
  const api::FailoverVm web = vmNamed(end, "web");
  EXPECT_EQ(web.result, "failed");
  EXPECT_NE(web.why.find("no disk I/O"), std::string::npos) << web.why;
  EXPECT_NE(end.error->message.find("web: no disk I/O"), std::string::npos) << end.error->message;
  EXPECT_TRUE(launcher_.destroyed.empty());
  EXPECT_EQ(launcher_.running.count(kWebId), 1u);
}

// After an agent restart in DEFINE, the overlays it had begun are its own
// to make again; the failover goes on to the end.
TEST_F(FailoverJobTest, ResumedInDefineItRemakesItsOwnOverlaysAndGoesOn) {
  JobRecord r = failover(site_.newest.id);
  auto d = api::decode<api::FailoverJobDetails>(r.details);
  d.mountPoint = "/mnt/rw";
  d.readOnlyWas = true;
  for (const auto& [id, name] : {std::pair{kDbId, "db"}, std::pair{kWebId, "web"}}) {
    api::FailoverVm vm;
    vm.vmId = id;
    vm.name = name;
    for (const std::string drive : {"vda", "vdb"}) {
      vm.disks.push_back({drive, failoverOverlayPath("images/" + std::string(name) + "-" + drive + ".qcow2",
                                                     site_.newest.id)});
    }
    d.vms.push_back(vm);
  }
  d.vms[0].disks[0].made = true;
  site_.files.insert("/mnt/rw/" + d.vms[0].disks[0].overlay);
  r.state = "DEFINE";
  r.details = api::encode(d);
  const JobRecord end = runToEnd(r);
  EXPECT_EQ(end.state, kJobDone) << end.toJson().toStyledString();
  EXPECT_EQ(overlays_.size(), 4u);
  EXPECT_EQ(site_.fenceCalls, 0);  // PROMOTE was behind it
}

TEST(FailoverPlan, OverlaysLieBesideTheirBasesAndPriorityOrdersTheStart) {
  EXPECT_EQ(failoverOverlayPath("images/vm1.qcow2", "P"), "images/.gdr-snapshots/vm1.failover-P.qcow2");
  EXPECT_EQ(failoverOverlayPath("a/b/data.raw", "P"), "a/b/.gdr-snapshots/data.failover-P.qcow2");
  std::vector<api::FailoverVm> vms(4);
  vms[0].name = "z";
  vms[0].priority = std::numeric_limits<std::int64_t>::max();
  vms[1].name = "b";
  vms[1].priority = 2;
  vms[2].name = "a";
  vms[2].priority = std::numeric_limits<std::int64_t>::max();
  vms[3].name = "c";
  vms[3].priority = 1;
  orderForStart(vms);
  std::vector<std::string> names;
  for (const auto& vm : vms) names.push_back(vm.name);
  EXPECT_EQ(names, (std::vector<std::string>{"c", "b", "a", "z"}));
}

}  // namespace
}  // namespace gdr
