#include "virt/merge_plan.h"

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
  spec.base = params.baseVolume.value_or(*disk->backing());
  if (spec.top != disk->path) {
    data["activeLayer"] = disk->path;
    throw AgentError(Code::InvalidParameter, "topVolume " + spec.top + " is not the active layer of " + spec.drive,
                     data);
  }
  if (spec.base != *disk->backing()) {
    data["backing"] = *disk->backing();
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
