// gdr-sync as a program: --every sleeps between cycles until SIGTERM, which
// ends it at once (taken by a sigwait thread, not a signal handler).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
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
  const pid_t pid = spawnSync(out, {"--hosts", "unix:" + (dir / "none.sock").string(), "--volume", "gdr-primary",
                                    "--secondary", "127.0.0.2::gdr-secondary", "--every", "1h", "--state-dir",
                                    (dir / "state").string()});
  ASSERT_GT(pid, 0);

  // The first cycle fails at discovery (no agent there) and prints its summary.
  for (int i = 0; i < 500 && readFile(out).find("DR cycle") == std::string::npos; ++i) std::this_thread::sleep_for(10ms);
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
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
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

  std::tie(code, out) = runSync(dir, {"check", "--state-dir", (dir / "state").string(), "--warning", "1m",
                                      "--critical", "5m"});
  EXPECT_EQ(code, 2) << out;

  std::tie(code, out) = runSync(dir, {"check", "--warning", "soon"});  // the plugin's own trouble: UNKNOWN
  EXPECT_EQ(code, 3) << out;
  EXPECT_EQ(out.rfind("GDR UNKNOWN - ", 0), 0u) << out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gdr::testing
