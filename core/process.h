#pragma once
// Runs an external program with a deadline and captures its output. The
// gluster CLI wrapper and the capability probes go through this.
#include <chrono>
#include <string>
#include <vector>

namespace gdr {

struct CommandResult {
  int exitCode = -1;      // the program's exit status; -1 if it did not exit normally
  bool timedOut = false;  // killed (SIGKILL, by pid) at the deadline
  bool spawnFailed = false;
  std::string out;
  std::string err;
};

// What a program gets besides its arguments: its standard input (none:
// /dev/null) and variables added to this process's environment.
struct CommandInput {
  std::string stdinText;
  std::vector<std::string> environment;  // "NAME=value"
};

// argv[0] is looked up in PATH. Output beyond `maxOutput` bytes per stream
// is dropped. Never throws for the program's failures; check the result.
// A program that does not read all of its input is not waited for: the
// rest is dropped when it closes its end.
CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         size_t maxOutput = 16 << 20, const CommandInput& input = {});

}  // namespace gdr
