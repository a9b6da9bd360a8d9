// gdr-sync as a program: --every sleeps between cycles until SIGTERM, which
// ends it at once (taken by a sigwait thread, not a signal handler).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/uuid.h"

extern char** environ;

namespace gdr::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Starts gdr-sync with `args`, its standard output to `out`, its errors
// dropped; the child's pid, or -1.
pid_t spawnSync(const std::string& out, std::vector<std::string> args) {
  args.insert(args.begin(), std::string(GDR_BIN_DIR) + "/gdr-sync");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

TEST(GdrSync, SigtermEndsTheWaitBetweenCyclesAtOnce) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("gdr-sync-" + newUuid());
  fs::create_directories(dir);
  const std::string out = (dir / "out.txt").string();
  const pid_t pid =
      spawnSync(out, {"--hosts", "unix:" + (dir / "none.sock").string(), "--volume", "gdr-primary", "--secondary",
                      "127.0.0.2::gdr-secondary", "--every", "1h", "--state-dir", (dir / "state").string()});
  ASSERT_GT(pid, 0);

  // The first cycle fails at discovery (no agent there) and prints its summary.
  for (int i = 0; i < 500 && readFile(out).find("DR cycle") == std::string::npos; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_NE(readFile(out).find("DR cycle"), std::string::npos) << readFile(out);
  std::this_thread::sleep_for(100ms);  // now waiting for the next interval

  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() - signalled < 5s) {
    std::this_thread::sleep_for(10ms);
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL() << "gdr-sync did not stop within 5 s of SIGTERM";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);  // the cycle's outcome: failed before any snapshot
  EXPECT_EQ(readFile(out).find("DR cycle", readFile(out).find("DR cycle") + 1), std::string::npos)
      << "no second cycle was run";
  fs::remove_all(dir);
}

// Runs gdr-sync with `args` to the end; its exit code and what it printed.
std::pair<int, std::string> runSync(const fs::path& dir, const std::vector<std::string>& args) {
  const std::string out = (dir / "out.txt").string();
  const pid_t pid = spawnSync(out, args);
  if (pid <= 0) return {-1, ""};
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, readFile(out)};
}

// The monitoring plugin reads the reports a crashed or idle gdr-sync left.
TEST(GdrSync, CheckReadsTheKeptReports) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("gdr-sync-" + newUuid());
  fs::create_directories(dir / "state" / "reports");
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::ofstream(dir / "state" / "reports" / "20261202T120000Z-gdr-sync-1.json")
      << R"({"status": "success", "outcome": 0, "volume": "gdr-primary", "flowId": "gdr-sync-1", "vms": [], "recoveryPoint": )"
      << now - 600 << "}\n";
  const std::vector<std::string> check = {"check", "--state-dir", (dir / "state").string()};
  auto [code, out] = runSync(dir, check);
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out.rfind("GDR OK - volume gdr-primary: recovery point 10 min old | rpo=6", 0), 0u) << out;

  std::ofstream(dir / "state" / "reports" / "20261202T121000Z-gdr-sync-2.json")
      << R"({"status": "failed", "outcome": 1, "volume": "gdr-primary", "alert": "geo-replication failed: 3101", "vms": []})"
      << "\n";
  std::tie(code, out) = runSync(dir, check);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("the last cycle failed: geo-replication failed: 3101"), std::string::npos) << out;

  std::tie(code, out) =
      runSync(dir, {"check", "--state-dir", (dir / "state").string(), "--warning", "1m", "--critical", "5m"});
  EXPECT_EQ(code, 2) << out;

  std::tie(code, out) = runSync(dir, {"check", "--warning", "soon"});  // the plugin's own trouble: UNKNOWN
  EXPECT_EQ(code, 3) << out;
  EXPECT_EQ(out.rfind("GDR UNKNOWN - ", 0), 0u) << out;
  fs::remove_all(dir);
}

// Storage domains: two files in a config dir, their own state dirs. The
// cycles of one domain never overlap: while one gdr-sync holds it (here
// waiting between cycles), another is refused at once, changing nothing;
// the other domain runs meanwhile. `check` alone checks every domain.
TEST(GdrSync, DomainsRunApartAndOneDomainRunsOneCycleAtATime) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("gdr-sync-" + newUuid());
  fs::create_directories(dir / "sync.d");
  for (const std::string name : {"gold", "bronze"}) {
    std::ofstream(dir / "sync.d" / (name + ".conf"))
        << "hosts = unix:" << (dir / "none.sock").string() << "\nvolume = " << name
        << "\nsecondary = 127.0.0.2::" << name << "-dr\nstate_dir = " << (dir / name).string()
        << "\ntarget_rpo = 30m\ninterval = 1h\n";
    fs::permissions(dir / "sync.d" / (name + ".conf"), fs::perms::owner_read | fs::perms::owner_write);
  }
  const std::string configDir = (dir / "sync.d").string();
  const std::string out = (dir / "gold-every.txt").string();
  const pid_t holder = spawnSync(out, {"--config-dir", configDir, "--domain", "gold", "--every", "1h"});
  ASSERT_GT(holder, 0);
  for (int i = 0; i < 500 && readFile(out).find("DR cycle") == std::string::npos; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_NE(readFile(out).find("DR cycle"), std::string::npos) << readFile(out);
  auto reports = [&](const std::string& name) {
    std::error_code error;
    return std::distance(fs::directory_iterator(dir / name / "reports", error), fs::directory_iterator());
  };
  EXPECT_EQ(reports("gold"), 1);

  auto [code, text] = runSync(dir, {"--config-dir", configDir, "--domain", "gold"});
  EXPECT_EQ(code, 3) << text;
  EXPECT_EQ(text, "");  // no cycle, no summary
  EXPECT_EQ(reports("gold"), 1);
  std::tie(code, text) = runSync(dir, {"--config-dir", configDir, "--domain", "bronze"});
  EXPECT_EQ(code, 3) << text;  // no agent answers: failed before any snapshot
  EXPECT_NE(text.find("DR cycle"), std::string::npos) << text;
  EXPECT_EQ(reports("bronze"), 1);
  // --if-due: bronze's interval (1 h) has not passed since its cycle.
  std::tie(code, text) = runSync(dir, {"--config-dir", configDir, "--domain", "bronze", "--if-due"});
  EXPECT_EQ(code, 0) << text;
  EXPECT_EQ(text, "no cycle due (interval 60 min)\n");
  EXPECT_EQ(reports("bronze"), 1);

  ::kill(holder, SIGTERM);
  int status = 0;
  ::waitpid(holder, &status, 0);
  std::tie(code, text) = runSync(dir, {"--config-dir", configDir, "--domain", "gold"});
  EXPECT_EQ(code, 3) << text;
  EXPECT_NE(text.find("DR cycle"), std::string::npos) << text;  // the lock went with its holder
  EXPECT_EQ(reports("gold"), 2);

  std::tie(code, text) = runSync(dir, {"check", "--config-dir", configDir});
  EXPECT_EQ(code, 2) << text;
  EXPECT_EQ(text.rfind("GDR CRITICAL - 2 domains: bronze CRITICAL (no recovery point", 0), 0u) << text;
  EXPECT_NE(text.find("; gold CRITICAL (no recovery point"), std::string::npos) << text;
  std::tie(code, text) = runSync(dir, {"history", "--config-dir", configDir, "--domain", "gold", "--json"});
  EXPECT_EQ(code, 0) << text;
  EXPECT_NE(text.find("\"volume\": \"gold\""), std::string::npos) << text;
  fs::remove_all(dir);
}

// A webhook on loopback that answers `statuses` in turn (200 after them),
// keeping each request it got whole.
class WebhookListener {
 public:
  explicit WebhookListener(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~WebhookListener() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/gdr"; }
  std::vector<std::string> requests;

 private:
  void serve() {
    for (size_t n = 0;; ++n) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string request;
      char buf[65536];
      // Headers, then as many body bytes as Content-Length says.
      for (;;) {
        const ssize_t got = ::recv(c, buf, sizeof buf, 0);
        if (got <= 0) break;
        request.append(buf, size_t(got));
        const size_t end = request.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        const size_t at = request.find("Content-Length: ");
        const size_t length = at == std::string::npos ? 0 : std::stoul(request.substr(at + 16));
        if (request.size() >= end + 4 + length) break;
      }
      requests.push_back(request);
      const int status = n < statuses_.size() ? statuses_[n] : 200;
      const std::string reply =
          "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::vector<int> statuses_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// A cycle that fails (no agent answers): the alert reaches a real webhook
// on loopback (its first answer a 503, so the second attempt delivers it)
// and a command hook, with the bearer token and the report; gdr-sync's
// exit code stays the cycle's, and the report keeps the deliveries. A
// webhook that never answers 2xx is reported, and still changes nothing.
TEST(GdrSync, AFailedCycleAlertsAWebhookAndACommandHook) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("gdr-sync-" + newUuid());
  fs::create_directories(dir);
  std::ofstream(dir / "token") << "t0ken-123\n";
  WebhookListener hook({503});
  const std::string command = "cat > " + (dir / "hook-stdin.json").string() + "; echo \"$GDR_STATUS $GDR_OUTCOME\" > " +
                              (dir / "hook-env.txt").string();
  const std::vector<std::string> cycle = {"--hosts",
                                          "unix:" + (dir / "none.sock").string(),
                                          "--volume",
                                          "gdr-primary",
                                          "--secondary",
                                          "127.0.0.2::gdr-secondary",
                                          "--state-dir",
                                          (dir / "state").string(),
                                          "--json",
                                          "--alert-webhook",
                                          hook.url(),
                                          "--alert-token-file",
                                          (dir / "token").string(),
                                          "--alert-command",
                                          command};
  auto [code, out] = runSync(dir, cycle);
  EXPECT_EQ(code, 3) << out;  // failed before any snapshot, as without alerts
  ASSERT_EQ(hook.requests.size(), 2u);
  const std::string& request = hook.requests[1];
  EXPECT_EQ(request.rfind("POST /gdr HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Authorization: Bearer t0ken-123\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("Content-Type: application/json\r\n"), std::string::npos) << request;
  const std::string body = request.substr(request.find("\r\n\r\n") + 4);
  EXPECT_NE(body.find("\"status\": \"failed\""), std::string::npos) << body;
  EXPECT_EQ(readFile(dir / "hook-stdin.json"), body);
  EXPECT_EQ(readFile(dir / "hook-env.txt"), "failed 3\n");
  // The report printed and kept says who was told.
  EXPECT_NE(out.find("\"target\": \"webhook\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"attempts\": 2"), std::string::npos) << out;

  WebhookListener refusing({500, 500, 500});
  std::vector<std::string> again = cycle;
  again[again.size() - 5] = refusing.url();
  std::tie(code, out) = runSync(dir, again);
  EXPECT_EQ(code, 3) << out;
  EXPECT_EQ(refusing.requests.size(), 3u);
  EXPECT_NE(out.find("\"error\": \"HTTP status 500\""), std::string::npos) << out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gdr::testing
