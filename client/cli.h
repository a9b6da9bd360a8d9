#pragma once
// gdr-client's command line, kept apart from main() so tests can drive it.
#include <iosfwd>
#include <string>
#include <vector>

namespace gdr::client {

// Exit codes, distinct per failure kind so scripts can tell them apart.
enum ExitCode : int {
  kExitOk = 0,
  kExitVerbError = 1,   // the agent answered with an error
  kExitUsage = 2,       // bad command line
  kExitConnection = 3,  // agent unreachable, connection lost, timeout
  kExitProtocol = 4,    // the reply was not valid JSON-RPC
};

int runCli(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);

// Help texts, generated from the verb schema.
std::string usageText();
std::string namespaceHelp(const std::string& ns);   // empty if unknown
std::string verbHelp(const std::string& method);    // empty if unknown

}  // namespace gdr::client
