#include "virt/vm_listing.h"

#include "core/errors.h"
#include "virt/domain_xml.h"

namespace gdr::virt {

namespace {

api::VmDisk describeDisk(const DiskInfo& d, bool blockJob, const std::vector<GlusterMount>& mounts) {
  api::VmDisk out;
  out.target = d.target;
  out.device = d.device;
  out.type = d.type;
  out.path = d.path;
  out.format = d.format;
  out.chain = d.chain;
  out.blockJob = blockJob;
  if (d.mirror) out.mirror = api::MirrorInfo{d.mirror->job, d.mirror->ready};
  // Where the disk lives on gluster, for the engine: volume and path.
  if (auto loc = locateOnVolume(mounts, d.path)) {
    api::GlusterLocation g{loc->server, loc->volume, loc->path, {}};
    for (const auto& image : d.chain) {
      auto at = locateOnVolume(mounts, image);
      g.chain.push_back(at && at->volume == loc->volume ? std::optional<std::string>(at->path) : std::nullopt);
    }
    out.gluster = g;
  }
  return out;
}

}  // namespace

api::VmList listRunningVms(Hypervisor& hypervisor, const std::vector<GlusterMount>& mounts) {
  api::VmList out;
  for (const auto& domain : hypervisor.runningDomains()) {
    const DomainInfo info = parseDomainXml(domain->xml());
    api::VmInfo vm;
    vm.vmId = domain->uuid();
    vm.name = domain->name();
    vm.state = domain->running() ? "running" : "stopped";
    for (const auto& disk : info.disks) {
      bool job = false;
      if (disk.device == "disk") {
        try {
          job = domain->blockJobInfo(disk.target).has_value();
        } catch (const AgentError&) {
          job = disk.mirror.has_value();
        }
      }
      vm.disks.push_back(describeDisk(disk, job, mounts));
    }
    out.vms.push_back(std::move(vm));
  }
  return out;
}

std::map<std::string, std::string> imagesOnVolume(const api::VmList& vms, const std::string& volume,
                                                  const std::function<bool(const api::GlusterLocation&)>& sameVolume) {
  std::map<std::string, std::string> out;
  for (const auto& vm : vms.vms) {
    for (const auto& disk : vm.disks) {
      if (!disk.gluster || disk.gluster->volume != volume || !sameVolume(*disk.gluster)) continue;
      const std::string who = vm.name + " (" + vm.vmId + ")";
      out.emplace(disk.gluster->path, who);
      for (const auto& image : disk.gluster->chain) {
        if (image) out.emplace(*image, who);
      }
    }
  }
  return out;
}

}  // namespace gdr::virt
