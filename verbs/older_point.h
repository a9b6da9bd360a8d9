#pragma once
// A VM a recovery point lacks (its host did not answer that cycle) is
// recovered from an older point: the newest one that holds it sealed with
// its own files intact. Another VM's problems there do not matter (later
// cycles rewrote that VM's files, not this one's). Shared by the drill and
// the failover, which both recover every VM the operator protected.
#include <functional>
#include <optional>
#include <string>

#include "api/recovery_point.h"

namespace gdr {

struct OlderPointVm {
  std::string pointId;
  api::PointVm vm;  // as that point's manifest names it
};

// The newest point older than `newerThan` in `points` (newest first) that
// holds `missing` whole; `manifestOf` reads a point's manifest. Without
// one, nullopt and `why`: each point that holds the VM and what keeps it
// out, newest first, or that no older point holds it.
std::optional<OlderPointVm> olderPointHolding(
    const api::PointListResult& points, const std::string& newerThan, const api::PointMissingVm& missing,
    const std::function<api::PointManifest(const std::string& pointId)>& manifestOf, std::string& why);

}  // namespace gdr
