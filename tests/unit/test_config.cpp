#include <gtest/gtest.h>

#include <fstream>

#include "agent/config.h"

namespace gdr {
namespace {

ParseOutcome parse(std::vector<std::string> args, AgentConfig& config, std::string& out) {
  args.insert(args.begin(), "gdr-agent");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parseAgentArgs(int(argv.size()), argv.data(), config, out);
}

TEST(Config, FileThenFlags) {
  const std::string path = testing::TempDir() + "gdr-agent-test.conf";
  std::ofstream(path) << "# comment\n"
                         "listen = unix:/tmp/a.sock\n"
                         "listen = https://127.0.0.1:54321   # trailing comment\n"
                         "state_dir = /tmp/state\n"
                         "workers = 3\n"
                         "job_ttl = 60\n";
  AgentConfig config;
  std::string out;
  ASSERT_EQ(parse({"--config", path, "--workers=5"}, config, out), ParseOutcome::Run);
  ASSERT_EQ(config.listen.size(), 2u);
  EXPECT_EQ(config.listen[0].path, "/tmp/a.sock");
  EXPECT_EQ(config.listen[1].kind, ListenAddress::Kind::Https);
  EXPECT_EQ(config.listen[1].port, 54321);
  EXPECT_EQ(config.stateDir, "/tmp/state");
  EXPECT_EQ(config.workers, 5u);
  EXPECT_EQ(config.jobTtl.count(), 60);

  AgentConfig flags;
  ASSERT_EQ(parse({"--config", path, "--listen", "unix:/tmp/b.sock"}, flags, out), ParseOutcome::Run);
  ASSERT_EQ(flags.listen.size(), 1u);  // flags replace the file's listen lines
  EXPECT_EQ(flags.listen[0].path, "/tmp/b.sock");
}

TEST(Config, Errors) {
  AgentConfig config;
  std::string out;
  EXPECT_THROW(parse({"--bogus"}, config, out), std::invalid_argument);
  EXPECT_THROW(parse({"--workers"}, config, out), std::invalid_argument);
  EXPECT_THROW(parse({"--workers", "0"}, config, out), std::invalid_argument);
  EXPECT_THROW(parse({"--log-level", "loud"}, config, out), std::invalid_argument);
  EXPECT_THROW(parse({"--config", "/nonexistent/agent.conf"}, config, out), std::invalid_argument);
  EXPECT_THROW(applyConfigText("workers 3\n", "f", config), std::invalid_argument);
  EXPECT_THROW(applyConfigText("colour = blue\n", "f", config), std::invalid_argument);
  try {
    applyConfigText("\n\nworkers = many\n", "agent.conf", config);
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("agent.conf:3:", 0), 0u) << e.what();
  }
}

TEST(Config, ListenAddresses) {
  EXPECT_EQ(ListenAddress::parse("https://[::1]:8443").host, "::1");
  EXPECT_EQ(ListenAddress::parse("https://127.0.0.2:1/").port, 1);
  EXPECT_THROW(ListenAddress::parse("unix:relative.sock"), std::invalid_argument);
  EXPECT_THROW(ListenAddress::parse("https://localhost:54321"), std::invalid_argument);
  EXPECT_THROW(ListenAddress::parse("https://127.0.0.1:70000"), std::invalid_argument);
  EXPECT_THROW(ListenAddress::parse("https://127.0.0.1"), std::invalid_argument);
  EXPECT_THROW(ListenAddress::parse("tcp://127.0.0.1:1"), std::invalid_argument);
  EXPECT_EQ(ListenAddress::parse("http://127.0.0.1:54322/").kind, ListenAddress::Kind::Http);
}

TEST(Config, EventsListener) {
  AgentConfig c;
  EXPECT_FALSE(c.eventsListen);
  applyConfigText("events_listen = http://127.0.0.1:54322\nevents_token = s3cret\n", "agent.conf", c);
  ASSERT_TRUE(c.eventsListen);
  EXPECT_EQ(c.eventsListen->host, "127.0.0.1");
  EXPECT_EQ(c.eventsListen->port, 54322);
  EXPECT_EQ(c.eventsToken, "s3cret");
  applyConfigText("events_listen =\n", "agent.conf", c);
  EXPECT_FALSE(c.eventsListen);
  // RPC is never served in the clear; events only over plain http.
  EXPECT_THROW(applyConfigText("listen = http://127.0.0.1:1\n", "agent.conf", c), std::invalid_argument);
  EXPECT_THROW(applyConfigText("events_listen = https://127.0.0.1:1\n", "agent.conf", c), std::invalid_argument);
  EXPECT_THROW(applyConfigText("events_listen = unix:/run/x.sock\n", "agent.conf", c), std::invalid_argument);
}

TEST(Config, HelpAndVersion) {
  AgentConfig config;
  std::string out;
  EXPECT_EQ(parse({"--help"}, config, out), ParseOutcome::ExitOk);
  EXPECT_NE(out.find("--state-dir"), std::string::npos);
  EXPECT_EQ(parse({"--version"}, config, out), ParseOutcome::ExitOk);
  EXPECT_EQ(out.rfind("gdr-agent ", 0), 0u);
}

TEST(Config, AnEventsListenerBeyondLoopbackNeedsAToken) {
  AgentConfig c;
  applyConfigText("events_listen = http://127.0.0.1:54322\n", "agent.conf", c);
  EXPECT_NO_THROW(checkConfig(c));
  applyConfigText("events_listen = http://192.0.2.10:54322\n", "agent.conf", c);
  EXPECT_THROW(checkConfig(c), std::invalid_argument);
  applyConfigText("events_token = s3cret\n", "agent.conf", c);
  EXPECT_NO_THROW(checkConfig(c));
}

}  // namespace
}  // namespace gdr

namespace gdr {
namespace {

TEST(Config, AccessAndLimitSettings) {
  AgentConfig config;
  // The defaults: nothing deletable, no client let in, bounded waits.
  EXPECT_TRUE(config.deleteVolumes.empty());
  EXPECT_TRUE(config.tlsAllowedClients.empty());
  EXPECT_FALSE(config.volfileServers.has_value());
  EXPECT_EQ(config.idleTimeout.count(), 60);
  EXPECT_EQ(config.requestTimeout.count(), 300);
  EXPECT_EQ(config.gfapiPoolMax, 16u);
  applyConfigText("tls_ca = /etc/gdr/tls/engine-ca.crt\n"
                  "tls_allowed_clients = gdr-engine, engine.example.org,127.0.0.9\n"
                  "idle_timeout = 5\nrequest_timeout = 30\n"
                  "delete_volumes = gdr-secondary\nvolfile_servers = 127.0.0.2, 127.0.0.3\n"
                  "gfapi_pool_max = 4\n",
                  "agent.conf", config);
  EXPECT_EQ(config.tlsCa, "/etc/gdr/tls/engine-ca.crt");
  EXPECT_EQ(config.tlsAllowedClients, (std::vector<std::string>{"gdr-engine", "engine.example.org", "127.0.0.9"}));
  EXPECT_EQ(config.idleTimeout.count(), 5);
  EXPECT_EQ(config.requestTimeout.count(), 30);
  EXPECT_EQ(config.deleteVolumes, std::vector<std::string>{"gdr-secondary"});
  EXPECT_EQ(config.volfileServers, (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(config.gfapiPoolMax, 4u);
  EXPECT_THROW(applyConfigText("delete_volumes = a,,b\n", "f", config), std::invalid_argument);
  EXPECT_THROW(applyConfigText("idle_timeout = 0\n", "f", config), std::invalid_argument);
  config.requestTimeout = std::chrono::seconds(100000);
  EXPECT_THROW(checkConfig(config), std::invalid_argument);
}

}  // namespace
}  // namespace gdr
