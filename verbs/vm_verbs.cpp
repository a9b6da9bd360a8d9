// VM.*: snapshots and live merges of running VMs; pause, resume, power off.
#include <filesystem>
#include <fstream>
#include <mutex>

#include "api/vm.h"
#include "core/durable_file.h"
#include "core/errors.h"
#include "core/job_store.h"
#include "core/sha256.h"
#include "verbs/all_verbs.h"
#include "virt/definition.h"
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

  // The definition goes through this host's mount of the volume: the same
  // path the VM's disks take, so it lands on the volume they are on.
  api::SaveDefinitionResult saveDefinition(const api::VmParams& p) {
    auto domain = hypervisor_.lookup(p.vmId);
    const auto mounts = virt::readGlusterMounts();
    const virt::RecoveryDefinition definition =
        virt::recoveryDefinition(domain->definitionXml(), virt::parseDomainXml(domain->xml()),
                                 [&](const std::string& path) { return virt::locateOnVolume(mounts, path); });
    const virt::VolumeLocation& home = definition.home();
    const std::string sha = sha256Hex(definition.xml);
    const std::string relative = virt::definitionPath(domain->uuid(), sha);
    const std::filesystem::path file = std::filesystem::path(home.mountPoint) / relative;
    try {
      // One writer at a time: two calls for one VM would share the temporary file.
      std::lock_guard<std::mutex> lock(definitionMutex_);
      makeDirectories(file.parent_path());  // every host saves its VMs at once
      // Named by its content: a file a point names is never rewritten
      // (geo-replication would replace it on the secondary, mid-sync,
      // before its bytes arrive); an unchanged definition is not written.
      std::error_code ec;
      const bool same = std::filesystem::file_size(file, ec) == definition.xml.size() && !ec && [&] {
        std::ifstream in(file, std::ios::binary);
        return sha256Hex(std::string(std::istreambuf_iterator<char>(in), {})) == sha;
      }();
      if (!same) {
        writeFileDurably(file, definition.xml, 0600);
      }
    } catch (const std::exception& e) {
      Json::Value data;
      data["path"] = file.string();
      throw AgentError(Code::DefinitionFailed, "cannot write the definition of " + domain->name() + ": " + e.what(),
                       data);
    }
    api::SaveDefinitionResult out;
    out.definition = {home.volume, relative};
    out.sha256 = sha;
    out.size = definition.xml.size();
    out.savedAt = nowSeconds();
    for (const auto& d : definition.disks) {
      out.disks.push_back({d.target, d.base, d.format, {d.location.volume, d.location.path}});
    }
    return out;
  }

  // Idempotent: a VM already paused is left paused (changed false).
  api::VmStateResult pause(const api::VmParams& p) {
    auto domain = runningDomain(p.vmId);
    api::VmStateResult out{domain->uuid(), domain->name(), "paused", false};
    if (!domain->paused()) {
      domain->suspend();
      out.changed = true;
    }
    return out;
  }

  api::VmStateResult cont(const api::VmParams& p) {
    auto domain = runningDomain(p.vmId);
    api::VmStateResult out{domain->uuid(), domain->name(), "running", false};
    if (domain->paused()) {
      domain->resume();
      out.changed = true;
    }
    return out;
  }

  // Powers the VM off at once; its definition stays. Only a paused VM
  // unless `force`: a guest that still writes would lose what it has not
  // flushed, and a paused one has nothing in flight.
  api::VmStateResult destroy(const api::DestroyParams& p) {
    auto domain = hypervisor_.lookup(p.vmId);
    api::VmStateResult out{domain->uuid(), domain->name(), "shut off", false};
    if (!domain->running()) return out;
    if (!domain->paused() && !p.force) {
      Json::Value data;
      data["vmId"] = domain->uuid();
      throw AgentError(Code::VMNotPaused,
                       "VM " + domain->name() + " is running: pause it first (VM.pause), or pass force; it runs on",
                       data);
    }
    domain->destroy();
    out.changed = true;
    return out;
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
  std::unique_ptr<virt::Domain> runningDomain(const std::string& vmId) {
    auto domain = hypervisor_.lookup(vmId);
    if (!domain->running()) {
      Json::Value data;
      data["vmId"] = vmId;
      throw AgentError(Code::NoSuchVM, "VM " + domain->name() + " is not running on this host", data);
    }
    return domain;
  }

  std::unique_ptr<virt::MergeJob> makeRunner() {
    return std::make_unique<virt::MergeJob>(hypervisor_, activity_, removeMergedTop, tuning_);
  }

  AgentServices& services_;
  virt::Hypervisor& hypervisor_;
  virt::VmActivity& activity_;
  virt::MergeTuning tuning_;
  std::mutex definitionMutex_;
};

}  // namespace

void registerVmVerbs(Registry& registry, AgentServices& services) {
  auto verbs = std::make_shared<VmVerbs>(services);
  registry.add<api::VmSnapshot>([verbs](const auto& p, const CallContext&) { return verbs->snapshot(p); });
  registry.add<api::VmSaveDefinition>([verbs](const auto& p, const CallContext&) { return verbs->saveDefinition(p); });
  registry.add<api::VmMerge>([verbs](const auto& p, const CallContext&) { return verbs->merge(p); });
  registry.add<api::VmPause>([verbs](const auto& p, const CallContext&) { return verbs->pause(p); });
  registry.add<api::VmCont>([verbs](const auto& p, const CallContext&) { return verbs->cont(p); });
  registry.add<api::VmDestroy>([verbs](const auto& p, const CallContext&) { return verbs->destroy(p); });
}

}  // namespace gdr
