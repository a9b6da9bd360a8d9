#pragma once
// Host.getVMList's answer: the running VMs, each disk's chain, and where
// each disk lives on gluster (from the host's FUSE mounts).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/host.h"
#include "virt/domain.h"
#include "virt/gluster_mounts.h"

namespace gdr::virt {

api::VmList listRunningVms(Hypervisor& hypervisor, const std::vector<GlusterMount>& mounts);

// The images of running VMs that lie on the volume named `volume`:
// volume-relative path -> "VM name (uuid)". `sameVolume` says whether a
// disk's gluster location (a volume of that name, reached through its
// server) is that very volume; a secondary may share the primary's name. Pure.
std::map<std::string, std::string> imagesOnVolume(const api::VmList& vms, const std::string& volume,
                                                  const std::function<bool(const api::GlusterLocation&)>& sameVolume);

}  // namespace gdr::virt
