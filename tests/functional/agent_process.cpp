#include "tests/functional/agent_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/process.h"

extern char** environ;

namespace gdr::testing {

std::string makeTempDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  if (!::mkdtemp(pattern.data())) return {};
  return pattern;
}

AgentProcess::AgentProcess(std::string dir) : dir_(std::move(dir)) {}

AgentProcess::~AgentProcess() {
  if (running()) kill9();
}

bool AgentProcess::start(const std::vector<std::string>& extraArgs, std::string* error,
                         const std::string& pathPrefix) {
  std::vector<std::string> args = {std::string(GDR_BIN_DIR) + "/gdr-agent",
                                   "--config",
                                   "/dev/null",
                                   "--listen",
                                   "unix:" + socket(),
                                   "--state-dir",
                                   stateDir(),
                                   "--log-file",
                                   "-",
                                   "--check-results",
                                   "yes"};
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, (dir_ + "/agent.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, (dir_ + "/agent.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "PATH=", 5) == 0 && !pathPrefix.empty()) {
      env.push_back("PATH=" + pathPrefix + ":" + (*e + 5));
    } else {
      env.push_back(*e);
    }
  }
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (error) *error = std::string("spawn: ") + strerror(rc);
    pid_ = -1;
    return false;
  }
  for (int i = 0; i < 500; ++i) {
    if (!running()) break;
    RawConnection probe(socket());
    if (probe.connected() && probe.send("{\"jsonrpc\":\"2.0\",\"method\":\"Host.ping\",\"id\":0}\n") &&
        probe.readLine(std::chrono::seconds(5)).find("\"result\"") != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (error) *error = "agent did not come up; log:\n" + log();
  return false;
}

bool AgentProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int AgentProcess::terminate(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return waitExit(timeout);
}

int AgentProcess::waitExit(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

void AgentProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string AgentProcess::log() const {
  std::ifstream in(dir_ + "/agent.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

long AgentProcess::peakRssKiB() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

CommandOutput AgentProcess::client(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv = {"sh", "-c", "exec \"$0\" \"$@\"" + std::string(input.empty() ? "" : " <\"$GDR_STDIN\""),
                                   std::string(GDR_BIN_DIR) + "/gdr-client"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string stdinFile;
  if (!input.empty()) {
    stdinFile = makeTempDir("gdr-client-in") + "/in";
    std::ofstream(stdinFile) << input;
    ::setenv("GDR_STDIN", stdinFile.c_str(), 1);
  }
  const CommandResult r = runCommand(argv, std::chrono::seconds(60));
  return {r.exitCode, r.out, r.err};
}

RawConnection::RawConnection(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += n;
  }
  return true;
}

void RawConnection::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

std::string RawConnection::readLine(std::chrono::milliseconds timeout, bool* closed) {
  if (closed) *closed = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, int(left.count())) <= 0) break;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    pending_.append(buf, n);
  }
  if (closed) *closed = true;
  return {};
}

bool RawConnection::waitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, int(left.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

}  // namespace gdr::testing
