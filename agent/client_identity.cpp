#include "agent/client_identity.h"

#include <algorithm>

#include "core/json_util.h"

namespace gdr {

bool clientAllowed(const ClientIdentity& identity, const std::vector<std::string>& allowed) {
  auto listed = [&](const std::string& name) {
    return !name.empty() && std::find(allowed.begin(), allowed.end(), name) != allowed.end();
  };
  if (listed(identity.commonName)) return true;
  return std::any_of(identity.altNames.begin(), identity.altNames.end(), listed);
}

std::string describe(const ClientIdentity& identity) {
  std::string out = "CN=" + json::printable(identity.commonName, 80) + ", SAN=[";
  for (size_t i = 0; i < identity.altNames.size() && i < 8; ++i) {
    if (i) out += ", ";
    out += json::printable(identity.altNames[i], 80);
  }
  if (identity.altNames.size() > 8) out += ", ...";
  return out + "]";
}

}  // namespace gdr
