// gdr-agent: the host agent for disaster recovery of VMs on GlusterFS.
#include <signal.h>

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/logging.h"

int main(int argc, char** argv) {
  gdr::AgentConfig config;
  try {
    std::string out;
    if (gdr::parseAgentArgs(argc, argv, config, out) == gdr::ParseOutcome::ExitOk) {
      std::cout << out;
      return 0;
    }
    gdr::logging::init(config.logFile, config.logLevel);
  } catch (const std::exception& e) {
    std::cerr << "gdr-agent: " << e.what() << "\n";
    return 2;
  }
  // A client that hangs up must not kill the agent.
  ::signal(SIGPIPE, SIG_IGN);
  int rc = 1;
  try {
    rc = gdr::runAgent(config);
  } catch (const std::exception& e) {
    spdlog::critical("gdr-agent: {}", e.what());
  }
  spdlog::shutdown();
  // Everything is persisted and flushed. libgfapi may still be inside a
  // slow glfs_fini on a thread of its own; exit without running static
  // destructors under its feet.
  std::_Exit(rc);
}
