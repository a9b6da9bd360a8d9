// VM.*: snapshots and live merges of running VMs.
#include <filesystem>

#include "api/vm.h"
#include "core/errors.h"
#include "core/job_store.h"
#include "verbs/all_verbs.h"
#include "virt/domain_xml.h"
#include "virt/gluster_mounts.h"
#include "virt/merge_job.h"
#include "virt/merge_plan.h"
#include "virt/snapshot.h"
#include "virt/vm_activity.h"

namespace gdr {

namespace {

// After a successful pivot: the merged overlay is no longer in any chain.
void removeMergedTop(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(fs::symlink_status(path, ec))) fs::remove(path, ec);
  if (ec) throw AgentError(Code::MergeFailed, "merged, but cannot remove " + path + ": " + ec.message());
}

class VmVerbs {
 public:
  explicit VmVerbs(AgentServices& services)
      : services_(services), hypervisor_(services.hypervisor), activity_(services.vmActivity) {
    tuning_.pivotDelay = services.mergePivotDelay;
    services.jobs.registerType(api::kMergeJobType, [this](const JobRecord& record) {
      const virt::MergeSpec spec = virt::MergeSpec::fromDetails(record.details);
      activity_.beginMerge(spec.vmId, spec.drive, record.id);  // the drive is claimed again
      return makeRunner();
    });
  }

  api::SnapshotResult snapshot(const api::SnapshotParams& p) {
    auto domain = hypervisor_.lookup(p.vmId);
    virt::SnapshotRequest request;
    request.quiesce = p.quiesce;
    request.requireQuiesce = p.requireQuiesce;
    std::vector<std::string> named;
    if (p.snapDrives) {
      request.drives.emplace();
      for (const auto& d : *p.snapDrives) {
        request.drives->push_back({d.name, d.overlayPath.value_or("")});
        if (d.overlayPath) named.push_back(*d.overlayPath);
      }
    }
    activity_.beginSnapshot(p.vmId, named);
    try {
      api::SnapshotResult out = virt::takeSnapshot(*domain, request, virt::LocalFiles::real());
      activity_.endSnapshot(p.vmId);
      // Where each overlay is on gluster, so no caller has to work it out.
      const auto mounts = virt::readGlusterMounts();
      for (auto& disk : out.disks) {
        if (auto at = virt::locateOnVolume(mounts, disk.top)) disk.topOnVolume = api::VolumePath{at->volume, at->path};
      }
      return out;
    } catch (...) {
      activity_.endSnapshot(p.vmId);
      throw;
    }
  }

  api::JobStarted merge(const api::MergeParams& p) {
    auto domain = hypervisor_.lookup(p.vmId);
    const virt::DomainInfo info = virt::parseDomainXml(domain->xml());
    const bool blockJob = info.disk(p.drive) && domain->blockJobInfo(p.drive).has_value();
    const virt::MergeSpec spec = virt::planMerge(info, domain->name(), p, blockJob);
    JobRecord record = virt::newMergeRecord(spec);
    record.id = p.jobUUID.value_or(JobStore::newId());
    activity_.beginMerge(spec.vmId, spec.drive, record.id);
    try {
      return {services_.jobs.start(record, makeRunner()).id};
    } catch (...) {
      activity_.endMerge(spec.vmId, spec.drive);
      throw;
    }
  }

 private:
  std::unique_ptr<virt::MergeJob> makeRunner() {
    return std::make_unique<virt::MergeJob>(hypervisor_, activity_, removeMergedTop, tuning_);
  }

  AgentServices& services_;
  virt::Hypervisor& hypervisor_;
  virt::VmActivity& activity_;
  virt::MergeTuning tuning_;
};

}  // namespace

void registerVmVerbs(Registry& registry, AgentServices& services) {
  auto verbs = std::make_shared<VmVerbs>(services);
  registry.add<api::VmSnapshot>([verbs](const auto& p, const CallContext&) { return verbs->snapshot(p); });
  registry.add<api::VmMerge>([verbs](const auto& p, const CallContext&) { return verbs->merge(p); });
}

}  // namespace gdr
