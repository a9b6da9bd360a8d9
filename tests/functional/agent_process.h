#pragma once
// Starts the built gdr-agent as a child process for functional tests and
// stops it by pid. Its log (stderr) goes to a file the test can read.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace gdr::testing {

struct CommandOutput {
  int exitCode;
  std::string out, err;
};

class AgentProcess {
 public:
  // `dir` holds the socket, the state dir and the log.
  explicit AgentProcess(std::string dir);
  ~AgentProcess();  // SIGKILL by pid if still running

  // Starts the agent with the given extra flags and waits until it answers
  // on its socket. Returns false (with the log in `error`) otherwise.
  // `pathPrefix`, when set, is put in front of the agent's PATH (to give
  // it stand-in programs).
  bool start(const std::vector<std::string>& extraArgs = {}, std::string* error = nullptr,
             const std::string& pathPrefix = {});
  // SIGTERM, then waits; returns the exit status (or -1 on timeout).
  int terminate(std::chrono::seconds timeout = std::chrono::seconds(30));
  // Waits for the agent to exit on its own; its exit status or -1.
  int waitExit(std::chrono::seconds timeout = std::chrono::seconds(30));
  void kill9();
  bool running();

  pid_t pid() const { return pid_; }
  std::string socket() const { return dir_ + "/agent.sock"; }
  std::string stateDir() const { return dir_ + "/state"; }
  std::string log() const;
  // Peak resident set size (VmHWM) in KiB.
  long peakRssKiB() const;

  // Runs build/bin/gdr-client with `args`, stdin from `input`.
  static CommandOutput client(const std::vector<std::string>& args, const std::string& input = "");

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// One raw connection to a Unix socket, for tests of the wire format.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path);
  ~RawConnection();
  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  void shutdownWrite();
  // Reads one line (without '\n'); empty with `closed` set at EOF/timeout.
  std::string readLine(std::chrono::milliseconds timeout = std::chrono::seconds(30), bool* closed = nullptr);
  // True when the peer closed the connection (EOF) within `timeout`.
  bool waitClosed(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::string pending_;
};

std::string makeTempDir(const std::string& prefix);

}  // namespace gdr::testing
