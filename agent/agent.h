#pragma once
// The gdr-agent process: wires the job store, the verbs, the dispatcher,
// the worker pool and the listeners together, and runs until SIGTERM.
#include "agent/config.h"

namespace gdr {

// Returns the process exit code: 0 after a clean shutdown, 1 when a
// listener or the state dir could not be set up.
int runAgent(const AgentConfig& config);

}  // namespace gdr
