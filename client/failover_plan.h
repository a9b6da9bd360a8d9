#pragma once
// What gdr-sync failover decides before it asks the secondary's agent to
// act: whether the primary site is gone, and the mapping file. Pure.
#include <optional>
#include <string>
#include <vector>

#include "api/recovery.h"

namespace gdr::sync {

// One primary agent's answer to Host.ping.
struct PrimaryProbe {
  std::string agent;
  bool answered = false;
  std::string error;  // why not
};

// Why a failover must not go ahead, or nothing. Any primary agent that
// answers means the primary site may still run its VMs and geo-replicate:
// a failover now would run them at both sites (split brain). `force`: the
// operator declares the site gone anyway (the refusal becomes a warning).
std::optional<std::string> primaryRefusal(const std::vector<PrimaryProbe>& probes, bool force);

// The mapping file (JSON): {"networks": {FROM: TO}, "bridges": {FROM: TO},
// "paths": {FROM: TO}, "priority": {VM: N}}, every key optional. Throws
// std::invalid_argument naming what is wrong (an unknown key, a value that
// is not a string or an integer, a relative path).
api::FailoverMapping parseMapping(const std::string& text);

}  // namespace gdr::sync
