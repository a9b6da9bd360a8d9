#include "verbs/older_point.h"

#include <algorithm>

namespace gdr {

std::optional<OlderPointVm> olderPointHolding(
    const api::PointListResult& points, const std::string& newerThan, const api::PointMissingVm& missing,
    const std::function<api::PointManifest(const std::string& pointId)>& manifestOf, std::string& why) {
  std::string refused;
  why = "no recovery point older than " + newerThan + " holds it";
  for (const auto& summary : points.points) {  // newest first
    if (summary.id >= newerThan) continue;
    if (std::find(summary.vms.begin(), summary.vms.end(), missing.name) == summary.vms.end()) continue;
    const auto problem = std::find_if(summary.problems.begin(), summary.problems.end(),
                                      [&](const api::PointProblem& p) { return p.vm.empty() || p.vm == missing.name; });
    if (!summary.sealed || problem != summary.problems.end()) {
      refused += (refused.empty() ? "point " : "; point ") + summary.id + " holds it but " +
                 (summary.sealed ? problem->what + ": " + problem->why : std::string("is not sealed"));
      why = refused;
      continue;  // an older one may still hold it whole
    }
    const api::PointManifest manifest = manifestOf(summary.id);
    const auto vm = std::find_if(manifest.vms.begin(), manifest.vms.end(),
                                 [&](const api::PointVm& v) { return v.vmId == missing.vmId; });
    if (vm == manifest.vms.end()) continue;  // another VM of that name
    return OlderPointVm{summary.id, *vm};
  }
  return std::nullopt;
}

}  // namespace gdr
