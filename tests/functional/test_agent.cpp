// The built gdr-agent, started for real on a temporary socket and state
// dir, driven with gdr-client and with raw sockets.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/errors.h"
#include "core/job_store.h"
#include "core/json_util.h"
#include "core/process.h"
#include "tests/functional/agent_process.h"

namespace gdr::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kPing = R"({"jsonrpc":"2.0","method":"Host.ping","id":1})";

Json::Value parseLine(const std::string& line) {
  auto value = json::parse(line);
  EXPECT_TRUE(value.has_value()) << "not JSON: " << line;
  return value.value_or(Json::Value());
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir("gdr-functional");
    ASSERT_FALSE(dir_.empty());
    agent_ = std::make_unique<AgentProcess>(dir_);
  }
  void TearDown() override {
    agent_.reset();
    fs::remove_all(dir_);
  }
  void startAgent(const std::vector<std::string>& args = {}, const std::string& pathPrefix = {}) {
    std::string error;
    ASSERT_TRUE(agent_->start(args, &error, pathPrefix)) << error;
  }
  CommandOutput client(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"-s", agent_->socket()});
    return AgentProcess::client(args, input);
  }

  std::string dir_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(AgentTest, ClientCallsVerbsAndReportsErrors) {
  startAgent();
  CommandOutput r = client({"Host", "ping"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "{}\n");

  r = client({"--flow-id", "trace-1234", "Host", "getCapabilities"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const Json::Value caps = parseLine(r.out);
  EXPECT_EQ(caps["agentVersion"].asString().empty(), false);
  bool listed = false;
  for (const auto& verb : caps["verbs"]) listed = listed || verb == "Host.abortJob";
  EXPECT_TRUE(listed);
  EXPECT_TRUE(caps["software"].isMember("libvirt"));
  EXPECT_NE(agent_->log().find("method=Host.getCapabilities id=1 flow=trace-1234 code=0"), std::string::npos);

  r = client({"Host", "abortJob", "jobId=01234567-89ab-cdef-0123-456789abcdef"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err.rfind("66: no such job", 0), 0u) << r.err;

  r = client({"Host", "getJobs", "jobIds=7"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err.rfind("-32602: invalid parameter 'jobIds'", 0), 0u) << r.err;

  r = client({"Host", "getJobs", "-f", "-"}, R"({"jobIds": []})");
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(parseLine(r.out)["jobs"].size(), 0u);

  r = client({"Host", "ping", "surprise=1"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("unknown parameter 'surprise'"), std::string::npos);
}

TEST_F(AgentTest, PersistentConnectionAnswersInOrder) {
  startAgent();
  RawConnection c(agent_->socket());
  ASSERT_TRUE(c.connected());
  // Pipelined: five requests in one write, a notification among them.
  std::string burst;
  for (int i = 1; i <= 3; ++i) {
    burst += R"({"jsonrpc":"2.0","method":"Host.getJobs","id":)" + std::to_string(i) + "}\n";
  }
  burst += R"({"jsonrpc":"2.0","method":"Host.ping"})"
           "\n";
  burst += R"({"jsonrpc":"2.0","method":"Host.getCapabilities","id":"four"})"
           "\n";
  burst += R"({"jsonrpc":"2.0","method":"Host.ping","id":5})"
           "\r\n";
  ASSERT_TRUE(c.send(burst));
  for (const Json::Value& expected :
       {Json::Value(1), Json::Value(2), Json::Value(3), Json::Value("four"), Json::Value(5)}) {
    const Json::Value reply = parseLine(c.readLine());
    EXPECT_EQ(reply["id"], expected);
    EXPECT_TRUE(reply.isMember("result")) << json::compact(reply);
  }
  // Errors do not end the connection.
  ASSERT_TRUE(c.send("{nonsense\n"));
  EXPECT_EQ(parseLine(c.readLine())["error"]["code"], -32700);
  ASSERT_TRUE(c.send(R"([{"jsonrpc":"2.0","method":"Host.ping","id":1},{"jsonrpc":"2.0","method":"No.such","id":2}])"
                     "\n"));
  const Json::Value batch = parseLine(c.readLine());
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[1]["error"]["code"], -32601);
  ASSERT_TRUE(c.send(kPing + "\n"));
  EXPECT_EQ(parseLine(c.readLine())["id"], 1);
}

TEST_F(AgentTest, TruncatedRequestGetsParseError) {
  startAgent();
  RawConnection c(agent_->socket());
  ASSERT_TRUE(c.send(R"({"jsonrpc":"2.0","method":"Host.pi)"));
  c.shutdownWrite();
  EXPECT_EQ(parseLine(c.readLine())["error"]["code"], -32700);
  EXPECT_TRUE(c.waitClosed(10s));
  RawConnection again(agent_->socket());
  ASSERT_TRUE(again.send(kPing + "\n"));
  EXPECT_TRUE(parseLine(again.readLine()).isMember("result"));
}

TEST_F(AgentTest, OversizedRequestIsRefusedAndAgentStaysUp) {
  startAgent();
  RawConnection c(agent_->socket());
  const std::string huge = R"({"jsonrpc":"2.0","method":"Host.ping","id":1,"pad":")" + std::string(2 << 20, 'x');
  c.send(huge);  // the agent may close before it has read everything
  const Json::Value reply = parseLine(c.readLine());
  EXPECT_EQ(reply["error"]["code"], -32600);
  EXPECT_NE(reply["error"]["message"].asString().find("exceeds"), std::string::npos);
  EXPECT_TRUE(c.waitClosed(10s));
  RawConnection again(agent_->socket());
  ASSERT_TRUE(again.send(kPing + "\n"));
  EXPECT_TRUE(parseLine(again.readLine()).isMember("result"));
}

TEST_F(AgentTest, HostileRequestsGetErrorsAndTheAgentStaysUp) {
  startAgent();
  auto ask = [&](const std::string& request) {
    RawConnection c(agent_->socket());
    EXPECT_TRUE(c.send(request + "\n"));
    return parseLine(c.readLine());
  };
  // Nested deeper than any request needs.
  const std::string deep = R"({"jsonrpc":"2.0","method":"Host.ping","id":1,"params":{"x":)" + std::string(5000, '[') +
                           std::string(5000, ']') + "}}";
  const Json::Value nested = ask(deep);
  EXPECT_EQ(nested["error"]["code"], -32700) << nested.toStyledString();
  // A long string where the schema has a pattern.
  const Json::Value longName = ask(R"({"jsonrpc":"2.0","method":"GlusterVolume.geoRepConfigList","id":2,"params":)"
                                   R"({"volumeName":")" +
                                   std::string(200000, 'a') + R"(","remoteHost":"h","remoteVolumeName":"v"}})");
  EXPECT_EQ(longName["error"]["code"], -32602) << longName["error"].toStyledString();
  EXPECT_EQ(longName["error"]["data"]["param"], "volumeName");
  // An integer far outside what the parameter holds.
  const Json::Value huge = ask(R"({"jsonrpc":"2.0","method":"VM.merge","id":3,"params":)"
                               R"({"vmID":"01234567-89ab-cdef-0123-456789abcdef","drive":"vda","bandwidth":1e300}})");
  EXPECT_EQ(huge["error"]["code"], -32602) << huge["error"].toStyledString();
  // Still serving.
  EXPECT_TRUE(ask(kPing).isMember("result"));
  EXPECT_TRUE(agent_->running());
}

// Out of descriptors, accept() fails at once every time it is called: the
// loop must pause, not spin writing a log line per attempt (it wrote about
// a million lines in seconds), and serve again once descriptors are free.
TEST_F(AgentTest, OutOfDescriptorsTheAcceptLoopPausesInsteadOfSpinning) {
  startAgent();
  const CommandResult limited = runCommand({"prlimit", "--pid", std::to_string(agent_->pid()), "--nofile=48:48"}, 10s);
  ASSERT_EQ(limited.exitCode, 0) << limited.err;
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 80; ++i) held.push_back(std::make_unique<RawConnection>(agent_->socket()));
  std::this_thread::sleep_for(3s);
  auto acceptErrors = [&] {
    const std::string log = agent_->log();
    size_t n = 0;
    for (size_t at = log.find("unix accept:"); at != std::string::npos; at = log.find("unix accept:", at + 1)) ++n;
    return n;
  };
  const size_t errors = acceptErrors();
  std::printf("out of descriptors: %zu accept errors logged in 3 s\n", errors);
  EXPECT_GT(errors, 0u) << "the descriptor limit was never reached";
  EXPECT_LT(errors, 30u) << "the accept loop spun";  // pauses of 50 ms doubling to 1 s: about 7 in 3 s
  held.clear();
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    served = client({"Host", "ping"}).exitCode == 0;
    if (!served) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(served) << "not serving once descriptors were free";
  EXPECT_EQ(agent_->terminate(), 0);
}

TEST_F(AgentTest, TwoHundredConcurrentClients) {
  startAgent({"--workers", "2", "--queue", "8"});
  constexpr int kClients = 200;
  std::atomic<int> results{0}, busy{0}, other{0};
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      RawConnection c(agent_->socket());
      if (!c.connected()) {
        ++other;
        return;
      }
      while (!go) std::this_thread::yield();
      // A worker-bound verb and an inline one, in one write.
      c.send(R"({"jsonrpc":"2.0","method":"Host.getCapabilities","id":)" + std::to_string(i) + "}\n" + kPing + "\n");
      for (int k = 0; k < 2; ++k) {
        const auto reply = json::parse(c.readLine());
        if (reply && reply->isMember("result")) {
          ++results;
        } else if (reply && (*reply)["error"]["code"] == 1100) {
          ++busy;
        } else {
          ++other;
        }
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(results + busy, 2 * kClients);
  EXPECT_GE(results, kClients);  // every ping at least
  const long rss = agent_->peakRssKiB();
  RecordProperty("peak_rss_kib", std::to_string(rss));
  std::printf("200 clients: %d results, %d busy, agent peak RSS %ld KiB\n", results.load(), busy.load(), rss);
  EXPECT_GT(rss, 0);
#if defined(__SANITIZE_ADDRESS__)
  // The sanitized build (scripts/sanitize): ASan's shadow memory and
  // quarantine come on top; the 32 MiB bound is the plain build's.
  EXPECT_LT(rss, 128 * 1024);
#else
  EXPECT_LT(rss, 32 * 1024);
#endif
  RawConnection after(agent_->socket());
  ASSERT_TRUE(after.send(kPing + "\n"));
  EXPECT_TRUE(parseLine(after.readLine()).isMember("result"));
}

TEST_F(AgentTest, SigtermFinishesTheRequestInFlight) {
  // A stand-in libvirtd whose --version takes 2 s keeps getCapabilities
  // running while the agent is told to stop.
  const std::string bin = dir_ + "/bin";
  fs::create_directories(bin);
  std::ofstream(bin + "/libvirtd") << "#!/bin/sh\nsleep 2\necho 'libvirtd (libvirt) 9.0.0'\n";
  fs::permissions(bin + "/libvirtd", fs::perms::owner_all);
  startAgent({"--log-level", "debug"}, bin);

  RawConnection c(agent_->socket());
  ASSERT_TRUE(c.send(R"({"jsonrpc":"2.0","method":"Host.getCapabilities","id":7})"
                     "\n"));
  for (int i = 0; i < 500 && agent_->log().find("begin method=Host.getCapabilities") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(agent_->log().find("begin method=Host.getCapabilities"), std::string::npos);
  const pid_t pid = agent_->pid();
  ::kill(pid, SIGTERM);
  const Json::Value reply = parseLine(c.readLine());
  EXPECT_EQ(reply["id"], 7);
  EXPECT_EQ(reply["result"]["software"]["libvirt"], "9.0.0");
  EXPECT_EQ(agent_->waitExit(), 0);
  const std::string log = agent_->log();
  EXPECT_LT(log.find("shutting down"), log.find("call method=Host.getCapabilities id=7"));
  EXPECT_FALSE(fs::exists(agent_->socket()));
}

// GlusterHost.geoRepKeysUpdate refuses, before writing anything, a user the
// agent was not told of and a key without a forced command.
TEST_F(AgentTest, GeoRepKeysAreRefusedForOtherUsersAndWithoutAForcedCommand) {
  startAgent();
  const std::string key =
      "command=\\\"/usr/lib/x86_64-linux-gnu/glusterfs/gsyncd\\\" ssh-rsa "
      "AAAAB3NzaC1yc2EAAAADAQABAAABAQDkV1node1gsyncdKeyForTheLab0123 root@node1";
  CommandOutput r = client({"GlusterHost", "geoRepKeysUpdate", "userName=daemon", "geoRepPubKeys=[\"" + key + "\"]"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("3105: 'daemon' is not in georep_key_users", 0), 0u) << r.err;
  r = client({"GlusterHost", "geoRepKeysUpdate", "userName=root",
              "geoRepPubKeys=[\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorsOwnKey0123456789 a@b\"]"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("3104: geoRepPubKeys[0]: no forced command", 0), 0u) << r.err;
}

// GlusterHost.geoRepMountBrokerSetup checks its user and group before
// gluster's peer script changes anything: a user the agent was not told
// of, root, a group that does not exist.
TEST_F(AgentTest, MountBrokerSetupRefusesOtherUsersRootAndAMissingGroup) {
  startAgent();
  CommandOutput r = client({"GlusterHost", "geoRepMountBrokerSetup", "remoteUserName=daemon",
                            "remoteGroupName=daemon", "remoteVolumeName=vmstore-dr"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("3105: 'daemon' is not in georep_key_users", 0), 0u) << r.err;
  r = client({"GlusterHost", "geoRepMountBrokerSetup", "remoteUserName=root", "remoteGroupName=root",
              "remoteVolumeName=vmstore-dr"});
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("91: root logs in without the mount broker", 0), 0u) << r.err;
}

std::string writeJob(const std::string& stateDir, const std::string& type, const std::string& state,
                     std::optional<std::int64_t> endTime) {
  JobRecord r;
  r.id = JobStore::newId();
  r.type = type;
  r.state = state;
  r.progress = 30;
  r.startTime = nowSeconds() - 60;
  r.endTime = endTime;
  r.details["drive"] = "vda";
  fs::create_directories(stateDir + "/jobs");
  std::ofstream(stateDir + "/jobs/" + r.id + ".json") << json::pretty(r.toStored());
  return r.id;
}

TEST_F(AgentTest, JobsSurviveRestarts) {
  const std::string done = writeJob(agent_->stateDir(), "merge", "DONE", nowSeconds() - 5);
  const std::string orphan = writeJob(agent_->stateDir(), "test.unknown-type", "COMMIT", std::nullopt);
  startAgent();
  auto jobs = [&] {
    CommandOutput r = client({"Host", "getJobs"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return parseLine(r.out)["jobs"];
  };
  Json::Value listed = jobs();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[done]["state"], "DONE");
  EXPECT_EQ(listed[done]["drive"], "vda");
  EXPECT_EQ(listed[orphan]["state"], "FAILED");
  EXPECT_NE(listed[orphan]["error"]["message"].asString().find("test.unknown-type"), std::string::npos);

  CommandOutput r = client({"Host", "abortJob", "jobId=" + done});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err.rfind(std::to_string(int(gdr::Code::JobNotActive)) + ": ", 0), 0u) << r.err;

  EXPECT_EQ(agent_->terminate(), 0);
  startAgent();
  listed = jobs();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[orphan]["state"], "FAILED");
  agent_->kill9();
  startAgent();  // replaces the stale socket left by kill -9
  EXPECT_EQ(jobs().size(), 2u);
  r = client({"Host", "getJobs", "jobIds=[\"" + done + "\"]"});
  EXPECT_EQ(parseLine(r.out)["jobs"].size(), 1u);
}

TEST_F(AgentTest, RefusesASocketAnotherAgentServes) {
  startAgent();
  const CommandResult second = runCommand({std::string(GDR_BIN_DIR) + "/gdr-agent", "--config", "/dev/null", "--listen",
                                           "unix:" + agent_->socket(), "--state-dir", dir_ + "/state2"},
                                          30s);
  EXPECT_EQ(second.exitCode, 1);
  EXPECT_NE(second.err.find("another agent is listening"), std::string::npos) << second.err;
  EXPECT_EQ(client({"Host", "ping"}).exitCode, 0);  // the first one is untouched
}

int freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A client identity for mutual TLS: its certificate and key (empty: none).
struct ClientCert {
  std::string cert, key;
};

// One POST with libcurl: {HTTP status, body}.
std::pair<long, std::string> post(const std::string& url, const std::string& cafile, const ClientCert& client,
                                  const std::vector<std::string>& headerLines, const std::string& body) {
  CURL* curl = curl_easy_init();
  std::string reply;
  curl_slist* headers = nullptr;
  for (const auto& line : headerLines) headers = curl_slist_append(headers, line.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO, cafile.c_str());
  if (!client.cert.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, client.cert.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, client.key.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) {
        static_cast<std::string*>(out)->append(data, size * n);
        return size * n;
      });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return {status, reply};
}

// scripts/pki into `dir`: a CA, the agent's certificate, and clients.
void makePki(const std::string& dir, const std::vector<std::string>& clients) {
  std::vector<std::string> argv = {std::string(GDR_SOURCE_DIR) + "/scripts/pki", dir};
  argv.insert(argv.end(), clients.begin(), clients.end());
  const CommandResult made = runCommand(argv, 60s);
  ASSERT_EQ(made.exitCode, 0) << made.out << made.err;
}

// Seconds until the agent closes a TCP connection that sends nothing.
double secondsUntilClosed(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto begin = std::chrono::steady_clock::now();
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  timeval limit{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  // The agent may say goodbye first (a TLS alert); then it closes.
  char bytes[256];
  ssize_t n;
  while ((n = ::recv(fd, bytes, sizeof bytes, 0)) > 0) {
  }
  const bool closed = n == 0 || errno == ECONNRESET;
  ::close(fd);
  if (!closed) return -1;  // still open after 30 s
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
}

TEST_F(AgentTest, HttpsNeedsAVerifiedAllowedClientCertificate) {
  const std::string pki = dir_ + "/pki", other = dir_ + "/other-pki";
  makePki(pki, {"gdr-engine", "intruder"});
  makePki(other, {"gdr-engine"});  // same name, another CA
  const std::string ca = pki + "/ca.crt";
  const ClientCert engine{pki + "/gdr-engine.crt", pki + "/gdr-engine.key"};
  const ClientCert intruder{pki + "/intruder.crt", pki + "/intruder.key"};
  const ClientCert forged{other + "/gdr-engine.crt", other + "/gdr-engine.key"};
  const int portNumber = freeLoopbackPort();
  const std::string port = std::to_string(portNumber);
  startAgent({"--listen", "https://127.0.0.1:" + port, "--tls-cert", pki + "/agent.crt", "--tls-key",
              pki + "/agent.key", "--tls-ca", ca, "--tls-allowed-clients", "gdr-engine, gdr-sync", "--idle-timeout",
              "2"});
  auto https = [&](const ClientCert& who, std::vector<std::string> args) {
    std::vector<std::string> argv = {"-H", "127.0.0.1", "-p", port, "--cafile", ca};
    if (!who.cert.empty()) argv.insert(argv.end(), {"--cert", who.cert, "--key", who.key});
    argv.insert(argv.end(), args.begin(), args.end());
    return AgentProcess::client(argv);
  };

  CommandOutput r = https(engine, {"--flow-id", "https-flow", "Host", "getJobs"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(parseLine(r.out).isMember("jobs"));
  EXPECT_NE(agent_->log().find("flow=https-flow"), std::string::npos);
  r = https(engine, {"Host", "abortJob", "jobId=x"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err.rfind("66: ", 0), 0u) << r.err;

  // No certificate, one from another CA, one of the CA not on the list:
  // refused before any verb runs, saying why.
  for (const auto& [who, why] : std::vector<std::pair<ClientCert, std::string>>{
           {ClientCert{}, "no client certificate"},
           {forged, "not verified"},
           {intruder, "CN=intruder, SAN=[] is not in tls_allowed_clients"}}) {
    r = https(who, {"Host", "ping"});
    EXPECT_EQ(r.exitCode, 1) << why << r.out << r.err;
    EXPECT_EQ(r.err.rfind("1103: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
  // The agent's certificate is checked too: a client that does not trust
  // its CA does not connect.
  r = AgentProcess::client({"-H", "127.0.0.1", "-p", port, "--cafile", other + "/ca.crt", "--cert", engine.cert,
                            "--key", engine.key, "Host", "ping"});
  EXPECT_EQ(r.exitCode, 3) << r.out << r.err;
  // Unless it skips that check on purpose; its own certificate still counts.
  r = AgentProcess::client({"-H", "127.0.0.1", "-p", port, "--insecure", "--cert", engine.cert, "--key", engine.key,
                            "Host", "getCapabilities"});
  EXPECT_EQ(r.exitCode, 0) << r.err;

  // Only TLS 1.2+, forward-secret and AEAD: old versions, static RSA key
  // exchange and CBC-SHA1 suites are refused at the handshake.
  auto handshake = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"openssl", "s_client",  "-connect", "127.0.0.1:" + port, "-CAfile", ca,
                                     "-cert",   engine.cert, "-key",     engine.key};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return runCommand(argv, 20s);
  };
  EXPECT_EQ(handshake({"-tls1_2"}).exitCode, 0);
  EXPECT_NE(handshake({"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}).exitCode, 0);
  EXPECT_NE(handshake({"-tls1_2", "-cipher", "AES128-GCM-SHA256"}).exitCode, 0);       // static RSA
  EXPECT_NE(handshake({"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"}).exitCode, 0);  // CBC with SHA-1

  const std::string url = "https://127.0.0.1:" + port + "/";
  const std::string ping = R"({"jsonrpc":"2.0","method":"Host.ping","id":1})";
  // A body that is not declared JSON is not run (a browser may send
  // text/plain across origins without asking first), nor is anything a
  // browser sends from another origin.
  auto [status, body] = post(url, ca, engine, {"Content-Type: text/plain"}, ping);
  EXPECT_EQ(status, 415);
  EXPECT_NE(body.find("Content-Type must be application/json"), std::string::npos) << body;
  std::tie(status, body) = post(url, ca, engine, {"Content-Type: application/json", "Origin: http://127.0.0.1"}, ping);
  EXPECT_EQ(status, 403);
  EXPECT_NE(body.find("cross-origin"), std::string::npos) << body;
  EXPECT_EQ(post(url, ca, engine, {"Content-Type: application/json"}, ping).first, 200);
  // A declared length over the limit is refused before the body is read.
  std::tie(status, body) =
      post(url, ca, engine, {"Content-Type: application/json", "Content-Length: 4000000000"}, "{}");
  EXPECT_EQ(status, 413) << body;

  // A connection that sends nothing (not even a TLS hello) is closed after
  // the idle timeout, on both transports; the agent still serves others.
  const double httpsIdle = secondsUntilClosed(portNumber);
  EXPECT_GE(httpsIdle, 1.0);
  EXPECT_LT(httpsIdle, 10.0);
  const int idle = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un unixAddr{};
  unixAddr.sun_family = AF_UNIX;
  std::snprintf(unixAddr.sun_path, sizeof unixAddr.sun_path, "%s", agent_->socket().c_str());
  ASSERT_EQ(::connect(idle, reinterpret_cast<sockaddr*>(&unixAddr), sizeof unixAddr), 0);
  ASSERT_EQ(::send(idle, "{\"jsonrpc\"", 11, 0), 11);  // half a request, then silence
  timeval limit{30, 0};
  ::setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  const auto begin = std::chrono::steady_clock::now();
  char byte;
  EXPECT_EQ(::recv(idle, &byte, 1, 0), 0);
  const double unixIdle = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  ::close(idle);
  EXPECT_LT(unixIdle, 10.0);
  EXPECT_NE(agent_->log().find("idle for 2s"), std::string::npos);
  EXPECT_EQ(client({"Host", "ping"}).exitCode, 0);
  EXPECT_EQ(agent_->terminate(), 0);
}

// A call over HTTPS still running past the shutdown grace (libvirtd's
// --version hangs) gets "the agent is stopping" (1101), and the agent
// exits cleanly: libmicrohttpd aborts the process when it stops with a
// connection still waiting for its reply.
TEST_F(AgentTest, AnHttpsCallStillRunningAtShutdownIsToldTheAgentStops) {
  const std::string bin = dir_ + "/bin", pki = dir_ + "/pki";
  fs::create_directories(bin);
  std::ofstream(bin + "/libvirtd") << "#!/bin/sh\nexec sleep 30\n";
  fs::permissions(bin + "/libvirtd", fs::perms::owner_all);
  std::ofstream(dir_ + "/agent.conf") << "shutdown_grace = 1\n";
  makePki(pki, {"gdr-engine"});
  const std::string port = std::to_string(freeLoopbackPort());
  startAgent({"--config", dir_ + "/agent.conf", "--listen", "https://127.0.0.1:" + port, "--tls-cert",
              pki + "/agent.crt", "--tls-key", pki + "/agent.key", "--tls-ca", pki + "/ca.crt", "--tls-allowed-clients",
              "gdr-engine", "--log-level", "debug"},
             bin);
  CommandOutput r;
  std::thread call([&] {
    r = AgentProcess::client({"-H", "127.0.0.1", "-p", port, "--cafile", pki + "/ca.crt", "--cert",
                              pki + "/gdr-engine.crt", "--key", pki + "/gdr-engine.key", "Host", "getCapabilities"});
  });
  for (int i = 0; i < 500 && agent_->log().find("begin method=Host.getCapabilities") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(agent_->log().find("begin method=Host.getCapabilities"), std::string::npos) << agent_->log();
  const auto stopped = std::chrono::steady_clock::now();
  EXPECT_EQ(agent_->terminate(), 0) << agent_->log();
  call.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 20s);
  EXPECT_EQ(r.exitCode, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("1101: ", 0), 0u) << r.err;
}

TEST_F(AgentTest, AnHttpsListenerWithoutClientAuthenticationRefusesToStart) {
  const std::string pki = dir_ + "/pki";
  makePki(pki, {"gdr-engine"});
  std::string error;
  EXPECT_FALSE(agent_->start({"--listen", "https://127.0.0.1:" + std::to_string(freeLoopbackPort()), "--tls-cert",
                              pki + "/agent.crt", "--tls-key", pki + "/agent.key", "--tls-ca", pki + "/ca.crt"},
                             &error));
  EXPECT_NE(agent_->log().find("does not serve unauthenticated callers"), std::string::npos) << agent_->log();
}

TEST_F(AgentTest, AnHttpsListenerWithoutACertificateRefusesToStart) {
  std::string error;
  // tls_cert and tls_key set empty: this once served plain HTTP.
  EXPECT_FALSE(agent_->start(
      {"--listen", "https://127.0.0.1:" + std::to_string(freeLoopbackPort()), "--tls-cert", "", "--tls-key", ""},
      &error));
  EXPECT_NE(agent_->log().find("needs a certificate and its key"), std::string::npos) << agent_->log();
}

}  // namespace
}  // namespace gdr::testing

namespace gdr::testing {
namespace {

TEST(AgentLogs, SighupReopensTheLogFile) {
  const std::string dir = makeTempDir("gdr-functional-log");
  AgentProcess agent(dir);
  const std::string log = dir + "/gdr.log";
  std::string error;
  ASSERT_TRUE(agent.start({"--log-file", log}, &error)) << error;
  ASSERT_EQ(AgentProcess::client({"-s", agent.socket(), "Host", "ping"}).exitCode, 0);
  std::filesystem::rename(log, log + ".1");  // what logrotate does
  ::kill(agent.pid(), SIGHUP);
  for (int i = 0; i < 200 && !std::filesystem::exists(log); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(std::filesystem::exists(log));
  ASSERT_EQ(AgentProcess::client({"-s", agent.socket(), "--flow-id", "after-hup", "Host", "getJobs"}).exitCode, 0);
  EXPECT_EQ(agent.terminate(), 0);  // flushes
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("flow=after-hup"), std::string::npos) << text.str();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gdr::testing
