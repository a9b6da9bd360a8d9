// gdr-sync failover's decisions before it acts: the primary must be gone
// (split brain otherwise), and the mapping file is read strictly.
#include <gtest/gtest.h>

#include "api/codec.h"
#include "api/recovery.h"
#include "client/failover_plan.h"
#include "client/sync_settings.h"
#include "core/errors.h"
#include "core/schema.h"

namespace gdr::sync {
namespace {

TEST(FailoverPlan, AnyPrimaryAgentAnsweringRefusesUnlessForced) {
  const std::vector<PrimaryProbe> gone = {{"https://p1:54321", false, "connection refused"},
                                          {"https://p2:54321", false, "timed out"}};
  EXPECT_EQ(primaryRefusal(gone, false), std::nullopt);
  EXPECT_EQ(primaryRefusal({}, false), std::nullopt);  // --force is then required (settings)
  std::vector<PrimaryProbe> one = gone;
  one[1].answered = true;
  const auto refusal = primaryRefusal(one, false);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("https://p2:54321"), std::string::npos) << *refusal;
  EXPECT_EQ(refusal->find("https://p1:54321"), std::string::npos) << *refusal;
  EXPECT_NE(refusal->find("--force"), std::string::npos) << *refusal;
  EXPECT_EQ(primaryRefusal(one, true), std::nullopt);
}

TEST(FailoverPlan, TheMappingFileIsReadStrictly) {
  const api::FailoverMapping m = parseMapping(R"({
    "networks": {"prod": "dr-prod"},
    "bridges": {"br0": "br-dr"},
    "paths": {"/var/lib/iso/": "/srv/iso/"},
    "priority": {"db": 1, "web": 2}
  })");
  EXPECT_EQ(m.networks.at("prod"), "dr-prod");
  EXPECT_EQ(m.bridges.at("br0"), "br-dr");
  EXPECT_EQ(m.paths.at("/var/lib/iso/"), "/srv/iso/");
  EXPECT_EQ(m.priority.at("web"), 2);
  EXPECT_TRUE(parseMapping("{}").networks.empty());
  for (const char* bad : {"", "[]", R"({"network": {}})", R"({"networks": {"a": 1}})", R"({"networks": {"a": ""}})",
                          R"({"paths": {"iso/": "/srv/"}})", R"({"paths": {"/iso/": "/srv"}})",
                          R"({"priority": {"db": "first"}})", R"({"priority": {"db": 1.5}})"}) {
    EXPECT_THROW(parseMapping(bad), std::invalid_argument) << bad;
  }
}

TEST(FailoverPlan, TheCommandNeedsThePrimaryAgentsOrForce) {
  const std::vector<std::string> base = {"failover", "--secondary", "s1::sec", "--secondary-agent", "unix:/run/a.sock"};
  EXPECT_THROW(parseSyncArgs(base), SyncUsageError);
  auto withHosts = base;
  withHosts.insert(withHosts.end(), {"--hosts", "https://p1:1,https://p2:1", "--mapping", "/etc/gdr/dr.json"});
  const SyncSettings s = parseSyncArgs(withHosts);
  EXPECT_EQ(s.command, SyncCommand::Failover);
  EXPECT_EQ(s.hosts.size(), 2u);
  EXPECT_EQ(s.mappingFile, "/etc/gdr/dr.json");
  EXPECT_FALSE(s.force);
  auto forced = base;
  forced.push_back("--force");
  EXPECT_TRUE(parseSyncArgs(forced).force);
}

// What gdr-sync sends must pass the agent's schema: without --point the
// request names no point (the agent takes the newest complete one).
TEST(FailoverPlan, TheRequestPassesTheSchemaWithOrWithoutAPoint) {
  const Schema& schema = builtinSchema();
  const VerbSpec& verb = *schema.find("GlusterVolume.recoveryPointFailover");
  api::FailoverParams params;
  params.volfileServers = {"127.30.0.21"};
  params.volumeName = "gdr-secondary";
  Json::Value sent = api::encode(params);
  EXPECT_FALSE(sent.isMember("pointId")) << sent.toStyledString();
  EXPECT_NO_THROW(schema.validate(verb, sent));
  params.pointId = "20261204T143652Z-f838428f";
  sent = api::encode(params);
  EXPECT_EQ(sent["pointId"].asString(), "20261204T143652Z-f838428f");
  EXPECT_NO_THROW(schema.validate(verb, sent));
  params.pointId = "";
  EXPECT_THROW(schema.validate(verb, api::encode(params)), AgentError);
}

}  // namespace
}  // namespace gdr::sync
