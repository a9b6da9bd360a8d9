// gdr-sync setup on fake agents: the steps in order, each checked, the
// first that fails ending it, and nothing changed on a secondary that is
// not empty.
#include <gtest/gtest.h>

#include <stdexcept>

#include "client/session_setup.h"

namespace gdr::sync {
namespace {

class FakeSetupAgent : public GeoRepSetupApi {
 public:
  explicit FakeSetupAgent(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  const std::string& endpoint() const override { return endpoint_; }

  std::vector<std::string> calls;
  bool sessionExists = false;
  std::vector<std::string> secondaryEntries;  // what the secondary's root holds
  std::string failing;                        // the call that throws
  api::SessionCreateParams created;
  std::vector<std::pair<std::string, std::string>> configured;
  api::GeoRepKeysUpdateParams authorized;

  api::SessionListResult geoRepSessionList(const api::SessionListParams& p) override {
    record("list " + p.volumeName.value_or("*") + " " + p.remoteHost.value_or("*") +
           "::" + p.remoteVolumeName.value_or("*") + " " + p.remoteUserName.value_or("*"));
    api::SessionListResult out;
    if (sessionExists) out.sessions.push_back({"key", "vmstore", "dr1", "vmstore-dr", "root", {}});
    return out;
  }
  api::EmptyCheckResult volumeEmptyCheck(const api::VolumeRef& p) override {
    record("empty " + p.volfileServers.at(0) + " " + p.volumeName);
    return {secondaryEntries.empty(), secondaryEntries};
  }
  api::GeoRepKeysResult geoRepKeysGet() override {
    record("keys");
    return {{"command=\"gsyncd\" ssh-rsa AAAA root@a", "command=\"gsyncd\" ssh-rsa BBBB root@b"}};
  }
  api::GeoRepKeysUpdateResult geoRepKeysUpdate(const api::GeoRepKeysUpdateParams& p) override {
    record("authorize " + p.userName);
    authorized = p;
    return {int(p.geoRepPubKeys.size()), 0};
  }
  void geoRepSessionCreate(const api::SessionCreateParams& p) override {
    record("create");
    created = p;
  }
  void geoRepConfigSet(const api::ConfigSetParams& p) override {
    record("config " + p.optionName);
    configured.emplace_back(p.optionName, p.optionValue);
  }
  void volumeSet(const api::VolumeSetParams& p) override {
    record("set " + p.volumeName + " " + p.option + "=" + p.value);
  }
  api::SessionStatusResult geoRepSessionStatus(const api::SessionParams&) override {
    record("status");
    api::GeoRepWorkerInfo w;
    w.masterNode = "h1";
    w.masterBrick = "/bricks/vmstore";
    w.status = "Created";
    return {{w}};
  }

 private:
  void record(const std::string& call) {
    calls.push_back(call);
    if (!failing.empty() && call.rfind(failing, 0) == 0) throw std::runtime_error(failing + " refused by the fake");
  }
  std::string endpoint_;
};

const SessionSetupRequest kRequest{"vmstore", "dr1", "vmstore-dr", ""};

std::vector<std::string> stepsOf(const SessionSetupReport& r) {
  std::vector<std::string> out;
  for (const auto& s : r.steps) out.push_back(s.step + (s.ok ? "" : " FAILED"));
  return out;
}

TEST(SessionSetup, AFreshSessionIsCheckedAuthorizedCreatedWithoutVerifyAndConfigured) {
  FakeSetupAgent primary("https://h1:54321"), secondary("https://dr1:54321");
  std::vector<std::string> progress;
  const auto report =
      setupSession(primary, secondary, kRequest, [&](const SessionSetupStep& s) { progress.push_back(s.step); });
  EXPECT_EQ(report.failure, "");
  EXPECT_TRUE(report.created);
  EXPECT_FALSE(report.existed);
  using V = std::vector<std::string>;
  EXPECT_EQ(stepsOf(report), (V{"existing", "empty", "keys", "authorize", "create", "config", "protect", "status"}));
  EXPECT_EQ(progress, (V{"existing", "empty", "keys", "authorize", "create", "config", "protect", "status"}));
  EXPECT_EQ(primary.calls,
            (V{"list vmstore dr1::vmstore-dr root", "keys", "create", "config rsync-options", "status"}));
  // The secondary ends read-only to every client but geo-replication's worker.
  EXPECT_EQ(secondary.calls, (V{"empty dr1 vmstore-dr", "authorize root", "set vmstore-dr features.read-only=on"}));
  EXPECT_EQ(secondary.authorized.geoRepPubKeys.size(), 2u);
  EXPECT_TRUE(primary.created.noVerify);
  EXPECT_FALSE(primary.created.force);
  EXPECT_EQ(primary.created.remoteHost, "dr1");
  EXPECT_EQ(primary.created.remoteVolumeName, "vmstore-dr");
  EXPECT_EQ(primary.configured,
            (std::vector<std::pair<std::string, std::string>>{{"rsync-options", " --ignore-times"}}));
  EXPECT_EQ(report.workers, V{"h1:/bricks/vmstore Created"});
}

TEST(SessionSetup, ASecondaryThatIsNotEmptyIsRefusedAndNothingChanges) {
  FakeSetupAgent primary("unix:/run/gdr/agent.sock"), secondary("https://dr1:54321");
  secondary.secondaryEntries = {"images", "iso", "old.qcow2", "a", "b", "c"};
  const auto report = setupSession(primary, secondary, kRequest, {});
  EXPECT_EQ(stepsOf(report), (std::vector<std::string>{"existing", "empty FAILED"}));
  EXPECT_EQ(report.failure,
            "empty: the secondary volume vmstore-dr is not empty (it holds images, iso, old.qcow2, a, b, ...): a new "
            "session needs an empty secondary; nothing was changed");
  EXPECT_EQ(primary.calls, (std::vector<std::string>{"list vmstore dr1::vmstore-dr root"}));
  EXPECT_EQ(secondary.calls, (std::vector<std::string>{"empty dr1 vmstore-dr"}));
  EXPECT_FALSE(report.created);
}

TEST(SessionSetup, OntoACopyTheSecondaryHoldsTheEmptyCheckIsTheCallersSaidCheck) {
  // A failback's restored direction: the secondary holds the data already.
  FakeSetupAgent primary("h1"), secondary("dr1");
  secondary.secondaryEntries = {"images", ".gdr"};
  SessionSetupRequest onto = kRequest;
  onto.secondaryHolds = "point P1, complete there";
  const auto report = setupSession(primary, secondary, onto, {});
  EXPECT_EQ(report.failure, "");
  EXPECT_TRUE(report.created);
  using V = std::vector<std::string>;
  EXPECT_EQ(stepsOf(report), (V{"existing", "copy", "keys", "authorize", "create", "config", "protect", "status"}));
  EXPECT_EQ(report.steps[1].detail, "vmstore-dr holds point P1, complete there: no empty check");
  EXPECT_EQ(secondary.calls, (V{"authorize root", "set vmstore-dr features.read-only=on"}));
  EXPECT_FALSE(primary.created.force);
}

TEST(SessionSetup, AnExistingSessionIsOnlyConfiguredAgain) {
  FakeSetupAgent primary("h1"), secondary("dr1");
  primary.sessionExists = true;
  secondary.secondaryEntries = {"images"};  // its files are the session's own
  const auto report = setupSession(primary, secondary, kRequest, {});
  EXPECT_EQ(report.failure, "");
  EXPECT_TRUE(report.existed);
  EXPECT_FALSE(report.created);
  EXPECT_EQ(stepsOf(report), (std::vector<std::string>{"existing", "config", "protect", "status"}));
  // Only made read-only again: a session's secondary must stay so.
  EXPECT_EQ(secondary.calls, (std::vector<std::string>{"set vmstore-dr features.read-only=on"}));
}

TEST(SessionSetup, TheFirstStepThatFailsEndsTheSetupAndIsNamed) {
  FakeSetupAgent primary("h1"), secondary("dr1");
  primary.failing = "create";
  auto report = setupSession(primary, secondary, kRequest, {});
  EXPECT_EQ(report.failure, "create: create refused by the fake");
  EXPECT_EQ(stepsOf(report), (std::vector<std::string>{"existing", "empty", "keys", "authorize", "create FAILED"}));
  EXPECT_FALSE(report.created);

  FakeSetupAgent unreachable("h1"), secondary2("dr1");
  unreachable.failing = "list";
  report = setupSession(unreachable, secondary2, kRequest, {});
  EXPECT_EQ(stepsOf(report), (std::vector<std::string>{"existing FAILED"}));
  EXPECT_TRUE(secondary2.calls.empty());

  FakeSetupAgent primary3("h1"), refusing("dr1");
  refusing.failing = "authorize";
  report = setupSession(primary3, refusing, kRequest, {});
  EXPECT_EQ(stepsOf(report), (std::vector<std::string>{"existing", "empty", "keys", "authorize FAILED"}));
  EXPECT_EQ(primary3.calls, (std::vector<std::string>{"list vmstore dr1::vmstore-dr root", "keys"}));

  // A secondary that cannot be made read-only is a failed set-up, named.
  FakeSetupAgent primary4("h1"), unprotected("dr1");
  unprotected.failing = "set";
  report = setupSession(primary4, unprotected, kRequest, {});
  EXPECT_EQ(report.failure, "protect: set refused by the fake");
  EXPECT_EQ(stepsOf(report).back(), "protect FAILED");
}

}  // namespace
}  // namespace gdr::sync
