// The failback's stages on fake sites: their order, the state kept before
// each action, what a failure gives back (the VMs resumed before SWITCH,
// never after), and a run cut off resumed where it stood.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "client/failback.h"
#include "client/failback_sites.h"
#include "client/sync_settings.h"

namespace gdr::sync {
namespace {

class MemoryStore : public FailbackStore {
 public:
  std::optional<FailbackState> stored;
  int saves = 0;
  std::optional<FailbackState> load() override { return stored; }
  void save(const FailbackState& state) override {
    stored = state;
    ++saves;
  }
};

const FailbackVm kDb{"https://s1:54321", "id-db", "db"};
const FailbackVm kWeb{"https://s2:54321", "id-web", "web"};

class FakeSites : public FailbackActions {
 public:
  explicit FakeSites(MemoryStore& store) : store_(store) {}
  std::vector<std::string> calls;
  std::vector<std::string> stagesSeen;  // the stored stage at each call
  std::string failing;                  // the call that throws
  bool lastCycleFails = false, lastCycleLacksWeb = false, switchFails = false;
  std::vector<FailbackVm> startedLater;  // in the last cycle, not the catch-up
  int cycles = 0, jobs = 0;

  void protect() override { record("protect"); }
  FailbackCycle cycle(const std::string& purpose) override {
    record("cycle " + purpose);
    if (purpose == "last") running_.swap(resumedByHand);  // resumed while it runs
    FailbackCycle c;
    c.ok = !(purpose == "last" && lastCycleFails);
    if (!c.ok) c.failure = "geo-replication timed out";
    c.pointId = "P" + std::to_string(++cycles);
    c.vms = {kDb};
    if (!(purpose == "last" && lastCycleLacksWeb)) c.vms.push_back(kWeb);
    if (purpose == "last") c.vms.insert(c.vms.end(), startedLater.begin(), startedLater.end());
    return c;
  }
  std::set<std::string> resumedByHand;  // VM names someone resumes during the last cycle
  bool pause(const FailbackVm& vm) override {
    record("pause " + vm.name);
    return running_.erase(vm.name) > 0;
  }
  void resume(const FailbackVm& vm) override { record("resume " + vm.name); }
  std::string newJobId() override { return "J" + std::to_string(++jobs); }
  void startSwitch(const std::string& point, const std::string& job) override { record("switch " + point + " " + job); }
  FailbackSwitch followSwitch(const std::string& job) override {
    record("follow " + job);
    if (switchFails) return {false, 0, "web did not boot", {}};
    Json::Value details;
    details["mountPoint"] = "/run/gdr/mnt/back";
    return {true, 7.5, "", details};
  }
  void powerOff(const FailbackVm& vm) override { record("off " + vm.name); }
  FailbackRestore restore(const std::string& point) override {
    record("restore " + point);
    return {{"old -> s1::vms (on p1)"}, "failback -> s1::vms"};
  }

 private:
  void record(const std::string& call) {
    calls.push_back(call);
    stagesSeen.push_back(store_.stored ? stageName(store_.stored->stage) : "none");
    if (!failing.empty() && call == failing) throw std::runtime_error(call + " refused by the fake");
  }
  MemoryStore& store_;
  std::set<std::string> running_;  // resumed by hand, not paused: pause() pauses them
};

FailbackState runOnce(FakeSites& sites, MemoryStore& store, std::vector<std::string>* lines = nullptr) {
  double now = 1000;
  Failback failback(
      sites, store,
      [&](FailbackStage, const std::string& line) {
        if (lines) lines->push_back(line);
      },
      [&] { return now += 1; });
  return failback.run();
}

using V = std::vector<std::string>;

TEST(Failback, EveryStageRunsInOrderEachKeptBeforeItActs) {
  MemoryStore store;
  FakeSites sites(store);
  const FailbackState s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Done);
  EXPECT_EQ(s.failure, "");
  EXPECT_EQ(sites.calls, (V{"protect", "cycle catch-up", "pause db", "pause web", "cycle last", "pause db", "pause web",
                            "switch P2 J1", "follow J1", "off db", "off web", "restore P2"}));
  // What a kill -9 at any call would leave: the stage of that call.
  EXPECT_EQ(sites.stagesSeen, (V{"PROTECT", "CATCH_UP", "PAUSE", "PAUSE", "LAST", "LAST", "LAST", "SWITCH", "SWITCH",
                                 "POWER_OFF", "POWER_OFF", "RESTORE"}));
  EXPECT_EQ(store.stored->stage, FailbackStage::Done);
  EXPECT_EQ(s.catchUpPoint, "P1");
  EXPECT_EQ(s.lastPoint, "P2");
  EXPECT_EQ(s.switchJob, "J1");
  EXPECT_DOUBLE_EQ(s.rtoSeconds, 7.5);
  EXPECT_EQ(failbackToJson(s)["switch"]["mountPoint"].asString(), "/run/gdr/mnt/back");
  EXPECT_GT(s.windowSeconds, 0);
  EXPECT_EQ(s.removedSessions, V{"old -> s1::vms (on p1)"});
  EXPECT_EQ(s.restoredSession, "failback -> s1::vms");
  EXPECT_EQ(s.stageSeconds.size(), 7u);
}

TEST(Failback, ALastCycleThatFailsGivesTheVmsBackAndTheNextRunPausesThemAnew) {
  MemoryStore store;
  FakeSites sites(store);
  sites.lastCycleFails = true;
  FailbackState s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Pause);
  EXPECT_EQ(s.failure, "LAST: the last cycle failed: geo-replication timed out; the VMs run on at the secondary");
  EXPECT_EQ(sites.calls,
            (V{"protect", "cycle catch-up", "pause db", "pause web", "cycle last", "resume db", "resume web"}));
  EXPECT_EQ(store.stored->failure, s.failure);

  sites.calls.clear();
  sites.lastCycleFails = false;
  s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Done);
  EXPECT_EQ(sites.calls.front(), "pause db");  // protect and catch-up are not run again
  EXPECT_EQ(s.lastPoint, "P3");
}

TEST(Failback, ALastPointLackingAVmIsNotSwitchedTo) {
  MemoryStore store;
  FakeSites sites(store);
  sites.lastCycleLacksWeb = true;
  const FailbackState s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Pause);
  EXPECT_EQ(s.failure, "LAST: the last cycle's point lacks web; the VMs run on at the secondary");
  EXPECT_EQ(sites.calls.back(), "resume web");
  for (const auto& c : sites.calls) EXPECT_NE(c.rfind("switch", 0), 0u) << c;
}

TEST(Failback, AVmResumedByHandDuringTheLastCycleIsNotSwitched) {
  // Its writes since the pause are not in the point, and powering it off
  // would be refused: it would run at both sites.
  MemoryStore store;
  FakeSites sites(store);
  sites.resumedByHand = {"web"};
  const FailbackState s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Pause);
  EXPECT_EQ(s.failure,
            "LAST: web ran during the last cycle (resumed by hand?): its point misses their writes; the VMs run on at "
            "the secondary");
  EXPECT_EQ(sites.calls, (V{"protect", "cycle catch-up", "pause db", "pause web", "cycle last", "pause db", "pause web",
                            "resume db", "resume web"}));
}

TEST(Failback, AVmStartedAfterTheCatchUpIsPausedByTheNextRunNotSwitchedWhileItRuns) {
  MemoryStore store;
  FakeSites sites(store);
  sites.startedLater = {{"https://s1:54321", "id-new", "new"}};
  FailbackState s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Pause);
  EXPECT_EQ(s.failure,
            "LAST: new started at the secondary after the catch-up (it was not paused); the VMs run on at the "
            "secondary");
  for (const auto& c : sites.calls) EXPECT_NE(c.rfind("switch", 0), 0u) << c;
  sites.calls.clear();
  s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Done);
  EXPECT_EQ(std::vector<std::string>(sites.calls.begin(), sites.calls.begin() + 3),
            (V{"pause db", "pause web", "pause new"}));
}

TEST(Failback, APauseRefusedResumesThoseAlreadyPaused) {
  MemoryStore store;
  FakeSites sites(store);
  sites.failing = "pause web";
  const FailbackState s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Pause);
  EXPECT_EQ(s.failure, "PAUSE: cannot pause web: pause web refused by the fake; the others run on at the secondary");
  EXPECT_EQ(sites.calls, (V{"protect", "cycle catch-up", "pause db", "pause web", "resume db"}));
}

TEST(Failback, AFailedSwitchNeverResumesTheVmsAtTheSecondaryAndIsRetriedAsANewJob) {
  MemoryStore store;
  FakeSites sites(store);
  sites.switchFails = true;
  FailbackState s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Switch);
  EXPECT_EQ(s.failure,
            "SWITCH: the failover at the primary failed: web did not boot; the VMs stay paused at the secondary (run "
            "failback again to retry)");
  for (const auto& c : sites.calls) EXPECT_NE(c.rfind("resume", 0), 0u) << c;
  EXPECT_EQ(s.switchJob, "");

  sites.calls.clear();
  sites.switchFails = false;
  s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Done);
  EXPECT_EQ(sites.calls, (V{"switch P2 J2", "follow J2", "off db", "off web", "restore P2"}));
}

TEST(Failback, ARunCutOffDuringTheSwitchFollowsTheSameJobInsteadOfStartingASecond) {
  MemoryStore store;
  FakeSites sites(store);
  sites.failing = "follow J1";  // as if the process died there: the job id is kept
  FailbackState s = runOnce(sites, store);
  EXPECT_EQ(s.stage, FailbackStage::Switch);
  EXPECT_EQ(store.stored->switchJob, "J1");

  sites.calls.clear();
  sites.failing.clear();
  std::vector<std::string> lines;
  s = runOnce(sites, store, &lines);
  EXPECT_EQ(s.stage, FailbackStage::Done);
  EXPECT_EQ(sites.calls, (V{"switch P2 J1", "follow J1", "off db", "off web", "restore P2"}));
  EXPECT_EQ(lines.front(), "resumed at SWITCH (it stopped there: SWITCH: follow J1 refused by the fake)");
}

TEST(Failback, ADoneFailbackStartsANewOne) {
  MemoryStore store;
  FakeSites sites(store);
  runOnce(sites, store);
  sites.calls.clear();
  runOnce(sites, store);
  EXPECT_EQ(sites.calls.front(), "protect");
}

TEST(Failback, TheStateSurvivesItsFileAndABrokenFileIsNamed) {
  const auto dir = std::filesystem::temp_directory_path() / ("gdr-failback-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  FileFailbackStore store(dir.string());
  EXPECT_FALSE(store.load());
  FailbackState s;
  s.stage = FailbackStage::PowerOff;
  s.vms = {kDb, kWeb};
  s.lastPoint = "P2";
  s.switchJob = "J1";
  s.stageSeconds["PAUSE"] = 0.25;
  s.windowStart = 1234.5;
  s.removedSessions = {"a -> b::c"};
  store.save(s);
  const auto back = store.load();
  ASSERT_TRUE(back);
  EXPECT_EQ(back->stage, FailbackStage::PowerOff);
  ASSERT_EQ(back->vms.size(), 2u);
  EXPECT_EQ(back->vms[1].host, kWeb.host);
  EXPECT_EQ(back->vms[1].vmId, kWeb.vmId);
  EXPECT_EQ(back->lastPoint, "P2");
  EXPECT_EQ(back->switchJob, "J1");
  EXPECT_DOUBLE_EQ(back->stageSeconds.at("PAUSE"), 0.25);
  EXPECT_DOUBLE_EQ(back->windowStart, 1234.5);
  EXPECT_EQ(back->removedSessions, V{"a -> b::c"});

  Json::Value broken = failbackToJson(s);
  broken["stage"] = "SIDEWAYS";
  EXPECT_THROW(failbackFromJson(broken), std::runtime_error);
  {
    std::ofstream out(dir / "failback.json");
    out << "{not json";
  }
  try {
    store.load();
    FAIL() << "a broken state file was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("move it aside"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Failback, ACycleReportIsReadForItsPointAndTheVmsItProtected) {
  Json::Value report;
  report["status"] = "success";
  report["point"]["id"] = "P9";
  Json::Value db;
  db["vmId"] = "id-db";
  db["name"] = "db";
  db["host"] = "https://s1:54321";
  report["vms"].append(db);
  Json::Value lost = db;
  lost["vmId"] = "id-lost";
  lost["why"] = "its host did not answer";
  report["vms"].append(lost);
  FailbackCycle c = failbackCycleOf(report);
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.pointId, "P9");
  ASSERT_EQ(c.vms.size(), 1u);
  EXPECT_EQ(c.vms[0].vmId, "id-db");
  EXPECT_EQ(c.vms[0].host, "https://s1:54321");

  report["status"] = "failed";
  report["alert"] = "gdr: cycle failed at georep";
  c = failbackCycleOf(report);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.failure, "gdr: cycle failed at georep");

  report["status"] = "success";
  report.removeMember("point");
  EXPECT_FALSE(failbackCycleOf(report).ok);
}

TEST(Failback, TheCommandNeedsBothSitesAndNamesTheSiteItLeaves) {
  const std::vector<std::string> base = {"failback", "--hosts", "https://127.30.0.21:54321,https://s2:54321",
                                         "--volume", "vms",     "--secondary",
                                         "p1::back"};
  EXPECT_THROW(parseSyncArgs(base), SyncUsageError);  // no --secondary-agent
  auto full = base;
  full.insert(full.end(), {"--secondary-agent", "https://p1:54321"});
  SyncSettings s = parseSyncArgs(full);
  EXPECT_EQ(s.command, SyncCommand::Failback);
  EXPECT_EQ(s.restoreHost, "127.30.0.21");  // the first host's, as the restored session names it
  auto named = full;
  named.insert(named.end(), {"--restore-host", "s1.dr"});
  EXPECT_EQ(parseSyncArgs(named).restoreHost, "s1.dr");
  // A socket names no host: it must be said.
  auto local = std::vector<std::string>{"failback",    "--hosts",  "unix:/run/gdr/agent.sock", "--volume",        "vms",
                                        "--secondary", "p1::back", "--secondary-agent",        "https://p1:54321"};
  EXPECT_THROW(parseSyncArgs(local), SyncUsageError);
  local.insert(local.end(), {"--restore-host", "s1"});
  EXPECT_EQ(parseSyncArgs(local).restoreHost, "s1");
  for (const char* bad : {"", "s1:22", "a b"}) {
    auto wrong = full;
    wrong.insert(wrong.end(), {"--restore-host", bad});
    EXPECT_THROW(parseSyncArgs(wrong), SyncUsageError) << bad;
  }
}

}  // namespace
}  // namespace gdr::sync
