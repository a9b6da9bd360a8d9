// The gluster CLI layer on recorded output: XML parsing (current and
// legacy tags), error mapping, and the geo-replication sync job's state
// machine driven by a fake command runner.
#include <gtest/gtest.h>

#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/errors.h"
#include "core/job_store.h"
#include "gluster/cli.h"
#include "gluster/events.h"
#include "gluster/georep_sync.h"
#include "gluster/georep_xml.h"

namespace gdr::gluster {
namespace {

using namespace std::chrono_literals;

// A time as gluster prints it ("2026-12-07 17:11:41", UTC).
std::string glusterTime(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

// A gsyncd log record's time ("[2026-12-07 17:11:41.000000]").
std::string gsyncdStamp(std::time_t t) { return "[" + glusterTime(t) + ".000000]"; }

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(GDR_SOURCE_DIR) + "/tests/fixtures/gluster/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr std::int64_t kCheckpoint = 1795401186;  // 2026-11-23 02:33:06 UTC, as recorded

TEST(GeoRepXml, ParsesACompletedCheckpoint) {
  const auto sessions = parseGeoRepStatus(fixture("georep-status-checkpoint-completed.xml"));
  ASSERT_EQ(sessions.size(), 1u);
  const auto& s = sessions[0];
  EXPECT_EQ(s.primaryVolume, "gdr-primary");
  EXPECT_EQ(s.secondaryHost, "127.0.0.2");
  EXPECT_EQ(s.secondaryVolume, "gdr-secondary");
  ASSERT_EQ(s.workers.size(), 1u);
  const auto& w = s.workers[0];
  EXPECT_EQ(w.primaryNode, "127.0.0.2");
  EXPECT_EQ(w.status, "Active");
  EXPECT_EQ(w.crawlStatus, "History Crawl");
  EXPECT_EQ(w.checkpointCompleted, "Yes");
  EXPECT_EQ(w.checkpointTime, kCheckpoint);
  EXPECT_EQ(w.checkpointCompletionTime, kCheckpoint + 16);
  EXPECT_EQ(w.failures, 0);
  EXPECT_TRUE(assessSync(s.workers, kCheckpoint).complete);
  EXPECT_FALSE(assessSync(s.workers, kCheckpoint + 60).complete);  // an older checkpoint does not count
}

TEST(GeoRepXml, LegacyTagsGiveTheSameResult) {
  const auto current = parseGeoRepStatus(fixture("georep-status-checkpoint-completed.xml"));
  const auto legacy = parseGeoRepStatus(fixture("georep-status-legacy-tags.xml"));
  ASSERT_EQ(legacy.size(), 1u);
  ASSERT_EQ(legacy[0].workers.size(), 1u);
  EXPECT_EQ(legacy[0].workers[0].primaryBrick, current[0].workers[0].primaryBrick);
  EXPECT_EQ(legacy[0].workers[0].secondaryUser, "root");
  EXPECT_EQ(legacy[0].sessionKey, current[0].sessionKey);
  EXPECT_EQ(legacy[0].secondaryVolume, "gdr-secondary");
}

TEST(GeoRepXml, StoppedInitializingAndPending) {
  auto w = parseGeoRepStatus(fixture("georep-status-stopped.xml"))[0].workers[0];
  EXPECT_EQ(w.status, "Stopped");
  EXPECT_FALSE(w.lastSynced);
  EXPECT_FALSE(w.entry);
  w = parseGeoRepStatus(fixture("georep-status-initializing.xml"))[0].workers[0];
  EXPECT_EQ(normalizeStatus(w.status), "Initializing");
  const auto pending = parseGeoRepStatus(fixture("georep-status-checkpoint-pending.xml"))[0].workers;
  EXPECT_EQ(pending[0].checkpointCompleted, "No");
  const auto a = assessSync(pending, kCheckpoint);
  EXPECT_FALSE(a.complete);
  EXPECT_EQ(a.active, 1u);
  EXPECT_EQ(a.completed, 0u);
}

TEST(GeoRepXml, ReplicaAndFaultyWorkers) {
  const auto replica = parseGeoRepStatus(fixture("georep-status-replica.xml"))[0].workers;
  ASSERT_EQ(replica.size(), 2u);
  auto a = assessSync(replica, kCheckpoint);
  EXPECT_TRUE(a.complete);  // the Passive worker replicates nothing
  EXPECT_EQ(a.active, 1u);
  // Every worker by host and brick, in a stable order (gluster's varies).
  ASSERT_EQ(a.states.size(), 2u);
  EXPECT_EQ(a.states[0].host + " " + a.states[0].status + " " + (a.states[0].checkpointCompleted ? "done" : "-"),
            "127.0.0.2 Active done");
  EXPECT_EQ(a.states[1].host + " " + a.states[1].status + " " + (a.states[1].checkpointCompleted ? "done" : "-"),
            "127.0.0.3 Passive -");
  std::vector<GeoRepWorker> reversed(replica.rbegin(), replica.rend());
  const auto again = assessSync(reversed, kCheckpoint).states;
  EXPECT_EQ(again[0].host, "127.0.0.2");
  EXPECT_EQ(again[0].brick, a.states[0].brick);
  const auto faulty = parseGeoRepStatus(fixture("georep-status-faulty.xml"))[0].workers;
  a = assessSync(faulty, kCheckpoint);
  EXPECT_FALSE(a.complete);
  ASSERT_TRUE(a.badWorker);
  EXPECT_NE(a.badWorker->find("127.0.0.3"), std::string::npos);
  EXPECT_NE(a.badWorker->find("Faulty"), std::string::npos);
}

// VDSM's filters: each one given must match; none given lists all.
TEST(GeoRepXml, SessionsAreFilteredByEveryFilterGiven) {
  std::vector<GeoRepSession> sessions(3);
  sessions[0].primaryVolume = "vmstore";
  sessions[0].secondaryHost = "dr1";
  sessions[0].secondaryVolume = "vmstore-dr";
  sessions[0].secondaryUser = "root";
  sessions[1] = sessions[0];
  sessions[1].secondaryHost = "dr2";
  sessions[1].secondaryUser = "geoaccount";
  sessions[2] = sessions[0];
  sessions[2].primaryVolume = "iso";
  sessions[2].secondaryVolume = "iso-dr";
  const auto names = [](const std::vector<GeoRepSession>& list) {
    std::vector<std::string> out;
    for (const auto& s : list) out.push_back(s.primaryVolume + ">" + s.secondaryHost);
    return out;
  };
  using V = std::vector<std::string>;
  const std::optional<std::string> any;
  EXPECT_EQ(names(filterSessions(sessions, {})), (V{"vmstore>dr1", "vmstore>dr2", "iso>dr1"}));
  EXPECT_EQ(names(filterSessions(sessions, {"vmstore", any, any, any})), (V{"vmstore>dr1", "vmstore>dr2"}));
  EXPECT_EQ(names(filterSessions(sessions, {any, "dr1", any, any})), (V{"vmstore>dr1", "iso>dr1"}));
  EXPECT_EQ(names(filterSessions(sessions, {any, any, "iso-dr", any})), (V{"iso>dr1"}));
  EXPECT_EQ(names(filterSessions(sessions, {"vmstore", any, any, "geoaccount"})), (V{"vmstore>dr2"}));
  EXPECT_TRUE(filterSessions(sessions, {"iso", "dr2", any, any}).empty());
}

TEST(GeoRepXml, ConfigEnvelopeAndErrors) {
  const auto config = parseGeoRepConfig(fixture("config-list.xml"));
  EXPECT_EQ(config.at("sync_method"), "rsync");
  EXPECT_EQ(config.at("checkpoint"), std::to_string(kCheckpoint));
  const CliStatus status = parseCliStatus(fixture("error-already-started.xml"));
  EXPECT_EQ(status.opRet, -1);
  EXPECT_NE(status.opErrstr.find("already started"), std::string::npos);
  EXPECT_TRUE(parseGeoRepStatus(fixture("session-list.xml")).size() == 1);
  try {
    parseCliStatus(fixture("error-no-volume.xml"));
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::GlusterCliBadOutput);
  }
  EXPECT_EQ(parseGlusterTime("N/A"), std::nullopt);
  EXPECT_EQ(parseGlusterTime("2026-11-23 02:33:06"), kCheckpoint);
  EXPECT_EQ(parseGlusterTime("yesterday"), std::nullopt);
}

TEST(GeoRepXml, VolumeOptionsAndTheirWarnings) {
  const auto before = parseVolumeOptions(fixture("volume-info.xml"));
  EXPECT_EQ(before.at("features.shard"), "on");
  EXPECT_EQ(before.count("performance.strict-write-ordering"), 0u);
  const auto warnings = geoRepOptionWarnings(before);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("performance.strict-write-ordering is off on this sharded volume", 0), 0u);
  const auto ordered = parseVolumeOptions(fixture("volume-info-write-ordering.xml"));
  EXPECT_EQ(ordered.at("performance.strict-write-ordering"), "on");
  EXPECT_TRUE(geoRepOptionWarnings(ordered).empty());
  // Gluster's other spellings of "on"; an unsharded volume has no shards to lose.
  EXPECT_TRUE(geoRepOptionWarnings({{"features.shard", "enable"}, {"performance.strict-write-ordering", "yes"}}).empty());
  EXPECT_EQ(geoRepOptionWarnings({{"features.shard", "true"}, {"performance.strict-write-ordering", "off"}}).size(), 1u);
  EXPECT_TRUE(geoRepOptionWarnings({{"performance.strict-write-ordering", "off"}}).empty());
}

TEST(GlusterEvents, ParsesACheckpointCompletion) {
  const auto e = parseGlusterEvent(fixture("event-checkpoint-completed.json"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->name, kCheckpointCompletedEvent);
  EXPECT_EQ(e->primaryVolume, "gdr-primary");
  EXPECT_EQ(e->secondaryHost, "127.0.0.2");
  EXPECT_EQ(e->secondaryVolume, "gdr-secondary");
  EXPECT_EQ(e->brick, "/var/lib/gdr-lab/bricks/gdr-primary");
  EXPECT_EQ(e->checkpointTime, kCheckpoint);
  EXPECT_EQ(e->checkpointCompletionTime, kCheckpoint + 4);
  EXPECT_EQ(e->ts, kCheckpoint + 4);
}

TEST(GlusterEvents, ParsesARecordedStream) {
  std::istringstream lines(fixture("events-recorded.jsonl"));
  std::string line;
  std::vector<GlusterEvent> events;
  while (std::getline(lines, line)) {
    const auto e = parseGlusterEvent(line);
    ASSERT_TRUE(e) << line;
    EXPECT_EQ(e->primaryVolume, "gdr-primary") << line;
    EXPECT_EQ(e->secondaryHost, "127.0.0.2") << line;
    EXPECT_EQ(e->secondaryVolume, "gdr-secondary") << line;
    events.push_back(*e);
  }
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[1].name, "GEOREP_CONFIG_SET");
  EXPECT_EQ(events[4].name, kCheckpointCompletedEvent);
  EXPECT_EQ(events[4].checkpointTime, 1795416642);
  EXPECT_EQ(events[4].checkpointCompletionTime, 1795416654);
  EXPECT_FALSE(events[2].checkpointTime);  // GEOREP_START
}

TEST(GlusterEvents, LegacyKeysAndNumbersGiveTheSameResult) {
  const auto e = parseGlusterEvent(fixture("event-checkpoint-completed-legacy.json"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->primaryVolume, "gdr-primary");
  EXPECT_EQ(e->secondaryHost, "127.0.0.2");  // the user is not part of the host
  EXPECT_EQ(e->secondaryVolume, "gdr-secondary");
  EXPECT_EQ(e->checkpointTime, kCheckpoint);
}

TEST(GlusterEvents, RejectsWhatIsNotAnEvent) {
  EXPECT_FALSE(parseGlusterEvent(""));
  EXPECT_FALSE(parseGlusterEvent("not json"));
  EXPECT_FALSE(parseGlusterEvent("[1, 2]"));
  EXPECT_FALSE(parseGlusterEvent(R"({"message": {}})"));
  const auto bare = parseGlusterEvent(R"({"event": "VOLUME_START", "message": {"name": "v", "checkpoint_time": "x1"}})");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->name, "VOLUME_START");
  EXPECT_FALSE(bare->checkpointTime);
}

// Found by fuzz_events (tests/fuzz/regressions/fuzz_events).
TEST(GlusterXml, BrickHostsOfEveryVolume) {
  EXPECT_EQ(parseBrickHosts(fixture("volume-info.xml")), std::vector<std::string>{"127.0.0.2"});
  const std::string two = R"(<cliOutput><opRet>0</opRet><volInfo><volumes>
    <volume><bricks><brick>h1:/b/1<name>h1:/b/1</name></brick><brick>h2:/b/1<name>h2:/b/1</name></brick></bricks></volume>
    <volume><bricks><brick>h2:/b/2<name>h2:/b/2</name></brick><brick><name>nohost</name></brick></bricks></volume>
    </volumes></volInfo></cliOutput>)";
  EXPECT_EQ(parseBrickHosts(two), (std::vector<std::string>{"h1", "h2"}));
}

TEST(GlusterEvents, RefusesDeepNestingTrailingTextAndEmptyNames) {
  const std::string deep = R"({"event": "X", "message": )" + std::string(5000, '[') + std::string(5000, ']') + "}";
  EXPECT_FALSE(parseGlusterEvent(deep));  // jsoncpp threw past the listener
  EXPECT_FALSE(parseGlusterEvent(R"({"event": "X"}, "more")"));
  EXPECT_FALSE(parseGlusterEvent(R"({"event": ""})"));
  // Numbers past int64 (jsoncpp threw on reading them as such).
  const auto huge = parseGlusterEvent(
      R"({"event": "X", "ts": 9445415405439937412, "message": {"brick_path": 18446744073709551615, "checkpoint_time": 9445415405439937412}})");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->ts, 0);
  EXPECT_EQ(huge->brick, "");
  EXPECT_FALSE(huge->checkpointTime);
}

TEST(GlusterEvents, ASyncJobAwaitsOnlyItsSessionsCheckpoint) {
  GeoRepSyncSpec spec;
  spec.volume = "gdr-primary";
  spec.remote = Remote{"127.0.0.2", "gdr-secondary"};
  JobRecord r = newGeoRepSyncRecord(spec);
  auto event = *parseGlusterEvent(fixture("event-checkpoint-completed.json"));
  EXPECT_TRUE(syncAwaitsEvent(r, event));  // checkpoint not yet recorded
  r.details["checkpointTime"] = Json::Int64(kCheckpoint);
  EXPECT_TRUE(syncAwaitsEvent(r, event));
  r.details["checkpointTime"] = Json::Int64(kCheckpoint + 60);
  EXPECT_FALSE(syncAwaitsEvent(r, event));  // an older checkpoint's completion
  r.details["checkpointTime"] = Json::Int64(kCheckpoint);
  event.name = "GEOREP_CONFIG_SET";
  EXPECT_FALSE(syncAwaitsEvent(r, event));
  event.name = kCheckpointCompletedEvent;
  event.primaryVolume = "other";
  EXPECT_FALSE(syncAwaitsEvent(r, event));
  event.primaryVolume = "gdr-primary";
  r.state = kJobDone;
  EXPECT_FALSE(syncAwaitsEvent(r, event));
}

// Answers gluster commands from recorded output; status readings come
// from a queue so a test scripts a sync's progress.
class FakeRunner : public CommandRunner {
 public:
  std::map<std::string, CommandResult> answers;
  std::deque<std::string> statusReadings;  // fixture texts, the last one repeats
  // Each start of the session replaces statusReadings with the next of these.
  std::deque<std::deque<std::string>> readingsAfterStart;
  std::vector<std::string> calls;
  std::mutex mutex;

  void answer(const std::string& command, const std::string& out, int exitCode = 0) {
    CommandResult r;
    r.exitCode = exitCode;
    r.out = out;
    answers[command] = r;
  }

  CommandResult run(const std::vector<std::string>& args, std::chrono::milliseconds) override {
    std::string command;
    for (const auto& a : args) command += (command.empty() ? "" : " ") + a;
    std::lock_guard<std::mutex> lock(mutex);
    calls.push_back(command);
    if (command.size() > 14 && command.substr(command.size() - 14) == " status detail" && !statusReadings.empty()) {
      CommandResult r;
      r.exitCode = 0;
      r.out = statusReadings.front();
      if (statusReadings.size() > 1) statusReadings.pop_front();
      return r;
    }
    if (command.size() > 6 && command.substr(command.size() - 6) == " start" && !readingsAfterStart.empty()) {
      statusReadings = readingsAfterStart.front();
      readingsAfterStart.pop_front();
    }
    auto it = answers.find(command);
    if (it != answers.end()) return it->second;
    CommandResult r;
    r.exitCode = 2;
    r.out = "geo-replication command failed\n";
    return r;
  }

  bool called(const std::string& command) { return count(command) > 0; }
  size_t count(const std::string& command) {
    std::lock_guard<std::mutex> lock(mutex);
    return size_t(std::count(calls.begin(), calls.end(), command));
  }
};

const std::string kSession = "volume geo-replication gdr-primary 127.0.0.2::gdr-secondary";

// gluster's mountbroker.py answers one JSON line per node and exits 0 even
// when a node refused: each line decides.
TEST(MountBroker, PeerRepliesAreReadLineByLine) {
  const auto ok = parsePeerReplies(fixture("mountbroker-setup.txt"));
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].nodeId, "2d4098ac-26f2-4a4b-8d41-3c014b48b05c");
  EXPECT_TRUE(ok[0].ok);
  EXPECT_EQ(refusals(ok), "");
  const auto pool = parsePeerReplies(fixture("mountbroker-setup-pool.txt"));
  ASSERT_EQ(pool.size(), 3u);
  EXPECT_EQ(refusals(pool), "node 7f1e2a40-11c4-4b55-9d0e-0a3c5e8f9b21: Unable to Create /var/mountbroker-root");
  EXPECT_EQ(refusals(parsePeerReplies(fixture("mountbroker-add-no-group.txt"))),
            "node 2d4098ac-26f2-4a4b-8d41-3c014b48b05c: Group is not available");
  for (const char* garbage : {"", "\n\n", "Unable to end. Error : Success", "{\"ok\": true}", "[1]",
                              "{\"ok\": \"yes\", \"nodeid\": \"x\"}"}) {
    try {
      parsePeerReplies(garbage);
      ADD_FAILURE() << garbage;
    } catch (const AgentError& e) {
      EXPECT_EQ(e.code(), Code::GlusterCliBadOutput) << garbage;
    }
  }
}

TEST(MountBroker, EachRefusalHasItsCode) {
  FakeRunner runner;
  const std::string script = "system:: execute mountbroker.py ";
  runner.answer(script + "node-setup /var/mountbroker-root geogroup", fixture("mountbroker-setup.txt"));
  runner.answer(script + "node-setup /var/mountbroker-root nosuchgroup", fixture("mountbroker-setup-no-group.txt"));
  runner.answer(script + "node-setup /var/mountbroker-root pool", fixture("mountbroker-setup-pool.txt"));
  runner.answer(script + "node-add vmstore-dr geoaccount", fixture("mountbroker-add.txt"));
  runner.answer(script + "node-add vmstore-dr nobody", fixture("mountbroker-add-no-group.txt"));
  runner.answer(script + "node-add vmstore-dr crashed", "Unable to end. Error : Success", 1);
  GlusterCli cli(runner, 5s);
  EXPECT_EQ(cli.mountBrokerSetup("/var/mountbroker-root", "geogroup").size(), 1u);
  EXPECT_EQ(cli.mountBrokerAddUser("vmstore-dr", "geoaccount").size(), 1u);
  const auto failure = [](auto&& fn) -> std::pair<Code, std::string> {
    try {
      fn();
    } catch (const AgentError& e) {
      return {e.code(), e.what()};
    }
    return {Code::GeneralException, ""};
  };
  auto [code, message] = failure([&] { cli.mountBrokerSetup("/var/mountbroker-root", "nosuchgroup"); });
  EXPECT_EQ(code, Code::GeoRepMountBrokerOptFailed);
  EXPECT_NE(message.find("User Group not exists"), std::string::npos) << message;
  std::tie(code, message) = failure([&] { cli.mountBrokerSetup("/var/mountbroker-root", "pool"); });
  EXPECT_EQ(code, Code::GeoRepMountBrokerRootCreateFailed);
  EXPECT_NE(message.find("node 7f1e2a40"), std::string::npos) << message;
  std::tie(code, message) = failure([&] { cli.mountBrokerAddUser("vmstore-dr", "nobody"); });
  EXPECT_EQ(code, Code::GeoRepMountBrokerUserAddFailed);
  EXPECT_NE(message.find("Group is not available"), std::string::npos) << message;
  std::tie(code, message) = failure([&] { cli.mountBrokerAddUser("vmstore-dr", "crashed"); });
  EXPECT_EQ(code, Code::GeoRepMountBrokerUserAddFailed);
  EXPECT_NE(message.find("Unable to end"), std::string::npos) << message;
}

// The code of the AgentError `fn` throws (GeneralException when none).
template <class Fn>
Code code(Fn&& fn) {
  try {
    fn();
  } catch (const AgentError& e) {
    return e.code();
  }
  return Code::GeneralException;
}

TEST(GlusterCli, MapsFailuresToTheirCodes) {
  FakeRunner runner;
  runner.answer("volume info nosuch", fixture("volume-info-missing.xml"), 1);
  runner.answer("volume info gdr-primary", fixture("volume-info.xml"));
  runner.answer("volume geo-replication gdr-primary status", fixture("session-list-volume.xml"));
  runner.answer(kSession + " start", fixture("error-already-started.xml"), 1);
  GlusterCli cli(runner, 5s);
  EXPECT_EQ(code([&] { cli.geoRepStatus("nosuch", Remote{"127.0.0.2", "gdr-secondary"}); }),
            Code::GlusterVolumeNotFound);
  EXPECT_EQ(code([&] { cli.geoRepStatus("gdr-primary", Remote{"127.0.0.2", "other"}); }),
            Code::GeoRepSessionNotFound);
  try {
    cli.geoRepAction("gdr-primary", Remote{"127.0.0.2", "gdr-secondary"}, GeoRepAction::Start, false);
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::GeoRepStartFailed);
    EXPECT_NE(e.data()["opErrstr"].asString().find("already started"), std::string::npos);
  }
}

TEST(GlusterCli, RecordedSecondariesAreReadFromGlusterdsStore) {
  const auto none = recordedSecondaries(fixture("glusterd-pool/vols/gdr-primary/info"));
  EXPECT_TRUE(none.empty());
  const auto one = recordedSecondaries(fixture("glusterd-pool/vols/gdr-other/info"));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].host, "127.30.0.21");
  EXPECT_EQ(one[0].volume, "gdr-secondary");
  EXPECT_EQ(one[0].user, "root");
  // Before gluster 10 the key was slaveN; a user names an unprivileged session.
  const auto legacy = recordedSecondaries(
      "type=2\nslave1=u1:ssh://geoaccount@10.0.0.5::dr-vol:u2\nslave2=broken\nsecondary-x=u1:ssh://h::v:u2\n");
  ASSERT_EQ(legacy.size(), 1u);
  EXPECT_EQ(legacy[0].user, "geoaccount");
  EXPECT_EQ(legacy[0].host, "10.0.0.5");
  EXPECT_EQ(legacy[0].volume, "dr-vol");
}

// In a pool of several nodes the CLI fails without a reason when no session
// exists: glusterd's store says whether that means "none".
TEST(GlusterCli, NoSessionInAPoolIsAnEmptyListNotAFailure) {
  FakeRunner runner;  // answers every status with "geo-replication command failed", exit 2
  runner.answer("volume info gdr-primary", fixture("volume-info.xml"));
  runner.answer("volume info gdr-other", fixture("volume-info.xml"));
  const std::string store = std::string(GDR_SOURCE_DIR) + "/tests/fixtures/gluster/glusterd-pool";
  GlusterCli cli(runner, 5s, store);
  EXPECT_TRUE(cli.geoRepStatus("gdr-primary", std::nullopt).empty());
  EXPECT_EQ(code([&] { cli.geoRepStatus("gdr-primary", Remote{"127.30.0.21", "gdr-secondary"}); }),
            Code::GeoRepSessionNotFound);
  // A session is recorded: the CLI's failure is a real one.
  EXPECT_EQ(code([&] { cli.geoRepStatus("gdr-other", std::nullopt); }), Code::GeoRepStatusFailed);
  EXPECT_EQ(code([&] { cli.geoRepStatus("", std::nullopt); }), Code::GeoRepStatusFailed);
  // Without the store (or a volume's record unreadable) nothing is assumed.
  GlusterCli blind(runner, 5s);
  EXPECT_EQ(code([&] { blind.geoRepStatus("gdr-primary", std::nullopt); }), Code::GeoRepStatusFailed);
  EXPECT_EQ(code([&] { cli.geoRepStatus("gdr-unknown", std::nullopt); }), Code::GeoRepStatusFailed);
}

TEST(GlusterCli, AConfigValueStartingWithADashIsNotTakenForAnOption) {
  FakeRunner runner;
  runner.answer(kSession + " config rsync-options  --ignore-times", fixture("config-set-checkpoint.xml"));
  GlusterCli cli(runner, 5s);
  cli.geoRepConfigSet("gdr-primary", Remote{"127.0.0.2", "gdr-secondary"}, "rsync-options", "--ignore-times");
  EXPECT_TRUE(runner.called(kSession + " config rsync-options  --ignore-times"));
}

// push-pem: gluster checks the secondary and pushes the keys itself;
// no-verify (VDSM's): neither.
TEST(GlusterCli, ASessionIsCreatedWithPushPemOrWithoutVerifying) {
  FakeRunner runner;
  runner.answer(kSession + " create push-pem force", fixture("start.xml"));
  runner.answer(kSession + " create no-verify", fixture("start.xml"));
  GlusterCli cli(runner, 5s);
  const Remote remote{"127.0.0.2", "gdr-secondary"};
  cli.geoRepAction("gdr-primary", remote, GeoRepAction::Create, true);
  cli.geoRepCreate("gdr-primary", remote, true, false);
  EXPECT_EQ(runner.calls, (std::vector<std::string>{kSession + " create push-pem force", kSession + " create no-verify"}));
  try {
    cli.geoRepCreate("gdr-primary", remote, false, false);
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::GeoRepCreateFailed);
  }
}

TEST(GlusterCli, TimeoutHasItsOwnCode) {
  class Hung : public CommandRunner {
    CommandResult run(const std::vector<std::string>&, std::chrono::milliseconds) override {
      CommandResult r;
      r.timedOut = true;
      return r;
    }
  } hung;
  GlusterCli cli(hung, 1s);
  try {
    cli.geoRepStatus("gdr-primary", std::nullopt);
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::GlusterCliTimeout);
  }
}

class GeoRepSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(testing::TempDir()) / ("gdr-georep-" + JobStore::newId());
    runner_.answer(kSession + " config checkpoint now", fixture("config-set-checkpoint.xml"));
    runner_.answer(kSession + " config", fixture("config-list.xml"));
    runner_.answer(kSession + " start", fixture("start.xml"));
    runner_.answer(kSession + " stop", fixture("stop.xml"));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  JobRecord runSync(std::chrono::seconds timeout = 30s, std::chrono::seconds stall = 30s,
                    std::chrono::seconds idleStall = 30s) {
    JobStore store(dir_, 3600s);
    GlusterCli cli(runner_, 5s);
    GeoRepSyncSpec spec;
    spec.volume = "gdr-primary";
    spec.remote = Remote{"127.0.0.2", "gdr-secondary"};
    spec.timeout = timeout;
    spec.stallTimeout = stall;
    spec.idleStallTimeout = idleStall;
    spec.pollInterval = 10ms;
    spec.settle = 10ms;
    spec.startAfterRollover = startAfterRollover_;
    const std::string id =
        store
            .start(newGeoRepSyncRecord(spec),
                   std::make_unique<GeoRepSyncJob>(
                       cli, [this](const std::vector<std::string>&, const std::string&) { ++touches_; },
                       [this](const std::string& path, size_t) {
                         logsRead_.push_back(path);
                         return gsyncdLog_;
                       },
                       lastRolled_))
            .id;
    for (int i = 0; i < 1000; ++i) {
      const JobRecord r = store.get(id);
      if (r.terminal()) return r;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "the sync never ended";
    return store.get(id);
  }

  FakeRunner runner_;
  std::atomic<int> touches_{0};
  std::string gsyncdLog_;  // what the job finds in gsyncd's log
  std::vector<std::string> logsRead_;
  std::filesystem::path dir_;
  bool startAfterRollover_ = true;
  RolloverReader lastRolled_;  // none: no brick's index is readable
};

// The checkpoint gluster's config shows: `time`.
std::string configWithCheckpoint(std::int64_t time) {
  return std::regex_replace(fixture("config-list.xml"), std::regex("<checkpoint>[0-9]+</checkpoint>"),
                            "<checkpoint>" + std::to_string(time) + "</checkpoint>");
}

// A status fixture whose workers show the checkpoint `time` (UTC, as gluster prints it).
std::string statusWithCheckpoint(const std::string& name, std::int64_t time) {
  return std::regex_replace(fixture(name), std::regex("<checkpoint_time>[^<]*</checkpoint_time>"),
                            "<checkpoint_time>" + glusterTime(time) + "</checkpoint_time>");
}

TEST_F(GeoRepSyncTest, CompletesStartsAndStopsTheSession) {
  runner_.statusReadings = {fixture("georep-status-stopped.xml"), fixture("georep-status-initializing.xml"),
                            fixture("georep-status-checkpoint-pending.xml"),
                            fixture("georep-status-checkpoint-completed.xml")};
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(r.details["checkpointTime"].asInt64(), kCheckpoint);
  EXPECT_EQ(r.details["workersCompleted"].asInt(), 1);
  EXPECT_EQ(r.details["workersTotal"].asInt(), 1);
  EXPECT_TRUE(runner_.called(kSession + " start"));
  EXPECT_TRUE(runner_.called(kSession + " stop"));
  EXPECT_GE(touches_, 1);
}

// glusterd restarted during the sync (seen on the lab): the session reads
// Stopped from then on, until the job starts it again.
TEST_F(GeoRepSyncTest, ASessionStoppedUnderTheSyncIsStartedAgain) {
  runner_.statusReadings = {fixture("georep-status-stopped.xml")};
  // After the job's start: running, then stopped for good (the last
  // reading repeats); after its restart: running to completion.
  runner_.readingsAfterStart = {{fixture("georep-status-initializing.xml"),
                                 fixture("georep-status-checkpoint-pending.xml"), fixture("georep-status-stopped.xml")},
                                {fixture("georep-status-initializing.xml"),
                                 fixture("georep-status-checkpoint-completed.xml")}};
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(runner_.count(kSession + " start"), 2u);
  EXPECT_EQ(r.details["sessionRestarts"].asInt(), 1);
}

// The secondary unreachable (its sshd stopped, seen on the lab): gsyncd's
// monitor exits at once, the session reads Stopped again after the start.
TEST_F(GeoRepSyncTest, ASessionThatStopsAgainFailsWithGsyncdsReason) {
  // Only what gsyncd logged since the job started tells why it stopped.
  const std::string before = gsyncdStamp(std::time(nullptr) - 3600);
  const std::string now = gsyncdStamp(std::time(nullptr) + 1);
  gsyncdLog_ = before + " E [syncdutils(monitor):851:logerr] Popen: ssh> ssh: Could not resolve hostname\n" + now +
               " E [syncdutils(monitor):845:errlog] Popen: command returned error\n" + now +
               " E [syncdutils(monitor):851:logerr] Popen: ssh> ssh: connect to host 127.0.0.2 "
               "port 22: Connection refused\n" +
               now + " I [monitor(monitor):160:monitor] Monitor: finished\n";
  runner_.statusReadings = {fixture("georep-status-stopped.xml"), fixture("georep-status-initializing.xml"),
                            fixture("georep-status-stopped.xml")};
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobFailed);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, int(Code::GeoRepSyncStalled));
  EXPECT_NE(r.error->message.find("/bricks/gdr-primary (Stopped)"), std::string::npos) << r.error->message;
  EXPECT_NE(r.error->message.find("gsyncd: Popen: ssh> ssh: connect to host 127.0.0.2 port 22: Connection refused"),
            std::string::npos)
      << r.error->message;
  ASSERT_FALSE(logsRead_.empty());
  EXPECT_EQ(logsRead_[0], "/var/log/glusterfs/geo-replication/gdr-primary_127.0.0.2_gdr-secondary/gsyncd.log");
  EXPECT_FALSE(lastGsyncdError("[x] I [y] fine\n"));
}

// Recorded on the lab with the secondary's sshd stopped: the monitor failed
// twice, the second time inside its own errlog (a TypeError) before it could
// log ssh's words.
constexpr std::int64_t kMonitorFirstFailed = 1796663501;   // 17:11:41 UTC
constexpr std::int64_t kMonitorSecondFailed = 1796663518;  // 17:11:58 UTC

TEST(GsyncdLog, WhatSshSaidNamesTheReasonEvenWhenTheMonitorFailedLater) {
  EXPECT_EQ(lastGsyncdError(fixture("gsyncd-monitor-fails-logging.log"), kMonitorFirstFailed - 5),
            "Popen: ssh> ssh: connect to host 127.0.0.2 port 22: Connection refused");
}

TEST(GsyncdLog, WithoutSshsWordsTheExitStatusComesFirst) {
  const auto why = lastGsyncdError(fixture("gsyncd-monitor-fails-logging.log"), kMonitorFirstFailed + 5);
  ASSERT_TRUE(why);
  EXPECT_EQ(why->rfind("command exited 255 (ssh's own failure): ssh -oPasswordAuthentication=no", 0), 0u) << *why;
}

TEST(GsyncdLog, ATracebacksExceptionIsTheLastResort) {
  const std::string log = fixture("gsyncd-monitor-fails-logging.log");
  const std::string failed = log.substr(log.find("[2026-12-07 17:11:58.434298]"));
  EXPECT_EQ(lastGsyncdError(failed, kMonitorSecondFailed), "TypeError: a bytes-like object is required, not 'str'");
}

TEST(GsyncdLog, RecordsBeforeTheJobAreNotItsReason) {
  EXPECT_FALSE(lastGsyncdError(fixture("gsyncd-monitor-fails-logging.log"), kMonitorSecondFailed + 60));
  // A tail cut mid-record starts with a fragment, which is no record.
  EXPECT_FALSE(lastGsyncdError("ssh> ssh: connect to host 127.0.0.2 port 22: Connection refused\n", 0));
}

TEST_F(GeoRepSyncTest, WarnsOfAShardedPrimaryWithoutWriteOrdering) {
  runner_.statusReadings = {fixture("georep-status-checkpoint-completed.xml")};
  runner_.answer("volume info gdr-primary", fixture("volume-info.xml"));
  JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  ASSERT_EQ(r.details["warnings"].size(), 1u);
  EXPECT_NE(r.details["warnings"][0].asString().find("strict-write-ordering"), std::string::npos);
  runner_.answer("volume info gdr-primary", fixture("volume-info-write-ordering.xml"));
  r = runSync();
  EXPECT_EQ(r.state, kJobDone);
  EXPECT_TRUE(r.details["warnings"].isArray());
  EXPECT_TRUE(r.details["warnings"].empty());
}

TEST_F(GeoRepSyncTest, OptionsThatCannotBeReadAreNoReasonToFail) {
  runner_.statusReadings = {fixture("georep-status-checkpoint-completed.xml")};
  const JobRecord r = runSync();  // "volume info" answers with an error here
  EXPECT_TRUE(runner_.called("volume info gdr-primary"));
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_TRUE(r.details["warnings"].empty());
}

TEST_F(GeoRepSyncTest, ASessionAlreadyStartedIsNotAFailure) {
  // Workers still read Stopped while glusterd holds the session started.
  runner_.answer(kSession + " start", fixture("error-already-started.xml"), 1);
  runner_.answer("volume info gdr-primary", fixture("volume-info.xml"));
  runner_.answer("volume geo-replication gdr-primary status", fixture("session-list-volume.xml"));
  runner_.statusReadings = {fixture("georep-status-stopped.xml"), fixture("georep-status-checkpoint-pending.xml"),
                            fixture("georep-status-checkpoint-completed.xml")};
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_TRUE(runner_.called(kSession + " start"));
}

TEST_F(GeoRepSyncTest, AStartThatFailsOtherwiseFailsTheJob) {
  runner_.answer("volume info gdr-primary", fixture("volume-info.xml"));
  runner_.answer("volume geo-replication gdr-primary status", fixture("session-list-volume.xml"));
  runner_.answers.erase(kSession + " start");  // "geo-replication command failed"
  runner_.statusReadings = {fixture("georep-status-stopped.xml")};
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobFailed);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, int(Code::GeoRepStartFailed)) << r.error->message;
}

TEST_F(GeoRepSyncTest, ACheckpointEventTriggersAReadingAtOnce) {
  // Read before the loop, at its first reading, then only when nudged.
  runner_.statusReadings = {fixture("georep-status-checkpoint-pending.xml"),
                            fixture("georep-status-checkpoint-pending.xml"),
                            fixture("georep-status-checkpoint-completed.xml")};
  JobStore store(dir_, 3600s);
  GlusterCli cli(runner_, 5s);
  GeoRepSyncSpec spec;
  spec.volume = "gdr-primary";
  spec.remote = Remote{"127.0.0.2", "gdr-secondary"};
  spec.pollInterval = 60s;  // only the event can end this job in time
  const std::string id =
      store.start(newGeoRepSyncRecord(spec), std::make_unique<GeoRepSyncJob>(cli, [](const auto&, const auto&) {}))
          .id;
  const auto event = parseGlusterEvent(fixture("event-checkpoint-completed.json"));
  ASSERT_TRUE(event);
  // Wait for the first reading (the pending one), then deliver the event.
  for (int i = 0; i < 500 && store.get(id).state != "SYNCING"; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(store.get(id).state, "SYNCING");
  GlusterEvent other = *event;
  other.secondaryVolume = "another-secondary";
  EXPECT_EQ(store.nudge([&](const JobRecord& r) { return syncAwaitsEvent(r, other); }), 0u);
  EXPECT_EQ(store.nudge([&](const JobRecord& r) { return syncAwaitsEvent(r, *event); }), 1u);
  JobRecord r = store.get(id);
  for (int i = 0; i < 500 && !r.terminal(); ++i) {
    std::this_thread::sleep_for(10ms);
    r = store.get(id);
  }
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(r.details["eventsReceived"].asInt(), 1);
  EXPECT_TRUE(r.details["checkpointCompletedAt"].isIntegral());
  EXPECT_TRUE(r.details["checkpointCompleted"].asBool());
}

// The start waits until the brick rolled a changelog past the checkpoint
// (after checkpoint + 1), and says so; it does not wait for the bound.
TEST_F(GeoRepSyncTest, AStoppedSessionStartsOnceEveryBrickRolledPastTheCheckpoint) {
  const std::int64_t checkpoint = nowSeconds();
  runner_.answer(kSession + " config", configWithCheckpoint(checkpoint));
  runner_.statusReadings = {fixture("georep-status-stopped.xml")};
  runner_.readingsAfterStart = {{statusWithCheckpoint("georep-status-checkpoint-pending.xml", checkpoint),
                                 statusWithCheckpoint("georep-status-checkpoint-completed.xml", checkpoint)}};
  std::atomic<int> readings{0};
  std::string brickRead;
  lastRolled_ = [&](const GeoRepWorker& w) -> std::optional<std::int64_t> {
    brickRead = w.primaryNode + ":" + w.primaryBrick;
    const int n = ++readings;
    if (n < 5) return checkpoint - 3;   // the last rollover before the checkpoint
    if (n < 10) return checkpoint + 1;  // may not hold all of the checkpoint's second
    std::lock_guard<std::mutex> lock(runner_.mutex);
    runner_.calls.push_back("rolled past");
    return checkpoint + 2;
  };
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(brickRead, "127.0.0.2:/var/lib/gdr-lab/bricks/gdr-primary");
  const auto rolled = std::find(runner_.calls.begin(), runner_.calls.end(), "rolled past");
  const auto start = std::find(runner_.calls.begin(), runner_.calls.end(), kSession + " start");
  ASSERT_NE(start, runner_.calls.end());
  EXPECT_LT(rolled, start) << "started before the brick rolled past the checkpoint";
  EXPECT_GE(readings, 10);
  EXPECT_EQ(r.details["rolloverWait"].asString(), "every brick rolled a changelog past the checkpoint");
  EXPECT_TRUE(r.details["rolloverWaited"].isIntegral());
  EXPECT_LT(r.details["rolloverWaited"].asInt64(), 10000);  // not the 17 s bound
  EXPECT_GE(touches_, 1);                                   // an idle brick rolls nothing
}

// A brick of another host cannot be read: the start waits for the
// rollover interval (15 s by default) plus the margin after the checkpoint.
TEST_F(GeoRepSyncTest, ABrickThatCannotBeReadIsWaitedForByTheRolloverInterval) {
  runner_.answer("volume info gdr-primary", fixture("volume-info.xml"));
  const std::int64_t checkpoint = nowSeconds() - 15;  // the bound is 1 s to 2 s away
  runner_.answer(kSession + " config", configWithCheckpoint(checkpoint));
  runner_.statusReadings = {fixture("georep-status-stopped.xml")};
  runner_.readingsAfterStart = {{statusWithCheckpoint("georep-status-checkpoint-completed.xml", checkpoint)}};
  lastRolled_ = [](const GeoRepWorker&) { return std::optional<std::int64_t>(); };
  const auto began = std::chrono::steady_clock::now();
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_GE(std::chrono::steady_clock::now() - began, 900ms) << "started before the bound";
  EXPECT_EQ(r.details["rolloverWait"].asString(),
            "the rollover interval (15 s) passed; not readable here: 127.0.0.2:/var/lib/gdr-lab/bricks/gdr-primary");
  EXPECT_TRUE(runner_.called(kSession + " start"));
}

// A running session has its consumers: nothing to wait for, and no second
// status reading before the sync's own.
TEST_F(GeoRepSyncTest, ARunningSessionIsNotWaitedFor) {
  const std::int64_t checkpoint = nowSeconds();
  runner_.answer(kSession + " config", configWithCheckpoint(checkpoint));
  runner_.statusReadings = {statusWithCheckpoint("georep-status-checkpoint-pending.xml", checkpoint),
                            statusWithCheckpoint("georep-status-checkpoint-completed.xml", checkpoint)};
  int readings = 0;
  lastRolled_ = [&](const GeoRepWorker&) {
    ++readings;
    return std::optional<std::int64_t>();
  };
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(readings, 0);
  EXPECT_FALSE(runner_.called(kSession + " start"));
  EXPECT_EQ(r.details["rolloverWait"].asString(), "the session runs: nothing to wait for");
}

TEST_F(GeoRepSyncTest, StartAfterRolloverOffStartsAtOnce) {
  const std::int64_t checkpoint = nowSeconds();
  runner_.answer(kSession + " config", configWithCheckpoint(checkpoint));
  runner_.statusReadings = {fixture("georep-status-stopped.xml")};
  runner_.readingsAfterStart = {{statusWithCheckpoint("georep-status-checkpoint-completed.xml", checkpoint)}};
  startAfterRollover_ = false;
  lastRolled_ = [](const GeoRepWorker&) -> std::optional<std::int64_t> {
    ADD_FAILURE() << "read a brick's index";
    return std::nullopt;
  };
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_TRUE(runner_.called(kSession + " start"));
  EXPECT_EQ(r.details["rolloverWait"].asString(), "not waited for");
  EXPECT_FALSE(r.details["startAfterRollover"].asBool());
}

TEST(ChangelogRollover, TheLastChangelogAnHtimeIndexNamesIsItsLastRollover) {
  const std::string index = fixture("htime-index");
  EXPECT_EQ(lastRolledChangelog(index), 1796599542);
  // A tail that begins inside an entry, and one cut inside the entry
  // being written: the last complete name counts.
  EXPECT_EQ(lastRolledChangelog(index.substr(index.size() - 30)), 1796599542);
  EXPECT_EQ(lastRolledChangelog(index.substr(0, index.size() - 3)), 1796599528);
  EXPECT_EQ(lastRolledChangelog(index.substr(0, index.size() - 1)), 1796599528);
  EXPECT_FALSE(lastRolledChangelog(""));
  EXPECT_FALSE(lastRolledChangelog(std::string("\0\0", 2)));
  EXPECT_FALSE(lastRolledChangelog(std::string("/b/CHANGELOG.12x4\0", 18)));
  EXPECT_FALSE(lastRolledChangelog("/b/CHANGELOG.1796599542"));  // not written whole yet
}

TEST(ChangelogRollover, GlusterdsUuidAndTheRolloverInterval) {
  EXPECT_EQ(glusterdUuid("UUID=12a1346c-6195-47aa-957e-22f19e1bd8f6\noperating-version=100000\n"),
            "12a1346c-6195-47aa-957e-22f19e1bd8f6");
  EXPECT_FALSE(glusterdUuid("operating-version=100000\n"));
  EXPECT_FALSE(glusterdUuid("UUID=\n"));
  EXPECT_EQ(changelogRolloverSeconds({}), 15);
  EXPECT_EQ(changelogRolloverSeconds({{"changelog.rollover-time", "3"}}), 3);
  EXPECT_EQ(changelogRolloverSeconds({{"changelog.rollover-time", "soon"}}), 15);
  EXPECT_EQ(changelogRolloverSeconds({{"changelog.rollover-time", "0"}}), 15);
}

TEST(ChangelogRollover, EveryBrickMustRollPastTheCheckpointOrTheIntervalPass) {
  constexpr std::int64_t t = 1000;
  const std::vector<BrickRollover> past = {{"a:/b1", t + 2}, {"b:/b2", t + 14}};
  EXPECT_TRUE(assessRollover(t, 15, past, t + 3).ready);
  EXPECT_EQ(assessRollover(t, 15, past, t + 3).why, "every brick rolled a changelog past the checkpoint");
  // A changelog named t + 1 may not hold all of second t.
  const std::vector<BrickRollover> oneBehind = {{"a:/b1", t + 2}, {"b:/b2", t + 1}};
  EXPECT_FALSE(assessRollover(t, 15, oneBehind, t + 16).ready);
  EXPECT_EQ(assessRollover(t, 15, oneBehind, t + 16).why, "not rolled past the checkpoint yet: b:/b2");
  // The bound: the interval and a margin of 2 s after the checkpoint.
  EXPECT_EQ(rolloverBound(t, 15), t + 17);
  const auto passed = assessRollover(t, 15, oneBehind, t + 17);
  EXPECT_TRUE(passed.ready);
  EXPECT_EQ(passed.why, "the rollover interval (15 s) passed; not rolled past the checkpoint yet: b:/b2");
  const std::vector<BrickRollover> unread = {{"a:/b1", t + 2}, {"c:/b3", std::nullopt}, {"d:/b4", t - 5}};
  EXPECT_EQ(assessRollover(t, 3, unread, t + 4).why,
            "not rolled past the checkpoint yet: d:/b4; not readable here: c:/b3");
  EXPECT_TRUE(assessRollover(t, 3, unread, t + 5).ready);
  // A long interval is not waited for in full.
  EXPECT_EQ(rolloverBound(t, 300), t + 62);
  EXPECT_TRUE(assessRollover(t, 15, {}, t).ready);
}

TEST(ChangelogRollover, OnlyTheIndexOfABrickOfThisHostIsRead) {
  const auto dir = std::filesystem::path(testing::TempDir()) / ("gdr-htime-" + JobStore::newId());
  const auto htime = dir / "brick" / ".glusterfs" / "changelogs" / "htime";
  std::filesystem::create_directories(htime);
  std::filesystem::create_directories(dir / "glusterd");
  std::ofstream(dir / "glusterd" / "glusterd.info") << "UUID=5f1c3a8e-2b7d-4c1e-9a55-0d6e8f3b2a71\n";
  // An older index (changelogs disabled and enabled again) and the current one.
  std::ofstream(htime / "HTIME.1796590000") << std::string("/x/CHANGELOG.1796590015\0", 24);
  std::ofstream(htime / "HTIME.1796599443") << fixture("htime-index");
  const LocalChangelogs changelogs((dir / "glusterd").string());
  GeoRepWorker here;
  here.primaryNodeUuid = "5f1c3a8e-2b7d-4c1e-9a55-0d6e8f3b2a71";
  here.primaryBrick = (dir / "brick").string();
  EXPECT_EQ(changelogs.lastRolled(here), 1796599542);
  GeoRepWorker elsewhere = here;  // the same path on another host
  elsewhere.primaryNodeUuid = "0d6e8f3b-2b7d-4c1e-9a55-5f1c3a8e2a71";
  EXPECT_FALSE(changelogs.lastRolled(elsewhere));
  GeoRepWorker noIndex = here;
  noIndex.primaryBrick = (dir / "no-brick").string();
  EXPECT_FALSE(changelogs.lastRolled(noIndex));
  EXPECT_FALSE(LocalChangelogs((dir / "no-glusterd").string()).lastRolled(here));
  std::filesystem::remove_all(dir);
}

TEST(StallWatch, RestartsOnceAfterTheLimitThenCallsItAStall) {
  using Clock = StallWatch::Clock;
  const auto t0 = Clock::now();
  StallWatch watch(10s, 3s, 0, t0);
  SyncAssessment busy;
  busy.active = 1;
  busy.activity = "n:/b History Crawl 5/0/0/0;";
  busy.lastSynced = 100;
  EXPECT_EQ(watch.observe(busy, t0), StallWatch::Verdict::Moving);
  EXPECT_EQ(watch.observe(busy, t0 + 9s), StallWatch::Verdict::Still);
  EXPECT_EQ(watch.observe(busy, t0 + 11s), StallWatch::Verdict::Restart);
  watch.restarted(t0 + 11s);
  EXPECT_EQ(watch.observe(busy, t0 + 20s), StallWatch::Verdict::Still);
  EXPECT_EQ(watch.observe(busy, t0 + 22s), StallWatch::Verdict::Stalled);  // once is all
  busy.lastSynced = 101;
  EXPECT_EQ(watch.observe(busy, t0 + 23s), StallWatch::Verdict::Moving);
}

TEST(StallWatch, IdleWorkersAreRestartedSoonerAndReadAtTheLimit) {
  using Clock = StallWatch::Clock;
  const auto t0 = Clock::now();
  StallWatch watch(60s, 3s, 0, t0);
  SyncAssessment idle;
  idle.active = 1;
  idle.idleInChangelogCrawl = true;
  idle.activity = "n:/b Changelog Crawl 0/0/0/0;";
  EXPECT_EQ(watch.observe(idle, t0), StallWatch::Verdict::Moving);
  ASSERT_TRUE(watch.readBy(idle));
  EXPECT_EQ(*watch.readBy(idle), t0 + 3s + 500ms);
  EXPECT_EQ(watch.observe(idle, t0 + 4s), StallWatch::Verdict::Restart);
  watch.restarted(t0 + 4s);
  EXPECT_FALSE(watch.readBy(idle));  // no restart left: the slow poll is enough
}

TEST(StallWatch, ARestartBeforeAnAgentRestartCounts) {
  const auto t0 = StallWatch::Clock::now();
  StallWatch watch(10s, 3s, StallWatch::kMaxRestarts, t0);
  SyncAssessment busy;
  busy.active = 1;
  watch.observe(busy, t0);
  EXPECT_EQ(watch.observe(busy, t0 + 11s), StallWatch::Verdict::Stalled);
}

TEST(GeoRepSyncStates, EveryStateButTheEndsMovesSomewhereAndNothingLeavesAnEnd) {
  const auto& table = GeoRepSyncJob::transitions();
  for (const auto& [state, name] : api::EnumNames<api::SyncState>::table) {
    EXPECT_EQ(table.count(state) == 0, api::isTerminalState(name)) << name;
  }
}

TEST_F(GeoRepSyncTest, AFailureDecidedBeforeARestartEndsTheSameWay) {
  // STOPPING carries the outcome: after a restart the job only stops the
  // session and fails as it had decided, with the same error.
  GeoRepSyncSpec spec;
  spec.volume = "gdr-primary";
  spec.remote = Remote{"127.0.0.2", "gdr-secondary"};
  JobRecord record = newGeoRepSyncRecord(spec);
  record.id = JobStore::newId();
  record.state = "STOPPING";
  record.details["outcome"] = "FAILED";
  record.details["outcomeError"]["code"] = int(Code::GeoRepWorkerFaulty);
  record.details["outcomeError"]["message"] = "geo-replication worker node1:/b (Faulty)";
  JobStore store(dir_, 3600s);
  GlusterCli cli(runner_, 5s);
  const std::string id =
      store.start(record, std::make_unique<GeoRepSyncJob>(cli, [](const auto&, const auto&) {})).id;
  JobRecord r = store.get(id);
  for (int i = 0; i < 500 && !r.terminal(); ++i) {
    std::this_thread::sleep_for(10ms);
    r = store.get(id);
  }
  EXPECT_EQ(r.state, kJobFailed);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, int(Code::GeoRepWorkerFaulty));
  EXPECT_TRUE(runner_.called(kSession + " stop"));
  EXPECT_FALSE(runner_.called(kSession + " start"));
}

// Killed while it waited for the rollover: the resumed job keeps the
// checkpoint it had (none is set again), waits on, then starts.
TEST_F(GeoRepSyncTest, AJobResumedWhileWaitingForTheRolloverWaitsThenStarts) {
  const std::int64_t checkpoint = nowSeconds();
  GeoRepSyncSpec spec;
  spec.volume = "gdr-primary";
  spec.remote = Remote{"127.0.0.2", "gdr-secondary"};
  spec.pollInterval = 10ms;
  spec.settle = 10ms;
  JobRecord record = newGeoRepSyncRecord(spec);
  record.id = JobStore::newId();
  record.state = "ROLLOVER";
  record.details["checkpointTime"] = Json::Int64(checkpoint);
  runner_.statusReadings = {fixture("georep-status-stopped.xml")};
  runner_.readingsAfterStart = {{statusWithCheckpoint("georep-status-checkpoint-completed.xml", checkpoint)}};
  std::atomic<int> readings{0};
  const RolloverReader lastRolled = [&](const GeoRepWorker&) -> std::optional<std::int64_t> {
    if (++readings < 5) return checkpoint - 1;
    std::lock_guard<std::mutex> lock(runner_.mutex);
    runner_.calls.push_back("rolled past");
    return checkpoint + 3;
  };
  JobStore store(dir_, 3600s);
  GlusterCli cli(runner_, 5s);
  const std::string id = store
                             .start(record, std::make_unique<GeoRepSyncJob>(
                                                cli, [](const auto&, const auto&) {}, readFileTail, lastRolled))
                             .id;
  JobRecord r = store.get(id);
  for (int i = 0; i < 500 && !r.terminal(); ++i) {
    std::this_thread::sleep_for(10ms);
    r = store.get(id);
  }
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_FALSE(runner_.called(kSession + " config checkpoint now"));
  EXPECT_EQ(r.details["checkpointTime"].asInt64(), checkpoint);
  const auto rolled = std::find(runner_.calls.begin(), runner_.calls.end(), "rolled past");
  const auto start = std::find(runner_.calls.begin(), runner_.calls.end(), kSession + " start");
  ASSERT_NE(start, runner_.calls.end());
  EXPECT_LT(rolled, start);
}

TEST_F(GeoRepSyncTest, CompletedBeforeARestartOnlyStopsTheSession) {
  JobRecord record = newGeoRepSyncRecord(GeoRepSyncSpec{});
  record.id = JobStore::newId();
  record.state = "STOPPING";
  record.details["volumeName"] = "gdr-primary";
  record.details["remoteHost"] = "127.0.0.2";
  record.details["remoteVolumeName"] = "gdr-secondary";
  record.details["checkpointTime"] = Json::Int64(kCheckpoint);
  record.details["checkpointCompleted"] = true;
  JobStore store(dir_, 3600s);
  GlusterCli cli(runner_, 5s);
  const std::string id =
      store.start(record, std::make_unique<GeoRepSyncJob>(cli, [](const auto&, const auto&) {})).id;
  JobRecord r = store.get(id);
  for (int i = 0; i < 500 && !r.terminal(); ++i) {
    std::this_thread::sleep_for(10ms);
    r = store.get(id);
  }
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_TRUE(runner_.called(kSession + " stop"));
  EXPECT_FALSE(runner_.called(kSession + " start"));
  EXPECT_FALSE(runner_.called(kSession + " config checkpoint now"));
}

TEST_F(GeoRepSyncTest, FaultyWorkerFailsNamingIt) {
  runner_.statusReadings = {fixture("georep-status-checkpoint-pending.xml"), fixture("georep-status-faulty.xml")};
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobFailed);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, int(Code::GeoRepWorkerFaulty));
  EXPECT_NE(r.error->message.find("127.0.0.3"), std::string::npos) << r.error->message;
  EXPECT_TRUE(runner_.called(kSession + " stop"));  // left stopped
}

// gsyncd's monitor restarts a worker that died (seen after a glusterd
// restart): a Faulty reading that does not last is no failure.
TEST_F(GeoRepSyncTest, AWorkerFaultyBrieflyIsNoFailure) {
  runner_.statusReadings = {fixture("georep-status-checkpoint-pending.xml"), fixture("georep-status-faulty.xml"),
                            fixture("georep-status-faulty.xml"), fixture("georep-status-checkpoint-completed.xml")};
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
}

// This host's glusterd gone (killed with its bricks): the status cannot be
// read for long, and the job says so with its own code, so that the engine
// has another host drive the session. A glusterd restart is no failure.
TEST_F(GeoRepSyncTest, AStatusUnreadableForLongFailsWithItsOwnCode) {
  const std::string down = "Connection failed. Please check if gluster daemon is operational.\n";
  runner_.statusReadings = {fixture("georep-status-checkpoint-pending.xml"), down};
  const JobRecord r = runSync();
  EXPECT_EQ(r.state, kJobFailed);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->code, int(Code::GeoRepStatusUnreadable));
  EXPECT_NE(r.error->message.find("could not be read on this host"), std::string::npos) << r.error->message;
  EXPECT_NE(r.error->message.find("Connection failed"), std::string::npos) << r.error->message;

  runner_.statusReadings = {fixture("georep-status-checkpoint-pending.xml"), down, down,
                            fixture("georep-status-checkpoint-completed.xml")};
  EXPECT_EQ(runSync().state, kJobDone);
}

TEST_F(GeoRepSyncTest, AStallIsRestartedOnce) {
  // Pending and frozen until the restart, completed after it: however slow
  // the machine, the stall is seen once and the restart ends it.
  runner_.statusReadings = {fixture("georep-status-checkpoint-pending.xml")};
  runner_.readingsAfterStart = {{fixture("georep-status-checkpoint-completed.xml")}};
  const JobRecord r = runSync(30s, 1s);
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(r.details["sessionRestarts"].asInt(), 1);
}

TEST_F(GeoRepSyncTest, WorkersIdleInChangelogCrawlAreRestartedSooner) {
  std::deque<std::string> readings;
  for (int i = 0; i < 150; ++i) readings.push_back(fixture("georep-status-changelog-idle.xml"));
  readings.push_back(fixture("georep-status-checkpoint-completed.xml"));
  runner_.statusReadings = readings;
  // The general stall limit (60 s) is far beyond the test's 10 s: only the
  // idle rule (1 s here) can restart the session in time.
  const JobRecord r = runSync(30s, 60s, 1s);
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(r.details["sessionRestarts"].asInt(), 1);
  // A busy worker (data pending) is not idle: the rule does not apply.
  const auto pending = assessSync(parseGeoRepStatus(fixture("georep-status-checkpoint-pending.xml")).front().workers,
                                  kCheckpoint);
  EXPECT_FALSE(pending.idleInChangelogCrawl);
  const auto idle = assessSync(parseGeoRepStatus(fixture("georep-status-changelog-idle.xml")).front().workers,
                               kCheckpoint);
  // Marked completed while data is still pending is not complete.
  auto workers = parseGeoRepStatus(fixture("georep-status-checkpoint-completed.xml")).front().workers;
  EXPECT_TRUE(assessSync(workers, kCheckpoint).complete);
  workers.front().data = 7;
  EXPECT_FALSE(assessSync(workers, kCheckpoint).complete);
  EXPECT_TRUE(assessSync(workers, kCheckpoint).pending);
  EXPECT_TRUE(idle.idleInChangelogCrawl);
  EXPECT_FALSE(idle.complete);
}

TEST_F(GeoRepSyncTest, IdleWorkersAreRestartedAtTheLimitNotAtTheNextSlowPoll) {
  runner_.statusReadings = {fixture("georep-status-changelog-idle.xml")};  // idle for good
  JobStore store(dir_, 3600s);
  GlusterCli cli(runner_, 5s);
  GeoRepSyncSpec spec;
  spec.volume = "gdr-primary";
  spec.remote = Remote{"127.0.0.2", "gdr-secondary"};
  spec.pollInterval = 60s;  // as with events: only the idle rule reads sooner
  spec.idleStallTimeout = 1s;
  const std::string id =
      store.start(newGeoRepSyncRecord(spec), std::make_unique<GeoRepSyncJob>(cli, [](const auto&, const auto&) {}))
          .id;
  JobRecord r = store.get(id);
  for (int i = 0; i < 500 && r.details.get("sessionRestarts", 0).asInt() == 0; ++i) {
    std::this_thread::sleep_for(10ms);
    r = store.get(id);
  }
  EXPECT_EQ(r.details.get("sessionRestarts", 0).asInt(), 1) << "no restart within 5 s";
  store.abort(id);
  for (int i = 0; i < 500 && !r.terminal(); ++i) {
    std::this_thread::sleep_for(10ms);
    r = store.get(id);
  }
  EXPECT_EQ(r.state, kJobAborted);
}

TEST_F(GeoRepSyncTest, AHybridCrawlWorkingThroughItsBacklogIsNotAStall) {
  // A Hybrid Crawl (a full crawl, e.g. when changelog history is missing)
  // shows no last synced until it is through; its pending count falling is
  // the progress.
  std::string pending = fixture("georep-status-checkpoint-pending.xml");
  pending = std::regex_replace(pending, std::regex("<crawl_status>[^<]*</crawl_status>"),
                               "<crawl_status>Hybrid Crawl</crawl_status>");
  pending = std::regex_replace(pending, std::regex("<last_synced>[^<]*</last_synced>"), "<last_synced>N/A</last_synced>");
  std::deque<std::string> readings;
  // Every reading shows the count falling, 400 readings 10 ms apart (4 s,
  // twice the stall limit): only a machine holding one reading back for
  // two whole seconds could make this a stall.
  for (int i = 0; i < 400; ++i) {
    readings.push_back(std::regex_replace(pending, std::regex("<data>[^<]*</data>"),
                                          "<data>" + std::to_string(8000 - i) + "</data>"));
  }
  readings.push_back(fixture("georep-status-checkpoint-completed.xml"));
  runner_.statusReadings = readings;
  const JobRecord r = runSync(30s, 2s, 2s);
  EXPECT_EQ(r.state, kJobDone) << (r.error ? r.error->message : "");
  EXPECT_EQ(r.details.get("sessionRestarts", 0).asInt(), 0);
  // The same Hybrid Crawl with nothing changing is a stall.
  runner_.statusReadings = {pending};
  const JobRecord stalled = runSync(30s, 1s, 1s);
  EXPECT_EQ(stalled.state, kJobFailed);
  ASSERT_TRUE(stalled.error);
  EXPECT_EQ(stalled.error->code, int(Code::GeoRepSyncStalled)) << stalled.error->message;
}

TEST_F(GeoRepSyncTest, StalledAndTimedOut) {
  runner_.statusReadings = {fixture("georep-status-checkpoint-pending.xml")};  // forever pending, never moving
  JobRecord r = runSync(30s, 1s);
  EXPECT_EQ(r.state, kJobFailed);
  EXPECT_EQ(r.error->code, int(Code::GeoRepSyncStalled)) << r.error->message;
  EXPECT_EQ(r.details["sessionRestarts"].asInt(), 1);  // one restart was tried first
  // Both failures name the worker the sync waited on.
  EXPECT_NE(r.error->message.find("; Active: 127.0.0.2:/var/lib/gdr-lab/bricks/gdr-primary"), std::string::npos)
      << r.error->message;
  r = runSync(1s, 30s);
  EXPECT_EQ(r.state, kJobFailed);
  EXPECT_EQ(r.error->code, int(Code::GeoRepSyncTimeout)) << r.error->message;
  EXPECT_NE(r.error->message.find("; Active: 127.0.0.2:"), std::string::npos) << r.error->message;
}

}  // namespace
}  // namespace gdr::gluster
