// The drill job against fakes of its seams: the point on the volume, the
// libvirt calls that start, watch and destroy the copies, qemu-img.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/errors.h"
#include "core/job_store.h"
#include "tests/unit/recovery_fakes.h"
#include "verbs/drill_job.h"

namespace gdr {
namespace {

namespace fs = std::filesystem;
using namespace testing_fakes;
using namespace std::chrono_literals;

struct FakePoint : DrillPointSource {
  api::PointManifest drilled;  // the point drilled
  api::PointCheckResult result;
  FakePoint() {
    drilled.id = "20261204T040000Z-0a1b2c3d";
    drilled.time = 1796356800;
    drilled.vms = {pointVm("11111111-1111-4111-8111-111111111111", "web"),
                  pointVm("22222222-2222-4222-8222-222222222222", "db")};
    result.id = drilled.id;
    result.complete = result.sealed = true;
  }
  // Older points, by id, as the listing shows them (sealed, problems).
  std::map<std::string, api::PointManifest> older;
  std::map<std::string, api::PointSummary> olderListed;
  api::PointListResult points(const api::DrillJobDetails&) override {
    api::PointListResult list;
    api::PointSummary newest;
    newest.id = drilled.id;
    for (const auto& vm : drilled.vms) newest.vms.push_back(vm.name);
    newest.sealed = true;
    newest.state = "complete";
    list.points.push_back(newest);
    for (auto it = olderListed.rbegin(); it != olderListed.rend(); ++it) list.points.push_back(it->second);
    return list;
  }
  api::PointCheckResult check(const api::DrillJobDetails& d) override {
    EXPECT_EQ(d.pointId, drilled.id);
    return result;
  }
  api::PointManifest manifest(const api::DrillJobDetails& d) override {
    if (d.pointId == drilled.id) return drilled;
    EXPECT_EQ(older.count(d.pointId), 1u) << d.pointId;
    return older[d.pointId];
  }
  // The drilled point made while db's host did not answer; db, its delta
  // an older one, in point `olderId`, listed sealed and without problems.
  void dbMissedThePoint(const std::string& olderId) {
    api::PointManifest before = drilled;
    before.id = olderId;
    for (auto& disk : before.vms.back().disks) disk.delta->path += ".older";
    older[olderId] = before;
    api::PointSummary listed;
    listed.id = olderId;
    listed.vms = {"web", "db"};
    listed.sealed = true;
    listed.state = "superseded";
    listed.problems = {{"web", "vda", "its delta is not in the chain of the newest complete point"}};
    olderListed[olderId] = listed;
    drilled.vms.pop_back();
    drilled.unprotected = {{"22222222-2222-4222-8222-222222222222", "db", "its host did not answer: connection refused"}};
  }
  std::string definition(const api::DrillJobDetails&, const api::PointDefinition&) override {
    return definitionFixture();
  }
};

class DrillJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("gdr-drill-" + JobStore::newId());
    fs::create_directories(dir_ / "jobs");
  }
  void TearDown() override { fs::remove_all(dir_); }

  DrillTools tools() {
    DrillTools t{point_, launcher_,
                 [this](const std::string& overlay, const virt::ChainImage& backing, std::uint64_t size) {
                   overlays_.push_back(overlay + " <- " + backing.path + " " + std::to_string(size));
                   std::ofstream(overlay) << "qcow2";
                 }};
    t.pollInterval = 5ms;
    return t;
  }

  JobRecord drill(std::int64_t bootTimeout = 30, const std::vector<std::string>& only = {}) {
    api::DrillParams p;
    p.volfileServers = {"127.0.0.1"};
    p.volumeName = "gdr-secondary";
    p.pointId = point_.drilled.id;
    p.vms = only;
    p.bootTimeout = bootTimeout;
    JobRecord r = newDrillRecord(p, "");
    r.id = JobStore::newId();
    auto d = api::decode<api::DrillJobDetails>(r.details);
    d.mountPoint = "/mnt/secondary";
    d.scratchDir = (dir_ / "drills" / r.id).string();
    r.details = api::encode(d);
    return r;
  }

  JobRecord runToEnd(JobRecord r, bool resumed = false) {
    JobStore store(dir_ / "jobs", 3600s);
    const std::string id = store.start(r, std::make_unique<DrillJob>(tools(), resumed)).id;
    for (int i = 0; i < 2000; ++i) {
      const JobRecord now = store.get(id);
      if (now.terminal()) return now;
      std::this_thread::sleep_for(5ms);
    }
    ADD_FAILURE() << "the drill did not end";
    return store.get(id);
  }

  static api::DrillVm vmNamed(const JobRecord& r, const std::string& name) {
    for (const auto& vm : api::decode<api::DrillJobDetails>(r.details).vms) {
      if (vm.name == name) return vm;
    }
    ADD_FAILURE() << "no VM " << name;
    return {};
  }

  fs::path dir_;
  FakePoint point_;
  FakeLauncher launcher_;
  std::vector<std::string> overlays_;
};

TEST_F(DrillJobTest, EveryGuestDoingIoPassesAndEverythingItMadeIsGone) {
  const JobRecord end = runToEnd(drill());
  EXPECT_EQ(end.state, kJobDone) << end.toJson().toStyledString();
  EXPECT_FALSE(end.error);
  for (const std::string name : {"web", "db"}) {
    const api::DrillVm vm = vmNamed(end, name);
    EXPECT_EQ(vm.result, "passed") << vm.why;
    EXPECT_EQ(vm.drillName, "drill-" + name + "-" + end.id.substr(0, 8));
    ASSERT_TRUE(vm.bootSeconds);
    EXPECT_GE(*vm.bootSeconds, 0.0);
  }
  // Each disk's overlay over the newest image of the point's chain, on the mount.
  ASSERT_EQ(overlays_.size(), 4u);
  EXPECT_NE(overlays_[0].find("-vda.qcow2 <- /mnt/secondary/images/.gdr-snapshots/web-vda.p1.qcow2 1073741824"),
            std::string::npos)
      << overlays_[0];
  // Both started, both destroyed; no copy runs, no overlay is left, the XML stays.
  EXPECT_EQ(launcher_.started.size(), 2u);
  EXPECT_EQ(launcher_.destroyed, launcher_.started);
  EXPECT_TRUE(launcher_.running.empty());
  const fs::path scratch = api::decode<api::DrillJobDetails>(end.details).scratchDir;
  int xmlFiles = 0;
  for (const auto& e : fs::directory_iterator(scratch)) {
    EXPECT_NE(e.path().extension(), ".qcow2") << e.path();
    xmlFiles += e.path().extension() == ".xml";
  }
  EXPECT_EQ(xmlFiles, 2);
  // The RTO split: the time spent in each state.
  const auto seconds = api::decode<api::DrillJobDetails>(end.details).stateSeconds;
  for (const std::string state : {"INIT", "CHECK", "PREPARE", "BOOT", "WATCH", "CLEANUP"}) {
    ASSERT_EQ(seconds.count(state), 1u) << state;
    EXPECT_GE(seconds.at(state), 0.0) << state;
  }
  EXPECT_GT(seconds.at("WATCH"), 0.0);  // at least one poll
  // The copies run without NICs, on the secondary's paths.
  for (const auto& vm : {vmNamed(end, "web"), vmNamed(end, "db")}) {
    std::ifstream in(scratch / (vm.drillName + ".xml"));
    const std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(xml.find("<uuid>" + vm.drillUuid + "</uuid>"), std::string::npos);
    EXPECT_EQ(xml.find("/var/lib/gdr-lab/mnt/primary"), std::string::npos) << xml;
  }
}

TEST_F(DrillJobTest, AVmTheCheckFindsBrokenFailsByNameAndIsNeverStarted) {
  point_.result.complete = false;
  point_.result.problems.push_back({"db", "vda", "sampled range 3 differs (shard missing?)"});
  const JobRecord end = runToEnd(drill());
  EXPECT_EQ(end.state, kJobFailed);
  ASSERT_TRUE(end.error);
  EXPECT_EQ(end.error->code, int(Code::DrillFailed));
  EXPECT_NE(end.error->message.find("db: the point does not match its manifest: vda: sampled range 3 differs"),
            std::string::npos)
      << end.error->message;
  EXPECT_EQ(end.error->message.find("web:"), std::string::npos) << end.error->message;
  EXPECT_EQ(vmNamed(end, "web").result, "passed");
  EXPECT_EQ(vmNamed(end, "db").result, "failed");
  EXPECT_FALSE(vmNamed(end, "db").started);
  EXPECT_EQ(launcher_.started.size(), 1u);
}

TEST_F(DrillJobTest, AnUnsealedPointBootsNothing) {
  point_.result.sealed = false;
  const JobRecord end = runToEnd(drill());
  EXPECT_EQ(end.state, kJobFailed);
  EXPECT_TRUE(launcher_.started.empty());
  EXPECT_TRUE(overlays_.empty());
  EXPECT_NE(end.error->message.find("not sealed"), std::string::npos) << end.error->message;
}

TEST_F(DrillJobTest, AGuestWithoutDiskIoFailsAtTheBootTimeoutAndIsDestroyed) {
  launcher_.ioStepsByName["db"] = 0;
  JobRecord r = drill();
  auto d = api::decode<api::DrillJobDetails>(r.details);
  d.bootTimeout = 1;
  r.details = api::encode(d);
  const JobRecord end = runToEnd(r);
  EXPECT_EQ(end.state, kJobFailed);
  EXPECT_EQ(vmNamed(end, "web").result, "passed");
  EXPECT_EQ(vmNamed(end, "db").why, "no disk I/O within the boot timeout");
  EXPECT_EQ(launcher_.destroyed.size(), 2u);
  EXPECT_TRUE(launcher_.running.empty());
}

// A VM the point lacks boots from the newest older point that holds it
// whole (another VM's problems there do not matter), as a failover would.
TEST_F(DrillJobTest, AVmThePointMissedBootsFromAnOlderPoint) {
  const std::string olderId = "20261204T030000Z-99999999";
  point_.dbMissedThePoint(olderId);
  const JobRecord end = runToEnd(drill());
  EXPECT_EQ(end.state, kJobDone) << end.toJson().toStyledString();
  const api::DrillVm db = vmNamed(end, "db"), web = vmNamed(end, "web");
  EXPECT_EQ(db.result, "passed") << db.why;
  EXPECT_EQ(db.pointId, olderId);
  EXPECT_EQ(web.pointId, "");
  EXPECT_EQ(launcher_.started.size(), 2u);
  EXPECT_TRUE(std::any_of(overlays_.begin(), overlays_.end(), [](const std::string& o) {
    return o.find("<- /mnt/secondary/images/.gdr-snapshots/db-vda.p1.qcow2.older ") != std::string::npos;
  })) << ::testing::PrintToString(overlays_);
  // Asked for by name, it is known too.
  overlays_.clear();
  const JobRecord only = runToEnd(drill(30, {"db"}));
  EXPECT_EQ(only.state, kJobDone) << only.toJson().toStyledString();
  EXPECT_EQ(api::decode<api::DrillJobDetails>(only.details).vms.size(), 1u);
}

// Held by no older point whole: that VM fails, named with each point's
// reason; the others still boot, and the drill reports the failure.
TEST_F(DrillJobTest, AVmNoPointHoldsWholeFailsAndSaysWhy) {
  const std::string olderId = "20261204T030000Z-99999999";
  point_.dbMissedThePoint(olderId);
  point_.olderListed[olderId].problems.push_back({"db", "vdb", "range 2 differs"});
  const JobRecord end = runToEnd(drill());
  EXPECT_EQ(end.state, kJobFailed) << end.toJson().toStyledString();
  const api::DrillVm db = vmNamed(end, "db");
  EXPECT_EQ(db.result, "failed");
  EXPECT_NE(db.why.find("not in point " + point_.drilled.id + " (its host did not answer: connection refused), and "
                        "point " + olderId + " holds it but vdb: range 2 differs"),
            std::string::npos)
      << db.why;
  EXPECT_EQ(vmNamed(end, "web").result, "passed");
  EXPECT_EQ(launcher_.started.size(), 1u);
  ASSERT_TRUE(end.error);
  EXPECT_NE(end.error->message.find("db"), std::string::npos) << end.error->message;
}

TEST_F(DrillJobTest, OnlyTheVmsAskedForAndAnUnknownNameIsRefused) {
  const JobRecord end = runToEnd(drill(30, {"db"}));
  EXPECT_EQ(end.state, kJobDone);
  EXPECT_EQ(api::decode<api::DrillJobDetails>(end.details).vms.size(), 1u);
  const JobRecord unknown = runToEnd(drill(30, {"mail"}));
  EXPECT_EQ(unknown.state, kJobFailed);
  ASSERT_TRUE(unknown.error);
  EXPECT_NE(unknown.error->message.find("no VM named mail"), std::string::npos) << unknown.error->message;
}

TEST_F(DrillJobTest, ACopyLibvirtRefusesFailsAndTheDrillStillCleansUp) {
  launcher_.startFails = true;
  const JobRecord end = runToEnd(drill());
  EXPECT_EQ(end.state, kJobFailed);
  EXPECT_NE(vmNamed(end, "web").why.find("no space for the guest"), std::string::npos);
  const fs::path scratch = api::decode<api::DrillJobDetails>(end.details).scratchDir;
  for (const auto& e : fs::directory_iterator(scratch)) EXPECT_NE(e.path().extension(), ".qcow2") << e.path();
}

// kill -9 of the agent while the copies ran: the drill cannot be judged,
// and the copies it recorded as started are destroyed.
TEST_F(DrillJobTest, ResumedWhileWatchingItFailsAndDestroysWhatItStarted) {
  JobRecord r = drill();
  r.state = "WATCH";
  auto d = api::decode<api::DrillJobDetails>(r.details);
  d.pointTime = point_.drilled.time;
  api::DrillVm vm;
  vm.vmId = point_.drilled.vms[0].vmId;
  vm.name = "web";
  vm.drillName = drillNameOf("web", r.id);
  vm.drillUuid = "5d1c0a57-1f57-4c8e-9e0e-7f7c2f4a9b10";
  vm.drives = {"vda", "vdb"};
  vm.started = true;
  vm.startedAt = 1;
  d.vms = {vm};
  r.details = api::encode(d);
  launcher_.running[vm.drillUuid] = "<domain/>";
  const JobRecord end = runToEnd(r, true);
  EXPECT_EQ(end.state, kJobFailed);
  EXPECT_NE(vmNamed(end, "web").why.find("the agent restarted during the drill"), std::string::npos);
  EXPECT_EQ(launcher_.destroyed, std::vector<std::string>{vm.drillUuid});
  EXPECT_TRUE(launcher_.running.empty());
}

TEST(DrillJobTable, EveryPathEndsInCleanup) {
  const auto& table = DrillJob::transitions();
  for (const auto& [from, to] : table) {
    if (from == api::DrillState::Cleanup) continue;
    EXPECT_NE(std::find(to.begin(), to.end(), api::DrillState::Cleanup), to.end()) << api::enumName(from);
  }
  EXPECT_EQ(table.at(api::DrillState::Cleanup),
            (std::vector<api::DrillState>{api::DrillState::Done, api::DrillState::Failed, api::DrillState::Aborted}));
}

}  // namespace
}  // namespace gdr
