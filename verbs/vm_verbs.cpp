// VM.*: snapshots and live merges of running VMs; and Host.getVMList.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/job_store.h"
#include "verbs/all_verbs.h"
#include "virt/domain_xml.h"
#include "virt/gluster_mounts.h"
#include "virt/merge_job.h"
#include "virt/snapshot.h"
#include "virt/vm_activity.h"

namespace gdr {

namespace {

Json::Value diskJson(const virt::DiskInfo& d, bool blockJob, const std::vector<virt::GlusterMount>& mounts) {
  Json::Value o;
  o["target"] = d.target;
  o["device"] = d.device;
  o["type"] = d.type;
  o["path"] = d.path;
  o["format"] = d.format;
  o["chain"] = Json::Value(Json::arrayValue);
  for (const auto& c : d.chain) o["chain"].append(c);
  o["blockJob"] = blockJob;
  // Where the disk lives on gluster, for the engine: volume and path.
  o["gluster"] = Json::Value();
  if (auto loc = virt::locateOnVolume(mounts, d.path)) {
    o["gluster"]["server"] = loc->server;
    o["gluster"]["volume"] = loc->volume;
    o["gluster"]["path"] = loc->path;
    o["gluster"]["chain"] = Json::Value(Json::arrayValue);
    for (const auto& c : d.chain) {
      auto cl = virt::locateOnVolume(mounts, c);
      o["gluster"]["chain"].append(cl && cl->volume == loc->volume ? Json::Value(cl->path) : Json::Value());
    }
  }
  if (d.mirror) {
    o["mirror"]["job"] = d.mirror->job;
    o["mirror"]["ready"] = d.mirror->ready;
  } else {
    o["mirror"] = Json::Value();
  }
  return o;
}

// After a successful pivot: the merged overlay is no longer in any chain.
void removeMergedTop(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(fs::symlink_status(path, ec))) fs::remove(path, ec);
  if (ec) throw AgentError(Code::MergeFailed, "merged, but cannot remove " + path + ": " + ec.message());
}

}  // namespace

void registerVmVerbs(Registry& registry, AgentServices& services) {
  virt::Hypervisor& hypervisor = services.hypervisor;
  virt::VmActivity& activity = services.vmActivity;

  registry.add("Host.getVMList", [&hypervisor](const Json::Value&, const CallContext&) {
    Json::Value out;
    out["vms"] = Json::Value(Json::arrayValue);
    std::ifstream procMounts("/proc/mounts");
    std::stringstream mountsText;
    mountsText << procMounts.rdbuf();
    const auto mounts = virt::parseGlusterMounts(mountsText.str());
    for (const auto& domain : hypervisor.runningDomains()) {
      const virt::DomainInfo info = virt::parseDomainXml(domain->xml());
      Json::Value vm;
      vm["vmId"] = domain->uuid();
      vm["name"] = domain->name();
      vm["state"] = domain->running() ? "running" : "stopped";
      vm["disks"] = Json::Value(Json::arrayValue);
      for (const auto& disk : info.disks) {
        bool job = false;
        if (disk.device == "disk") {
          try {
            job = domain->blockJobInfo(disk.target).has_value();
          } catch (const AgentError&) {
            job = disk.mirror.has_value();
          }
        }
        vm["disks"].append(diskJson(disk, job, mounts));
      }
      out["vms"].append(vm);
    }
    return out;
  });

  registry.add("VM.snapshot", [&hypervisor, &activity](const Json::Value& p, const CallContext&) {
    const std::string vm = p["vmID"].asString();
    auto domain = hypervisor.lookup(vm);
    virt::SnapshotRequest request;
    request.quiesce = p["quiesce"].asBool();
    request.requireQuiesce = p["requireQuiesce"].asBool();
    if (p.isMember("snapDrives")) {
      request.drives.emplace();
      for (const auto& d : p["snapDrives"]) {
        request.drives->push_back({d["name"].asString(), d.get("overlayPath", "").asString()});
      }
    }
    activity.beginSnapshot(vm);
    try {
      Json::Value out = virt::takeSnapshot(*domain, request, virt::LocalFiles::real());
      activity.endSnapshot(vm);
      return out;
    } catch (...) {
      activity.endSnapshot(vm);
      throw;
    }
  });

  virt::MergeTuning tuning;
  tuning.pivotDelay = services.mergePivotDelay;
  auto makeRunner = [&hypervisor, &activity, tuning] {
    return std::make_unique<virt::MergeJob>(hypervisor, activity, removeMergedTop, tuning);
  };
  services.jobs.registerType(virt::kMergeJobType, [&activity, makeRunner](const JobRecord& record) {
    const virt::MergeSpec spec = virt::MergeSpec::fromJson(record.details);
    activity.beginMerge(spec.vmId, spec.drive, record.id);  // the drive is claimed again
    return makeRunner();
  });

  registry.add("VM.merge", [&services, &hypervisor, &activity, makeRunner](const Json::Value& p, const CallContext&) {
    virt::MergeSpec spec;
    spec.vmId = p["vmID"].asString();
    spec.drive = p["drive"].asString();
    auto domain = hypervisor.lookup(spec.vmId);
    const virt::DomainInfo info = virt::parseDomainXml(domain->xml());
    const virt::DiskInfo* disk = info.disk(spec.drive);
    Json::Value data;
    data["vmID"] = spec.vmId;
    data["drive"] = spec.drive;
    if (!disk) throw AgentError(Code::InvalidParameter, "VM " + domain->name() + " has no drive '" + spec.drive + "'", data);
    if (!disk->backing()) {
      throw AgentError(Code::InvalidParameter,
                       "drive " + spec.drive + " of VM " + domain->name() + " has no overlay to merge (" + disk->path +
                           " is its only image)",
                       data);
    }
    spec.top = p.get("topVolume", disk->path).asString();
    spec.base = p.get("baseVolume", *disk->backing()).asString();
    if (spec.top != disk->path) {
      data["activeLayer"] = disk->path;
      throw AgentError(Code::InvalidParameter, "topVolume " + spec.top + " is not the active layer of " + spec.drive, data);
    }
    if (spec.base != *disk->backing()) {
      data["backing"] = *disk->backing();
      throw AgentError(Code::InvalidParameter, "baseVolume " + spec.base + " is not right under " + spec.top, data);
    }
    if (disk->mirror || domain->blockJobInfo(spec.drive)) {
      throw AgentError(Code::VMBusy, "drive " + spec.drive + " already has a block job", data);
    }
    spec.bandwidthMiB = p.get("bandwidth", 0).asUInt64();
    spec.deleteTop = p["deleteTop"].asBool();
    JobRecord record = virt::newMergeRecord(spec);
    record.id = p.isMember("jobUUID") ? p["jobUUID"].asString() : JobStore::newId();
    activity.beginMerge(spec.vmId, spec.drive, record.id);
    try {
      Json::Value out;
      out["jobId"] = services.jobs.start(record, makeRunner()).id;
      return out;
    } catch (...) {
      activity.endMerge(spec.vmId, spec.drive);
      throw;
    }
  });
}

}  // namespace gdr
