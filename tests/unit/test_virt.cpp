// The virt layer on recorded domain XML: parsing, snapshot XML, the
// snapshot verb's checks and rollback, and the merge job's state machine
// on a fake domain that replays XML per state and injects failures.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/errors.h"
#include "core/job_store.h"
#include "virt/definition.h"
#include "virt/domain.h"
#include "virt/domain_xml.h"
#include "virt/drill_xml.h"
#include "virt/gluster_mounts.h"
#include "virt/merge_job.h"
#include "virt/merge_plan.h"
#include "virt/snapshot.h"
#include "virt/vm_activity.h"
#include "virt/vm_listing.h"

namespace gdr::virt {
namespace {

using namespace std::chrono_literals;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(GDR_SOURCE_DIR) + "/tests/fixtures/virt/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Paths in the recorded XML (the lab's).
const std::string kBase = "/var/lib/gdr-lab/mnt/primary/images/gdr-lab-vm1.qcow2";
const std::string kTop = "/var/lib/gdr-lab/mnt/primary/images/.gdr-snapshots/gdr-lab-vm1.fixture.qcow2";
const std::string kNext = "/var/lib/gdr-lab/mnt/primary/images/.gdr-snapshots/gdr-lab-vm1.next.qcow2";

TEST(DomainXml, ParsesChainsAndMirrors) {
  DomainInfo base = parseDomainXml(fixture("domain-base.xml"));
  EXPECT_EQ(base.name, "gdr-lab-vm1");
  EXPECT_EQ(base.uuid.size(), 36u);
  ASSERT_NE(base.disk("vda"), nullptr);
  EXPECT_EQ(base.disk("vda")->path, kBase);
  EXPECT_EQ(base.disk("vda")->format, "qcow2");
  EXPECT_FALSE(base.disk("vda")->backing());

  DomainInfo snap = parseDomainXml(fixture("domain-snapshot.xml"));
  ASSERT_EQ(snap.disk("vda")->chain.size(), 2u);
  EXPECT_EQ(snap.disk("vda")->chain[0], kTop);
  EXPECT_EQ(*snap.disk("vda")->backing(), kBase);
  EXPECT_FALSE(snap.disk("vda")->mirror);

  DomainInfo commit = parseDomainXml(fixture("domain-commit.xml"));
  ASSERT_TRUE(commit.disk("vda")->mirror);
  EXPECT_EQ(commit.disk("vda")->mirror->job, "active-commit");
  EXPECT_FALSE(commit.disk("vda")->mirror->ready);
  DomainInfo ready = parseDomainXml(fixture("domain-ready.xml"));
  EXPECT_TRUE(ready.disk("vda")->mirror->ready);
  EXPECT_THROW(parseDomainXml("<nope/>"), AgentError);
}

TEST(DomainXml, TheGuestAgentChannelAndItsState) {
  EXPECT_EQ(parseDomainXml(fixture("domain-base.xml")).guestAgent, GuestAgentChannel::None);
  // Recorded from a lab guest given the channel, with no agent inside.
  EXPECT_EQ(parseDomainXml(fixture("domain-guest-agent.xml")).guestAgent, GuestAgentChannel::Disconnected);
  const std::string connected =
      "<domain><devices><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>"
      "</channel></devices></domain>";
  EXPECT_EQ(parseDomainXml(connected).guestAgent, GuestAgentChannel::Connected);
  const std::string other =
      "<domain><devices><channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>"
      "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>";
  EXPECT_EQ(parseDomainXml(other).guestAgent, GuestAgentChannel::Unknown);
}

TEST(DomainXml, SnapshotXmlNamesEveryDisk) {
  const std::string xml = snapshotXml({{"vda", "/images/.gdr-snapshots/a'b.qcow2"}}, {"vda", "vdb"});
  EXPECT_NE(xml.find("<disk name='vda' snapshot='external' type='file'>"), std::string::npos);
  EXPECT_NE(xml.find("a&apos;b.qcow2"), std::string::npos);
  EXPECT_NE(xml.find("<disk name='vdb' snapshot='no'/>"), std::string::npos);
  const std::string overlay = defaultOverlayPath("/mnt/images/vm1.qcow2", 1795401186);
  EXPECT_EQ(overlay.rfind("/mnt/images/.gdr-snapshots/vm1.20261123T023306Z.", 0), 0u) << overlay;
}

// A domain whose XML follows what libvirt would show; failures on demand.
class FakeDomain : public Domain {
 public:
  // base, snapshot, commit, ready; delta (next over top over base),
  // delta-commit (top being committed under next), delta-committed.
  std::string phase = "snapshot";
  int readyAfterPolls = 2;  // commit -> ready after this many job polls
  int pivotFailures = 0;
  bool jobVanishes = false;  // the block job disappears without a pivot
  bool snapshotFails = false;
  // The guest agent channel's state in the XML ("" none), and whether an
  // agent behind a connected channel answers.
  std::string agentChannel = "connected";
  bool agentAnswers = true;
  std::vector<std::string> calls;
  std::string snapshotXmlSeen;
  std::mutex mutex;

  std::string uuid() const override { return "a6830fcc-caf3-4238-bbf8-d1371c691477"; }
  std::string name() const override { return "gdr-lab-vm1"; }
  bool isPaused = false;
  bool running() override { return true; }
  bool paused() override { return isPaused; }
  void suspend() override {}
  void resume() override {}
  void destroy() override {}
  std::string xml() override {
    std::lock_guard<std::mutex> lock(mutex);
    std::string xml = fixture("domain-" + (phase == "delta-commit" ? std::string("delta") : phase) + ".xml");
    if (!agentChannel.empty()) {
      const std::string channel = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='" +
                                  agentChannel + "'/></channel>\n";
      xml.insert(xml.find("  </devices>"), channel);
    }
    return xml;
  }
  std::string definitionXml() override { return fixture("domain-inactive.xml"); }
  void snapshot(const std::string& xml, bool quiesce) override {
    std::lock_guard<std::mutex> lock(mutex);
    calls.push_back(quiesce ? "snapshot+quiesce" : "snapshot");
    snapshotXmlSeen = xml;
    if (quiesce && !agentAnswers) {
      Json::Value data;
      data["agentUnavailable"] = true;
      throw AgentError(Code::SnapshotFailed, "QEMU guest agent is not connected", data);
    }
    if (snapshotFails) throw AgentError(Code::SnapshotFailed, "snapshot: injected failure");
    phase = "snapshot";
  }
  void blockCommit(const std::string& disk, const std::string& base, const std::string& top, unsigned long) override {
    std::lock_guard<std::mutex> lock(mutex);
    calls.push_back("blockCommit " + disk + " " + base + (top.empty() ? "" : " top=" + top));
    if (!commitRefusal.empty()) throw AgentError(Code::MergeFailed, commitRefusal);
    phase = top.empty() ? "commit" : "delta-commit";
    polls_ = 0;
  }
  int capacityCalls = 0;
  std::uint64_t capacity(const std::string&) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++capacityCalls;
    return 2ull << 30;
  }
  std::optional<BlockJobInfo> blockJobInfo(const std::string&) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (phase == "delta-commit") {  // ends by itself, no mirror, no pivot
      if (++polls_ > readyAfterPolls) {
        phase = "delta-committed";
        return std::nullopt;
      }
      BlockJobInfo info;
      info.end = 1000;
      info.cur = std::min<std::uint64_t>(1000, 300 * polls_);
      return info;
    }
    if (phase != "commit" && phase != "ready") return std::nullopt;
    if (jobVanishes) {
      jobVanishes = false;
      phase = "snapshot";
      return std::nullopt;
    }
    BlockJobInfo info;
    info.end = 1000;
    // cur == end right at the start too: must not be taken for "ready".
    info.cur = polls_ == 0 ? 1000 : std::min<std::uint64_t>(1000, 300 * polls_);
    if (phase == "commit" && ++polls_ > readyAfterPolls) phase = "ready";
    return info;
  }
  void blockJobAbort(const std::string&, bool pivot) override {
    std::lock_guard<std::mutex> lock(mutex);
    calls.push_back(pivot ? "pivot" : "cancel");
    if (pivot && pivotFailures > 0) {
      --pivotFailures;
      throw AgentError(Code::MergeFailed, "pivot: injected failure");
    }
    if (pivot && phase != "ready") throw AgentError(Code::MergeFailed, "job not ready");
    phase = pivot ? "base" : "snapshot";
  }
  std::string commitRefusal;  // libvirt says no to blockCommit with this message
  bool called(const std::string& c) {
    std::lock_guard<std::mutex> lock(mutex);
    return std::find(calls.begin(), calls.end(), c) != calls.end();
  }

 private:
  int polls_ = 0;
};

class FakeHypervisor : public Hypervisor {
 public:
  std::shared_ptr<FakeDomain> domain = std::make_shared<FakeDomain>();
  std::atomic<int> unreachable{0};  // lookups that fail as if libvirt were down

  std::unique_ptr<Domain> lookup(const std::string& uuid) override {
    if (unreachable > 0) {
      --unreachable;
      throw LibvirtUnreachable(Code::GeneralException, "cannot connect to libvirt: connection lost");
    }
    if (uuid != domain->uuid()) throw AgentError(Code::NoSuchVM, "no VM with id " + uuid);
    return std::make_unique<Proxy>(domain);
  }
  std::vector<std::unique_ptr<Domain>> runningDomains() override {
    std::vector<std::unique_ptr<Domain>> out;
    out.push_back(std::make_unique<Proxy>(domain));
    return out;
  }

 private:
  struct Proxy : Domain {
    explicit Proxy(std::shared_ptr<FakeDomain> d) : d(std::move(d)) {}
    std::shared_ptr<FakeDomain> d;
    std::string uuid() const override { return d->uuid(); }
    std::string name() const override { return d->name(); }
    bool running() override { return d->running(); }
    bool paused() override { return d->paused(); }
    void suspend() override { d->suspend(); }
    void resume() override { d->resume(); }
    void destroy() override { d->destroy(); }
    std::string xml() override { return d->xml(); }
    std::string definitionXml() override { return d->definitionXml(); }
    void snapshot(const std::string& x, bool q) override { d->snapshot(x, q); }
    void blockCommit(const std::string& a, const std::string& b, const std::string& t, unsigned long c) override {
      d->blockCommit(a, b, t, c);
    }
    std::uint64_t capacity(const std::string& a) override { return d->capacity(a); }
    std::optional<BlockJobInfo> blockJobInfo(const std::string& a) override { return d->blockJobInfo(a); }
    void blockJobAbort(const std::string& a, bool p) override { d->blockJobAbort(a, p); }
  };
};

class MergeJobTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = std::filesystem::path(testing::TempDir()) / ("gdr-merge-" + JobStore::newId()); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  MergeSpec spec() {
    MergeSpec s;
    s.vmId = hv_.domain->uuid();
    s.drive = "vda";
    s.top = kTop;
    s.base = kBase;
    s.deleteTop = true;
    return s;
  }
  std::unique_ptr<MergeJob> runner(std::chrono::milliseconds pivotDelay = 0ms,
                                   std::chrono::milliseconds pollInterval = 5ms) {
    MergeTuning tuning;
    tuning.pivotDelay = pivotDelay;
    tuning.pollInterval = pollInterval;
    tuning.libvirtOutage = 3s;
    return std::make_unique<MergeJob>(
        hv_, activity_, [this](const std::string& p) { removed_.push_back(p); }, tuning);
  }
  JobRecord waitEnd(JobStore& store, const std::string& id) {
    for (int i = 0; i < 2000; ++i) {
      const JobRecord r = store.get(id);
      if (r.terminal()) return r;
      std::this_thread::sleep_for(5ms);
    }
    ADD_FAILURE() << "merge never ended, state " << store.get(id).state;
    return store.get(id);
  }
  JobRecord runMerge() {
    JobStore store(dir_, 3600s);
    activity_.beginMerge(hv_.domain->uuid(), "vda", "x");
    const std::string id = store.start(newMergeRecord(spec()), runner()).id;
    return waitEnd(store, id);
  }

  FakeHypervisor hv_;
  VmActivity activity_;
  std::vector<std::string> removed_;
  std::filesystem::path dir_;
};

TEST_F(MergeJobTest, CommitsWaitsForReadyPivotsAndCleansUp) {
  const JobRecord r = runMerge();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_TRUE(hv_.domain->called("blockCommit vda " + kBase));
  EXPECT_TRUE(hv_.domain->called("pivot"));
  EXPECT_EQ(hv_.domain->phase, "base");
  EXPECT_EQ(removed_, std::vector<std::string>{kTop});
  // The drive is free again.
  EXPECT_NO_THROW(activity_.beginMerge(hv_.domain->uuid(), "vda", "next"));
}

// libvirt's block job event wakes the job: with an hour between polls, the
// merge still ends as soon as it is told the mirror is ready.
TEST_F(MergeJobTest, ABlockJobEventWakesTheJobBeforeItsNextPoll) {
  hv_.domain->readyAfterPolls = 1;
  JobStore store(dir_, 3600s);
  activity_.beginMerge(hv_.domain->uuid(), "vda", "x");
  const std::string id = store.start(newMergeRecord(spec()), runner(0ms, 3600s)).id;
  const auto start = std::chrono::steady_clock::now();
  // The job polls once (not ready yet) and waits; until then an event finds
  // it busy, which cuts its next wait short all the same.
  std::this_thread::sleep_for(100ms);
  const std::string other = "00000000-0000-0000-0000-000000000000";
  EXPECT_EQ(store.nudge([&](const JobRecord& r) { return mergeAwaitsBlockJobEvent(r, other, "vda"); }), 0u);
  std::string upper = hv_.domain->uuid();
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_EQ(store.nudge([&](const JobRecord& r) { return mergeAwaitsBlockJobEvent(r, upper, "vda"); }), 1u);
  const JobRecord r = waitEnd(store, id);
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(MergeJobEvents, AnEventConcernsARunningMergeOfThatVmAndDrive) {
  JobRecord merge;
  merge.type = kMergeJobType;
  merge.state = "COMMIT";
  merge.details["vmID"] = "a6830fcc-caf3-4238-bbf8-d1371c691477";
  merge.details["drive"] = "vda";
  EXPECT_TRUE(mergeAwaitsBlockJobEvent(merge, "a6830fcc-caf3-4238-bbf8-d1371c691477", "vda"));
  EXPECT_FALSE(mergeAwaitsBlockJobEvent(merge, "a6830fcc-caf3-4238-bbf8-d1371c691477", "vdb"));
  EXPECT_FALSE(mergeAwaitsBlockJobEvent(merge, "b6830fcc-caf3-4238-bbf8-d1371c691477", "vda"));
  JobRecord done = merge;
  done.state = kJobDone;
  EXPECT_FALSE(mergeAwaitsBlockJobEvent(done, "a6830fcc-caf3-4238-bbf8-d1371c691477", "vda"));
  JobRecord sync = merge;
  sync.type = "georep.sync";
  EXPECT_FALSE(mergeAwaitsBlockJobEvent(sync, "a6830fcc-caf3-4238-bbf8-d1371c691477", "vda"));
}

// The image under the active layer (a recovery point's delta) is committed
// into the base; the VM stays on its active layer, no pivot.
TEST_F(MergeJobTest, ACommitUnderTheActiveLayerEndsByItselfWithoutAPivot) {
  hv_.domain->phase = "delta";
  const DomainInfo info = parseDomainXml(hv_.domain->xml());
  api::MergeParams params;
  params.vmId = hv_.domain->uuid();
  params.drive = "vda";
  params.topVolume = kTop;
  const MergeSpec planned = planMerge(info, "gdr-lab-vm1", params, false);
  EXPECT_FALSE(planned.active);
  EXPECT_EQ(planned.base, kBase);
  JobStore store(dir_, 3600s);
  activity_.beginMerge(hv_.domain->uuid(), "vda", "x");
  const JobRecord r = waitEnd(store, store.start(newMergeRecord(planned), runner()).id);
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_TRUE(hv_.domain->called("blockCommit vda " + kBase + " top=" + kTop));
  EXPECT_FALSE(hv_.domain->called("pivot"));
  EXPECT_EQ(hv_.domain->phase, "delta-committed");
  EXPECT_TRUE(removed_.empty());                               // deleteTop was not asked
  EXPECT_EQ(MergeSpec::fromDetails(r.details).active, false);  // persisted
}

TEST(MergePlan, TheTopIsTheActiveLayerOrAnImageUnderItAboveABase) {
  const DomainInfo delta = parseDomainXml(fixture("domain-delta.xml"));
  api::MergeParams params;
  params.vmId = "a6830fcc-caf3-4238-bbf8-d1371c691477";
  params.drive = "vda";
  EXPECT_TRUE(planMerge(delta, "vm1", params, false).active);  // default: the active layer into the delta
  EXPECT_EQ(planMerge(delta, "vm1", params, false).base, kTop);
  params.topVolume = kBase;  // the base has nothing under it
  EXPECT_THROW(planMerge(delta, "vm1", params, false), AgentError);
  params.topVolume = kTop;
  params.baseVolume = kNext;  // not under the top
  EXPECT_THROW(planMerge(delta, "vm1", params, false), AgentError);
  // On a two-image chain only the active layer can be merged.
  const DomainInfo two = parseDomainXml(fixture("domain-snapshot.xml"));
  params.baseVolume.reset();
  params.topVolume = kBase;
  EXPECT_THROW(planMerge(two, "vm1", params, false), AgentError);
  // Deeper (deltas kept apart for several points): the oldest delta, right
  // above the base, is committed under two images.
  std::string xml = fixture("domain-delta.xml");
  const std::string under = "<source file='" + kTop + "'/>";
  const std::string older = "/var/lib/gdr-lab/mnt/primary/images/.gdr-snapshots/gdr-lab-vm1.older.qcow2";
  xml.replace(xml.find(under), under.size(),
              under + "<backingStore type='file' index='9'><format type='qcow2'/><source file='" + older + "'/>");
  xml.replace(xml.find("</backingStore>\n      </backingStore>"), 0, "</backingStore>");
  const DomainInfo deep = parseDomainXml(xml);
  ASSERT_EQ(deep.disk("vda")->chain, (std::vector<std::string>{kNext, kTop, older, kBase}));
  params.topVolume = older;
  const MergeSpec spec = planMerge(deep, "vm1", params, false);
  EXPECT_FALSE(spec.active);
  EXPECT_EQ(spec.base, kBase);
  params.baseVolume = kBase;
  params.topVolume = kTop;  // the base is not right under it
  EXPECT_THROW(planMerge(deep, "vm1", params, false), AgentError);
}

TEST_F(MergeJobTest, CurEqualsEndIsNotReady) {
  hv_.domain->readyAfterPolls = 5;
  const JobRecord r = runMerge();
  EXPECT_EQ(r.state, kJobDone);
  // The first poll had cur == end, yet no pivot was attempted before ready.
  EXPECT_EQ(std::count(hv_.domain->calls.begin(), hv_.domain->calls.end(), "pivot"), 1);
}

TEST_F(MergeJobTest, PivotFailureThenSuccess) {
  hv_.domain->pivotFailures = 1;
  const JobRecord r = runMerge();
  EXPECT_EQ(r.state, kJobDone);
  EXPECT_EQ(r.details["pivotAttempts"].asInt(), 1);
}

TEST_F(MergeJobTest, PivotFailurePastTheLimitCancelsAndKeepsAValidChain) {
  hv_.domain->pivotFailures = 10;
  const JobRecord r = runMerge();
  EXPECT_EQ(r.state, kJobFailed);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, 52);
  EXPECT_NE(r.error->message.find("pivot failed 3 times"), std::string::npos) << r.error->message;
  EXPECT_TRUE(hv_.domain->called("cancel"));
  EXPECT_EQ(hv_.domain->phase, "snapshot");  // still running on the top, chain intact
  EXPECT_TRUE(removed_.empty());
}

TEST_F(MergeJobTest, BlockJobVanishedIsRestarted) {
  hv_.domain->jobVanishes = true;
  const JobRecord r = runMerge();
  EXPECT_EQ(r.state, kJobDone);
  EXPECT_EQ(r.details["commitStarts"].asInt(), 2);
}

TEST_F(MergeJobTest, LibvirtConnectionLostThenBack) {
  hv_.unreachable = 3;
  EXPECT_EQ(runMerge().state, kJobDone);
}

TEST_F(MergeJobTest, LibvirtGoneForGoodFails) {
  hv_.unreachable = 1000000;
  const JobRecord r = runMerge();
  EXPECT_EQ(r.state, kJobFailed);
  EXPECT_NE(r.error->message.find("connection lost"), std::string::npos);
}

TEST_F(MergeJobTest, ACommitLibvirtRefusesFailsAtOnceWithLibvirtsMessage) {
  // Not "libvirt unreachable": retrying would get the same answer.
  hv_.domain->commitRefusal =
      "blockCommit vm1 vda: internal error: unable to execute QEMU command 'block-commit': Permission denied";
  const JobRecord r = runMerge();
  EXPECT_EQ(r.state, kJobFailed);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, int(Code::MergeFailed));
  EXPECT_NE(r.error->message.find("unable to execute QEMU command 'block-commit': Permission denied"),
            std::string::npos)
      << r.error->message;
  EXPECT_EQ(r.details["commitStarts"].asInt(), 1);
  EXPECT_EQ(std::count(hv_.domain->calls.begin(), hv_.domain->calls.end(), "blockCommit vda " + kBase), 1);
}

TEST(MergeJobStates, EveryStateButTheEndsMovesSomewhereAndNothingLeavesAnEnd) {
  const auto& table = MergeJob::transitions();
  for (const auto& [state, name] : api::EnumNames<api::MergeState>::table) {
    const bool terminal = api::isTerminalState(name);
    EXPECT_EQ(table.count(state) == 0, terminal) << name;
  }
  for (const auto& [from, moves] : table) {
    for (auto to : moves) EXPECT_NE(from, to) << api::enumName(from);
  }
}

TEST_F(MergeJobTest, APivotDelayHoldsTheJobInReadyAndAStopLeavesItThere) {
  // The pause tests use to stop the agent in READY: the job is persisted in
  // READY, nothing is pivoted, and the next runner (no pause) pivots.
  std::string id;
  {
    JobStore store(dir_, 3600s);
    activity_.beginMerge(hv_.domain->uuid(), "vda", "x");
    id = store.start(newMergeRecord(spec()), runner(60s)).id;
    for (int i = 0; i < 400 && store.get(id).state != "READY"; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_EQ(store.get(id).state, "READY");
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(store.get(id).state, "READY");
    EXPECT_FALSE(hv_.domain->called("pivot"));
  }                                               // the store stops its runners, as the agent does when it stops
  activity_.endMerge(hv_.domain->uuid(), "vda");  // a new agent process starts with no claims
  JobStore store(dir_, 3600s);
  store.registerType(kMergeJobType, [this](const JobRecord& record) {
    activity_.beginMerge(hv_.domain->uuid(), "vda", record.id);
    return runner();
  });
  store.load();
  const JobRecord r = waitEnd(store, id);
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(std::count(hv_.domain->calls.begin(), hv_.domain->calls.end(), "pivot"), 1);
  EXPECT_EQ(hv_.domain->phase, "base");
}

TEST_F(MergeJobTest, RecoveredAfterRestartInEachState) {
  // A restart finds the persisted state; the job re-attaches to what
  // libvirt shows and completes.
  for (const char* state : {"COMMIT", "READY", "PIVOT", "CLEANUP"}) {
    SCOPED_TRACE(state);
    hv_.domain->phase = std::string(state) == "CLEANUP" ? "base" : std::string(state) == "COMMIT" ? "commit" : "ready";
    JobRecord record = newMergeRecord(spec());
    record.state = state;
    record.details["commitStarts"] = 1;
    record.id = JobStore::newId();
    JobStore store(dir_, 3600s);
    activity_.beginMerge(hv_.domain->uuid(), "vda", record.id);
    const std::string id = store.start(record, runner()).id;
    const JobRecord r = waitEnd(store, id);
    EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
    EXPECT_EQ(hv_.domain->phase, "base");
  }
}

// Whoever sees DONE may merge the drive again at once (gdr-sync commits a
// drive's deltas one after another): the claim ends before the end shows.
// Runs a job in the test's thread; at the moment the end is written it
// checks whether the drive could be claimed again.
class EndWatchingControl : public JobControl {
 public:
  EndWatchingControl(JobRecord record, std::function<void()> atEnd)
      : record_(std::move(record)), atEnd_(std::move(atEnd)) {}
  JobRecord record() const override { return record_; }
  void update(const std::function<void(JobRecord&)>& change) override {
    JobRecord next = record_;
    change(next);
    if (next.terminal()) atEnd_();
    record_ = next;
  }
  bool abortRequested() const override { return false; }
  bool stopRequested() const override { return false; }
  bool waitFor(std::chrono::milliseconds) override { return false; }
  bool takeNudge() override { return false; }

 private:
  JobRecord record_;
  std::function<void()> atEnd_;
};

TEST_F(MergeJobTest, TheDriveIsFreeOnceTheEndIsSeen) {
  activity_.beginMerge(hv_.domain->uuid(), "vda", "this");
  bool claimable = false;
  EndWatchingControl control(newMergeRecord(spec()), [&] {
    try {
      activity_.beginMerge(hv_.domain->uuid(), "vda", "next");
      activity_.endMerge(hv_.domain->uuid(), "vda");
      claimable = true;
    } catch (const AgentError&) {
      claimable = false;
    }
  });
  runner()->run(control);
  EXPECT_EQ(control.record().state, kJobDone);
  EXPECT_TRUE(claimable) << "the drive was still claimed when DONE was written";
}

TEST_F(MergeJobTest, RecoveredWithTheBlockJobGoneAfterAPivot) {
  hv_.domain->phase = "base";  // pivoted just before the agent died
  JobRecord record = newMergeRecord(spec());
  record.state = "PIVOT";
  JobStore store(dir_, 3600s);
  activity_.beginMerge(hv_.domain->uuid(), "vda", "x");
  const JobRecord r = waitEnd(store, store.start(record, runner()).id);
  EXPECT_EQ(r.state, kJobDone);
  EXPECT_FALSE(hv_.domain->called("blockCommit vda " + kBase));
}

TEST_F(MergeJobTest, AbortCancelsAndKeepsTheOriginalChain) {
  hv_.domain->readyAfterPolls = 1000000;  // never ready
  JobStore store(dir_, 3600s);
  activity_.beginMerge(hv_.domain->uuid(), "vda", "x");
  const std::string id = store.start(newMergeRecord(spec()), runner()).id;
  for (int i = 0; i < 200 && store.get(id).state != "COMMIT"; ++i) std::this_thread::sleep_for(5ms);
  store.abort(id);
  const JobRecord r = waitEnd(store, id);
  EXPECT_EQ(r.state, kJobAborted);
  EXPECT_TRUE(hv_.domain->called("cancel"));
  EXPECT_EQ(hv_.domain->phase, "snapshot");
  EXPECT_TRUE(removed_.empty());
}

TEST(GlusterMounts, LocatesDisksOnVolumes) {
  const std::string mounts =
      "/dev/vda / ext4 rw 0 0\n"
      "127.0.0.2:/gdr-primary /var/lib/gdr-lab/mnt/primary fuse.glusterfs rw,relatime 0 0\n"
      "127.0.0.2:/gdr-secondary /var/lib/gdr-lab/mnt/secondary fuse.glusterfs ro,relatime 0 0\n"
      "host1:/vm\\040store /rhev/data\\040center fuse.glusterfs rw 0 0\n";
  const auto parsed = parseGlusterMounts(mounts);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[2].mountPoint, "/rhev/data center");
  EXPECT_FALSE(parsed[0].readOnly);
  EXPECT_TRUE(parsed[1].readOnly);  // "ro" among the options, not "relatime"'s letters
  auto loc = locateOnVolume(parsed, kBase);
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc->volume, "gdr-primary");
  EXPECT_EQ(loc->server, "127.0.0.2");
  EXPECT_EQ(loc->path, "images/gdr-lab-vm1.qcow2");
  EXPECT_FALSE(locateOnVolume(parsed, "/var/lib/gdr-lab/mnt/primaryX/a"));
  EXPECT_EQ(locateOnVolume(parsed, "/rhev/data center/img")->volume, "vm\\040store");
}

// The definition that travels: each disk on its base, placed on its volume.
class RecoveryDefinitionTest : public ::testing::Test {
 protected:
  const std::vector<GlusterMount> mounts_ =
      parseGlusterMounts("127.0.0.2:/gdr-primary /var/lib/gdr-lab/mnt/primary fuse.glusterfs rw 0 0\n");
  LocateFn locate_ = [this](const std::string& path) { return locateOnVolume(mounts_, path); };
  const DomainInfo live_ = parseDomainXml(fixture("domain-two-disks.xml"));
};

TEST_F(RecoveryDefinitionTest, DisksNameTheirBasesAndTheirPlaceOnTheVolume) {
  const RecoveryDefinition def = recoveryDefinition(fixture("domain-inactive.xml"), live_, locate_);
  ASSERT_EQ(def.disks.size(), 2u);
  EXPECT_EQ(def.disks[0].target, "vda");
  EXPECT_EQ(def.disks[0].base, "/var/lib/gdr-lab/mnt/primary/images/gdr-lab-vm1.qcow2");
  EXPECT_EQ(def.disks[0].format, "qcow2");
  EXPECT_EQ(def.disks[0].location.volume, "gdr-primary");
  EXPECT_EQ(def.disks[0].location.path, "images/gdr-lab-vm1.qcow2");
  EXPECT_EQ(def.disks[1].base, "/var/lib/gdr-lab/mnt/primary/images/gdr-lab-vm1-data.raw");
  EXPECT_EQ(def.disks[1].format, "raw");
  EXPECT_EQ(def.home().mountPoint, "/var/lib/gdr-lab/mnt/primary");

  // What a recovery reads back: the same VM, on its bases, no overlay anywhere.
  const DomainInfo parsed = parseDomainXml(def.xml);
  EXPECT_EQ(parsed.uuid, "32b1c668-ee26-40fc-b5f4-5539b9185203");
  ASSERT_EQ(parsed.disks.size(), 3u);
  EXPECT_EQ(parsed.disks[0].chain, std::vector<std::string>{def.disks[0].base});
  EXPECT_EQ(parsed.disks[0].format, "qcow2");
  EXPECT_EQ(parsed.disks[1].chain, std::vector<std::string>{def.disks[1].base});
  EXPECT_EQ(parsed.disks[2].device, "cdrom");  // travels as it is
  EXPECT_EQ(def.xml.find(".gdr-snapshots"), std::string::npos) << def.xml;
  EXPECT_EQ(def.xml.find("backingStore"), std::string::npos) << def.xml;
  EXPECT_EQ(def.xml.find("<domain type=\"qemu\" id="), std::string::npos) << def.xml;
  EXPECT_NE(def.xml.find("<memory unit=\"KiB\">163840</memory>"), std::string::npos);
  EXPECT_NE(def.xml.find("<vcpu placement=\"static\">1</vcpu>"), std::string::npos);
  // gdr's metadata replaces the stale one; the application's stays.
  EXPECT_NE(def.xml.find("<app:owner xmlns:app=\"urn:example:app\">ops</app:owner>"), std::string::npos);
  EXPECT_EQ(def.xml.find("stale"), std::string::npos) << def.xml;
  EXPECT_NE(def.xml.find("<gdr:disk target=\"vda\" volume=\"gdr-primary\" path=\"images/gdr-lab-vm1.qcow2\" "
                         "format=\"qcow2\"/>"),
            std::string::npos)
      << def.xml;
  EXPECT_NE(def.xml.find("<gdr:disk target=\"vdb\" volume=\"gdr-primary\" "
                         "path=\"images/gdr-lab-vm1-data.raw\" format=\"raw\"/>"),
            std::string::npos);
}

TEST_F(RecoveryDefinitionTest, ADiskThatCannotTravelIsRefusedByName) {
  auto refusedFor = [](const std::function<void()>& call) -> std::string {
    try {
      call();
    } catch (const AgentError& e) {
      EXPECT_EQ(e.code(), Code::DefinitionFailed) << e.what();
      return e.data().get("drive", "").asString() + ": " + e.what();
    }
    return "not refused";
  };
  // Not on a gluster mount.
  const auto elsewhere = [](const std::string& path) -> std::optional<VolumeLocation> {
    if (path.find("-data.raw") != std::string::npos) return std::nullopt;
    VolumeLocation l;
    l.volume = "gdr-primary";
    l.path = "images/x.qcow2";
    return l;
  };
  EXPECT_NE(refusedFor([&] { recoveryDefinition(fixture("domain-inactive.xml"), live_, elsewhere); })
                .find("vdb: disk vdb of gdr-lab-vm1 (/var/lib/gdr-lab/mnt/primary/images/gdr-lab-vm1-data.raw) is "
                      "not on a gluster volume"),
            std::string::npos);
  // Only overlays in the chain: no base to name.
  DomainInfo overlaysOnly = live_;
  overlaysOnly.disks[0].chain = {"/m/images/.gdr-snapshots/a.qcow2", "/m/images/.gdr-snapshots/b.qcow2"};
  EXPECT_NE(refusedFor([&] {
              recoveryDefinition(fixture("domain-inactive.xml"), overlaysOnly, locate_);
            }).find("vda: disk vda of gdr-lab-vm1 has no base image outside .gdr-snapshots"),
            std::string::npos);
  // Defined, but not in the running VM (a disk hot-unplugged).
  DomainInfo fewer = live_;
  fewer.disks.erase(fewer.disks.begin() + 1);
  EXPECT_NE(refusedFor([&] { recoveryDefinition(fixture("domain-inactive.xml"), fewer, locate_); }).find("vdb: "),
            std::string::npos);
  EXPECT_NE(refusedFor([&] { recoveryDefinition("<domain", live_, locate_); }).find("does not parse"),
            std::string::npos);
}

TEST(Definition, EachVersionHasItsOwnFileNamedByItsContent) {
  const std::string sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const std::string path = definitionPath("a6830fcc-caf3-4238-bbf8-d1371c691477", sha);
  EXPECT_EQ(path, ".gdr/vms/a6830fcc-caf3-4238-bbf8-d1371c691477-0123456789abcdef.xml");
  EXPECT_TRUE(isDefinitionPath(path));
  for (const char* other : {".gdr/vms/a6830fcc-caf3-4238-bbf8-d1371c691477.xml", "images/vm1.qcow2",
                            ".gdr/vms/../images/a6830fcc-caf3-4238-bbf8-d1371c691477-0123456789abcdef.xml",
                            ".gdr/points/20261202T131500Z-0a1b2c3d.json",
                            ".gdr/vms/a6830fcc-caf3-4238-bbf8-d1371c691477-0123456789abcdef.xml.tmp"}) {
    EXPECT_FALSE(isDefinitionPath(other)) << other;
  }
}

TEST(VmActivity, TwoSnapshotsNeverCreateTheSameOverlay) {
  VmActivity activity;
  activity.beginSnapshot("vm-a", {"/mnt/p/images/.gdr-snapshots/x.qcow2"});
  try {
    activity.beginSnapshot("vm-b", {"/mnt/p/images/.gdr-snapshots/x.qcow2"});
    ADD_FAILURE() << "a second snapshot claimed the same overlay";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::VMBusy);
    EXPECT_NE(std::string(e.what()).find("vm-a"), std::string::npos) << e.what();
  }
  activity.beginSnapshot("vm-c", {"/mnt/p/images/.gdr-snapshots/y.qcow2"});  // another path is fine
  activity.endSnapshot("vm-a");
  EXPECT_NO_THROW(activity.beginSnapshot("vm-b", {"/mnt/p/images/.gdr-snapshots/x.qcow2"}));
}

TEST(VmActivity, OneMergePerDriveAndNoSnapshotDuringAMerge) {
  VmActivity a;
  a.beginMerge("vm1", "vda", "j1");
  EXPECT_THROW(a.beginMerge("vm1", "vda", "j2"), AgentError);
  EXPECT_NO_THROW(a.beginMerge("vm1", "vdb", "j3"));
  EXPECT_THROW(a.beginSnapshot("vm1"), AgentError);
  EXPECT_NO_THROW(a.beginSnapshot("vm2"));  // other VMs are independent
  EXPECT_THROW(a.beginMerge("vm2", "vda", "j4"), AgentError);
  a.endMerge("vm1", "vda");
  a.endMerge("vm1", "vdb");
  EXPECT_NO_THROW(a.beginSnapshot("vm1"));
}

class SnapshotTest : public ::testing::Test {
 protected:
  SnapshotTest() {
    hv_.domain->phase = "base";
    files_.exists = [this](const std::string& p) { return existing_.count(p) > 0; };
    files_.makeDirectory = [this](const std::string& d) { made_.push_back(d); };
    files_.remove = [this](const std::string& p) { removedFiles_.push_back(p); };
    files_.createOverlay = [this](const std::string& overlay, const std::string& backing, const std::string& format,
                                  std::uint64_t size) {
      created_.push_back(overlay + " <- " + backing + " (" + format + ", " + std::to_string(size) + ")");
    };
  }
  Code refusal(const SnapshotRequest& request) {
    auto domain = hv_.lookup(hv_.domain->uuid());
    try {
      api::encode(takeSnapshot(*domain, request, files_));
    } catch (const AgentError& e) {
      return e.code();
    }
    ADD_FAILURE() << "not refused";
    return Code::GeneralException;
  }
  FakeHypervisor hv_;
  LocalFiles files_;
  std::set<std::string> existing_;
  std::vector<std::string> made_, removedFiles_, created_;
};

TEST_F(SnapshotTest, AllDisksQuiescedWhenTheAgentAnswers) {
  hv_.domain->phase = "base";
  // After the snapshot the fake shows the recorded overlay; name it so.
  SnapshotRequest request;
  request.drives = std::vector<SnapshotDisk>{{"vda", kTop}};
  auto domain = hv_.lookup(hv_.domain->uuid());
  const Json::Value out = api::encode(takeSnapshot(*domain, request, files_));
  EXPECT_EQ(out["quiesced"], true);
  EXPECT_EQ(out["disks"][0]["top"], kTop);
  EXPECT_EQ(out["disks"][0]["base"], kBase);
  EXPECT_TRUE(hv_.domain->called("snapshot+quiesce"));
  EXPECT_NE(hv_.domain->snapshotXmlSeen.find(kTop), std::string::npos);
  // Created first, naming its backing file relative to itself.
  EXPECT_EQ(created_, std::vector<std::string>{kTop + " <- ../gdr-lab-vm1.qcow2 (qcow2, 2147483648)"});
}

TEST_F(SnapshotTest, AnOverlayOverAnOverlayNamesItBySiblingName) {
  hv_.domain->phase = "snapshot";
  SnapshotRequest request;
  request.drives = std::vector<SnapshotDisk>{{"vda", ""}};  // named after the base, beside it
  request.quiesce = false;
  hv_.domain->snapshotFails = true;  // the chain stays as it was: the created overlay goes
  EXPECT_EQ(refusal(request), Code::SnapshotFailed);
  ASSERT_EQ(created_.size(), 1u);
  const std::string overlay = created_[0].substr(0, created_[0].find(' '));
  EXPECT_EQ(overlay.rfind("/var/lib/gdr-lab/mnt/primary/images/.gdr-snapshots/gdr-lab-vm1.", 0), 0u) << overlay;
  EXPECT_EQ(overlay.find("fixture"), std::string::npos) << overlay;  // the name does not grow cycle by cycle
  EXPECT_EQ(created_[0], overlay + " <- gdr-lab-vm1.fixture.qcow2 (qcow2, 2147483648)");
  EXPECT_EQ(removedFiles_, std::vector<std::string>{overlay});
}

TEST_F(SnapshotTest, WithoutAGuestAgentCrashConsistentUnlessRequired) {
  hv_.domain->agentAnswers = false;
  SnapshotRequest request;
  request.drives = std::vector<SnapshotDisk>{{"vda", kTop}};
  request.requireQuiesce = true;
  EXPECT_EQ(refusal(request), Code::SnapshotFailed);
  hv_.domain->phase = "base";
  request.requireQuiesce = false;
  auto domain = hv_.lookup(hv_.domain->uuid());
  EXPECT_EQ(api::encode(takeSnapshot(*domain, request, files_))["quiesced"], false);
}

// No agent channel, or one nothing in the guest opened: libvirt would
// refuse to quiesce, so it is not asked, unless quiesce is required (then
// libvirt's refusal is the answer).
TEST_F(SnapshotTest, AGuestWithoutAnAgentChannelIsNotAskedToQuiesce) {
  for (const std::string channel : {"", "disconnected"}) {
    SCOPED_TRACE("channel '" + channel + "'");
    hv_.domain->calls.clear();
    hv_.domain->phase = "base";
    hv_.domain->agentChannel = channel;
    hv_.domain->agentAnswers = false;
    SnapshotRequest request;
    request.drives = std::vector<SnapshotDisk>{{"vda", kTop}};
    auto domain = hv_.lookup(hv_.domain->uuid());
    EXPECT_EQ(api::encode(takeSnapshot(*domain, request, files_))["quiesced"], false);
    EXPECT_EQ(hv_.domain->calls, std::vector<std::string>{"snapshot"});

    hv_.domain->calls.clear();
    hv_.domain->phase = "base";
    request.requireQuiesce = true;
    EXPECT_EQ(refusal(request), Code::SnapshotFailed);
    EXPECT_EQ(hv_.domain->calls, std::vector<std::string>{"snapshot+quiesce"});
  }
}

// The real overlay: qemu-img writes it in scratch space, the agent copies
// it to a path where nothing is; a file already there is never replaced.
TEST(LocalFilesReal, AnOverlayIsCreatedWhereNothingIsAndNeverOverAFile) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(testing::TempDir()) / ("gdr-overlay-" + JobStore::newId());
  fs::create_directories(dir / ".gdr-snapshots");
  const std::string overlay = (dir / ".gdr-snapshots" / "vm1.top.qcow2").string();
  const LocalFiles files = LocalFiles::real();
  files.createOverlay(overlay, "../vm1.qcow2", "qcow2", 1ull << 30);
  std::ifstream in(overlay, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 104u);
  EXPECT_EQ(bytes.substr(0, 4), std::string("QFI\xfb", 4));
  EXPECT_NE(bytes.find("../vm1.qcow2"), std::string::npos);
  std::uint64_t size = 0;  // big-endian at offset 24
  for (int i = 24; i < 32; ++i) size = (size << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(size, 1ull << 30);
  // Its size read back from its header; a raw image's is its length.
  EXPECT_EQ(files.virtualSize(overlay, "qcow2"), std::optional<std::uint64_t>(1ull << 30));

  std::ofstream(dir / "data.img") << "a user's file";
  EXPECT_EQ(files.virtualSize((dir / "data.img").string(), "raw"), std::optional<std::uint64_t>(13));
  EXPECT_EQ(files.virtualSize((dir / "data.img").string(), "qcow2"), std::nullopt);  // not qcow2: libvirt is asked
  EXPECT_EQ(files.virtualSize((dir / "missing.qcow2").string(), "qcow2"), std::nullopt);
  EXPECT_EQ(files.virtualSize(overlay, "vmdk"), std::nullopt);
  try {
    files.createOverlay((dir / "data.img").string(), "vm1.qcow2", "qcow2", 1ull << 30);
    ADD_FAILURE() << "created over an existing file";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::SnapshotFailed);
    EXPECT_NE(std::string(e.what()).find("File exists"), std::string::npos) << e.what();
  }
  std::ifstream kept(dir / "data.img");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(kept), {}), "a user's file");

  // No scratch space: qemu-img writes the overlay where it goes.
  const LocalFiles noScratch = LocalFiles::real((dir / "no-such-dir").string());
  const std::string second = (dir / ".gdr-snapshots" / "vm1.next.qcow2").string();
  noScratch.createOverlay(second, "vm1.top.qcow2", "qcow2", 1ull << 30);
  EXPECT_EQ(noScratch.virtualSize(second, "qcow2"), std::optional<std::uint64_t>(1ull << 30));
  EXPECT_THROW(noScratch.createOverlay((dir / "data.img").string(), "vm1.qcow2", "qcow2", 1ull << 30), AgentError);
  std::ifstream keptAgain(dir / "data.img");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(keptAgain), {}), "a user's file");
  fs::remove_all(dir);
}

// The overlay's size comes from the active layer's header when it can be
// read, from libvirt otherwise.
TEST_F(SnapshotTest, TheOverlaySizeIsTheImagesOwnUnlessItCannotBeRead) {
  hv_.domain->phase = "base";
  std::vector<std::string> asked;
  files_.virtualSize = [&](const std::string& path, const std::string& format) -> std::optional<std::uint64_t> {
    asked.push_back(path + " " + format);
    return 4ull << 30;
  };
  SnapshotRequest request;
  request.drives = std::vector<SnapshotDisk>{{"vda", kTop}};
  auto domain = hv_.lookup(hv_.domain->uuid());
  takeSnapshot(*domain, request, files_);
  EXPECT_EQ(asked, std::vector<std::string>{kBase + " qcow2"});
  EXPECT_EQ(created_, std::vector<std::string>{kTop + " <- ../gdr-lab-vm1.qcow2 (qcow2, 4294967296)"});
  EXPECT_EQ(hv_.domain->capacityCalls, 0);

  created_.clear();
  hv_.domain->phase = "base";
  files_.virtualSize = [](const std::string&, const std::string&) { return std::optional<std::uint64_t>(); };
  takeSnapshot(*domain, request, files_);
  EXPECT_EQ(created_, std::vector<std::string>{kTop + " <- ../gdr-lab-vm1.qcow2 (qcow2, 2147483648)"});
  EXPECT_EQ(hv_.domain->capacityCalls, 1);
}

// A paused VM (a failback's last cycle): libvirt cannot freeze it, and it
// writes nothing; its snapshot is taken unquiesced, unless quiesce is required.
TEST_F(SnapshotTest, APausedVmIsSnapshotWithoutQuiesce) {
  hv_.domain->phase = "base";
  hv_.domain->isPaused = true;
  SnapshotRequest request;
  request.drives = std::vector<SnapshotDisk>{{"vda", kTop}};
  auto domain = hv_.lookup(hv_.domain->uuid());
  EXPECT_EQ(api::encode(takeSnapshot(*domain, request, files_))["quiesced"], false);
  EXPECT_TRUE(hv_.domain->called("snapshot"));
  EXPECT_FALSE(hv_.domain->called("snapshot+quiesce"));
}

TEST_F(SnapshotTest, BadInputIsRefusedBeforeLibvirtIsCalled) {
  SnapshotRequest request;
  request.drives = std::vector<SnapshotDisk>{{"vdz", ""}};
  EXPECT_EQ(refusal(request), Code::InvalidParameter);
  request.drives = std::vector<SnapshotDisk>{{"vda", "/elsewhere/overlay.qcow2"}};
  EXPECT_EQ(refusal(request), Code::InvalidParameter);
  request.drives = std::vector<SnapshotDisk>{{"vda", "relative.qcow2"}};
  EXPECT_EQ(refusal(request), Code::InvalidParameter);
  existing_.insert(kTop);
  request.drives = std::vector<SnapshotDisk>{{"vda", kTop}};
  EXPECT_EQ(refusal(request), Code::InvalidParameter);
  EXPECT_TRUE(hv_.domain->calls.empty());
}

TEST_F(SnapshotTest, FailedSnapshotRemovesTheStrayOverlayAndReportsTheTrueState) {
  hv_.domain->snapshotFails = true;
  SnapshotRequest request;
  request.quiesce = false;
  request.drives = std::vector<SnapshotDisk>{{"vda", kTop}};
  auto domain = hv_.lookup(hv_.domain->uuid());
  try {
    api::encode(takeSnapshot(*domain, request, files_));
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::SnapshotFailed);
    EXPECT_EQ(e.data()["disks"][0]["path"], kBase);  // still on its original image
  }
  EXPECT_EQ(removedFiles_, std::vector<std::string>{kTop});
}

TEST(VmListing, ImagesOnAVolumeAreThoseOfThatVeryVolume) {
  api::VmDisk disk{"vda", "disk",       "file",      "/mnt/p/images/.gdr-snapshots/o.qcow2", "qcow2", {},
                   false, std::nullopt, std::nullopt};
  disk.gluster = api::GlusterLocation{"127.0.0.2",
                                      "store",
                                      "images/.gdr-snapshots/o.qcow2",
                                      {"images/.gdr-snapshots/o.qcow2", "images/b.qcow2", std::nullopt}};
  api::VmDisk local{"vdb", "disk", "file", "/var/lib/x.qcow2", "qcow2", {}, false, std::nullopt, std::nullopt};
  const api::VmList vms{{{"0f0e", "vm1", "running", {disk, local}}}};
  const auto same = [](const api::GlusterLocation&) { return true; };
  const auto open = imagesOnVolume(vms, "store", same);
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open.at("images/b.qcow2"), "vm1 (0f0e)");
  EXPECT_TRUE(open.count("images/.gdr-snapshots/o.qcow2"));
  EXPECT_TRUE(imagesOnVolume(vms, "other", same).empty());
  // A secondary named like the primary is another volume.
  EXPECT_TRUE(imagesOnVolume(vms, "store", [](const api::GlusterLocation&) { return false; }).empty());
}

// A drill's copy, from a definition as the point holds it (with a NIC
// added): its own name and UUID, vda on an overlay over the whole chain
// spelled out, the raw disk too, the empty cdrom left out, no NIC, the
// console in the drill's directory.
TEST(DrillXml, TheCopyRunsOnOverlaysOverThePointsChainWithoutNics) {
  std::string definition = fixture("domain-inactive.xml");
  definition.replace(definition.find("    <serial"), 0,
                     "    <interface type='bridge'><source bridge='ovirtmgmt'/><model type='virtio'/></interface>\n"
                     "    <filesystem type='mount'><source dir='/etc'/><target dir='hostetc'/></filesystem>\n");
  definition.replace(definition.find("</domain>"), 0,
                     "  <qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
                     "<qemu:arg value='-device'/></qemu:commandline>\n");
  DrillDomainSpec spec{"drill-gdr-lab-vm1-0f0e0d0c",
                       "5d1c0a57-1f57-4c8e-9e0e-7f7c2f4a9b10",
                       {{"vda",
                         "/state/drills/j/drill-gdr-lab-vm1-0f0e0d0c-vda.qcow2",
                         {{"/mnt/secondary/images/.gdr-snapshots/vm1.p2.qcow2", "qcow2"},
                          {"/mnt/secondary/images/.gdr-snapshots/vm1.p1.qcow2", "qcow2"},
                          {"/mnt/secondary/images/gdr-lab-vm1.qcow2", "qcow2"}}},
                        {"vdb",
                         "/state/drills/j/drill-gdr-lab-vm1-0f0e0d0c-vdb.qcow2",
                         {{"/mnt/secondary/images/gdr-lab-vm1-data.raw", "raw"}}}},
                       "/state/drills/j"};
  std::vector<std::string> leftOut;
  const std::string xml = drillDomainXml(definition, spec, &leftOut);

  const DomainInfo copy = parseDomainXml(xml);
  EXPECT_EQ(copy.name, spec.name);
  EXPECT_EQ(copy.uuid, spec.uuid);
  ASSERT_EQ(copy.disks.size(), 2u);
  const DiskInfo* vda = copy.disk("vda");
  ASSERT_NE(vda, nullptr);
  EXPECT_EQ(vda->format, "qcow2");
  EXPECT_EQ(vda->chain, (std::vector<std::string>{spec.disks[0].overlay, spec.disks[0].chain[0].path,
                                                  spec.disks[0].chain[1].path, spec.disks[0].chain[2].path}));
  EXPECT_EQ(vda->chainFormats, (std::vector<std::string>{"qcow2", "qcow2", "qcow2", "qcow2"}));
  const DiskInfo* vdb = copy.disk("vdb");
  ASSERT_NE(vdb, nullptr);
  EXPECT_EQ(vdb->format, "qcow2");  // the overlay; the raw image under it
  EXPECT_EQ(vdb->chainFormats, (std::vector<std::string>{"qcow2", "raw"}));
  EXPECT_EQ(leftOut, std::vector<std::string>{"hdc"});
  for (const char* gone : {"<interface", "<filesystem", "qemu:commandline", "<emulator"}) {
    EXPECT_EQ(xml.find(gone), std::string::npos) << gone << " is left:\n" << xml;
  }
  EXPECT_EQ(xml.find("/var/lib/gdr-lab/mnt/primary"), std::string::npos) << "a primary path is left:\n" << xml;
  EXPECT_EQ(xml.find("/var/lib/gdr-lab/vms/"), std::string::npos) << xml;
  EXPECT_NE(xml.find("/state/drills/j/drill-gdr-lab-vm1-0f0e0d0c.console"), std::string::npos) << xml;
  // The chain ends: libvirt must not read the images' own backing names.
  EXPECT_NE(xml.find("<backingStore/>"), std::string::npos) << xml;
}

TEST(DrillXml, ADiskOfThePointMissingFromTheDefinitionOrNoDomainIsRefused) {
  DrillDomainSpec spec{"drill-x", "5d1c0a57-1f57-4c8e-9e0e-7f7c2f4a9b10", {{"vdz", "/o.qcow2", {{"/b", "qcow2"}}}}, "/d"};
  try {
    drillDomainXml(fixture("domain-inactive.xml"), spec);
    FAIL() << "a disk the definition lacks was accepted";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::DrillFailed);
    EXPECT_NE(std::string(e.what()).find("vdz"), std::string::npos) << e.what();
  }
  EXPECT_THROW(drillDomainXml("<network/>", spec), AgentError);
  EXPECT_THROW(drillDomainXml("not xml", spec), AgentError);
}

// A failover's VM: itself (name, UUID), vda on its overlay on the volume
// over the chain, networks and bridges and host paths as the mapping says,
// a disk outside the point kept where a path maps, left out where none does.
TEST(FailoverXml, TheVmKeepsItsIdentityAndTheMappingTranslatesTheSite) {
  std::string definition = fixture("domain-inactive.xml");
  definition.replace(definition.find("    <serial"), 0,
                     "    <interface type='network'><source network='prod'/><model type='virtio'/></interface>\n"
                     "    <interface type='bridge'><source bridge='br-prod'/></interface>\n"
                     "    <interface type='network'><source network='shared'/></interface>\n"
                     "    <disk type='file' device='cdrom'><source file='/iso/tools.iso'/><target dev='hdd' bus='ide'/></disk>\n"
                     "    <disk type='file' device='disk'><source file='/elsewhere/scratch.raw'/><target dev='vdc' bus='virtio'/></disk>\n");
  FailoverDomainSpec spec{{{"vda",
                            "/mnt/secondary/images/gdr-lab-vm1.failover-P.qcow2",
                            {{"/mnt/secondary/images/.gdr-snapshots/vm1.p1.qcow2", "qcow2"},
                             {"/mnt/secondary/images/gdr-lab-vm1.qcow2", "qcow2"}}},
                           {"vdb",
                            "/mnt/secondary/images/gdr-lab-vm1-data.failover-P.qcow2",
                            {{"/mnt/secondary/images/gdr-lab-vm1-data.raw", "raw"}}}},
                          {{"prod", "dr-prod"}},
                          {{"br-prod", "br-dr"}},
                          {{"/var/lib/gdr-lab/", "/srv/dr/"}, {"/var/lib/gdr-lab/vms/", "/srv/dr-consoles/"},
                           {"/iso/", "/dr-iso/"}}};
  std::vector<std::string> leftOut;
  const std::string xml = failoverDomainXml(definition, spec, &leftOut);
  const DomainInfo vm = parseDomainXml(xml);
  EXPECT_EQ(vm.name, "gdr-lab-vm1");
  EXPECT_EQ(vm.uuid, "32b1c668-ee26-40fc-b5f4-5539b9185203");
  const DiskInfo* vda = vm.disk("vda");
  ASSERT_NE(vda, nullptr);
  EXPECT_EQ(vda->chain, (std::vector<std::string>{spec.disks[0].overlay, spec.disks[0].chain[0].path,
                                                  spec.disks[0].chain[1].path}));
  ASSERT_NE(vm.disk("vdb"), nullptr);
  EXPECT_EQ(vm.disk("vdb")->chainFormats, (std::vector<std::string>{"qcow2", "raw"}));
  EXPECT_EQ(vm.disk("vdc"), nullptr);
  EXPECT_EQ(leftOut, std::vector<std::string>{"vdc"});  // no mapped path; the empty cdrom stays
  EXPECT_NE(xml.find("<target dev=\"hdc\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("/dr-iso/tools.iso"), std::string::npos) << xml;
  EXPECT_NE(xml.find("network=\"dr-prod\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("bridge=\"br-dr\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("network=\"shared\""), std::string::npos) << "an unmapped network is kept:\n" << xml;
  EXPECT_NE(xml.find("<kernel>/srv/dr/guest/vmlinux</kernel>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("/srv/dr-consoles/gdr-lab-vm1.console"), std::string::npos) << "the longest prefix wins:\n" << xml;
  EXPECT_EQ(xml.find("<emulator"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("/var/lib/gdr-lab/"), std::string::npos) << "a primary path is left:\n" << xml;
  EXPECT_NE(xml.find("<backingStore/>"), std::string::npos) << xml;
}

TEST(FailoverXml, PathsMapByTheLongestPrefixAndNotBeyondIt) {
  const std::map<std::string, std::string> paths{{"/a/", "/x/"}, {"/a/b/", "/y/"}};
  EXPECT_EQ(mapPath(paths, "/a/b/c"), std::optional<std::string>("/y/c"));
  EXPECT_EQ(mapPath(paths, "/a/c"), std::optional<std::string>("/x/c"));
  EXPECT_EQ(mapPath(paths, "/ab/c"), std::nullopt);
  FailoverDomainSpec spec{{{"vdz", "/o.qcow2", {{"/b", "qcow2"}}}}, {}, {}, {}};
  try {
    failoverDomainXml(fixture("domain-inactive.xml"), spec);
    FAIL() << "a disk the definition lacks was accepted";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::FailoverFailed);
  }
  EXPECT_THROW(failoverDomainXml("not xml", spec), AgentError);
}

}  // namespace
}  // namespace gdr::virt
