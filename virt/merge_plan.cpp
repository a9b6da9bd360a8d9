#include "virt/merge_plan.h"

#include <algorithm>

#include "core/errors.h"

namespace gdr::virt {

MergeSpec planMerge(const DomainInfo& domain, const std::string& vmName, const api::MergeParams& params,
                    bool blockJobRunning) {
  Json::Value data;
  data["vmID"] = params.vmId;
  data["drive"] = params.drive;
  const DiskInfo* disk = domain.disk(params.drive);
  if (!disk) throw AgentError(Code::InvalidParameter, "VM " + vmName + " has no drive '" + params.drive + "'", data);
  if (!disk->backing()) {
    throw AgentError(Code::InvalidParameter,
                     "drive " + params.drive + " of VM " + vmName + " has no overlay to merge (" + disk->path +
                         " is its only image)",
                     data);
  }
  MergeSpec spec;
  spec.vmId = params.vmId;
  spec.drive = params.drive;
  spec.top = params.topVolume.value_or(disk->path);
  // The active layer (active commit, then pivot), or an image under it (a
  // plain commit: the VM stays on its active layer, and the image over the
  // top is backed by the base from then on).
  const auto at = std::find(disk->chain.begin(), disk->chain.end(), spec.top);
  const size_t depth = at == disk->chain.end() ? disk->chain.size() : size_t(at - disk->chain.begin());
  if (depth + 1 >= disk->chain.size()) {
    data["activeLayer"] = disk->path;
    throw AgentError(Code::InvalidParameter,
                     "topVolume " + spec.top + " is not an image of " + spec.drive + "'s chain above a base", data);
  }
  spec.active = depth == 0;
  const std::string& under = disk->chain[depth + 1];
  spec.base = params.baseVolume.value_or(under);
  if (spec.base != under) {
    data["backing"] = under;
    throw AgentError(Code::InvalidParameter, "baseVolume " + spec.base + " is not right under " + spec.top, data);
  }
  if (disk->mirror || blockJobRunning) {
    throw AgentError(Code::VMBusy, "drive " + spec.drive + " already has a block job", data);
  }
  spec.bandwidthMiB = params.bandwidth.value_or(0);
  spec.deleteTop = params.deleteTop;
  return spec;
}

}  // namespace gdr::virt
