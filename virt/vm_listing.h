#pragma once
// Host.getVMList's answer: the running VMs, each disk's chain, and where
// each disk lives on gluster (from the host's FUSE mounts).
#include <vector>

#include "api/host.h"
#include "virt/domain.h"
#include "virt/gluster_mounts.h"

namespace gdr::virt {

api::VmList listRunningVms(Hypervisor& hypervisor, const std::vector<GlusterMount>& mounts);

}  // namespace gdr::virt
