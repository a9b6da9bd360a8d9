#pragma once
// VM.merge's checks, before any job exists: the drive has an overlay, the
// caller's top is its active layer or an image of its chain with a base
// below, the base is the image right under the top, and no block job runs
// on it. Pure: decided on the parsed domain XML.
#include <string>

#include "api/vm.h"
#include "virt/domain_xml.h"
#include "virt/merge_job.h"

namespace gdr::virt {

// Throws AgentError(InvalidParameter) or AgentError(VMBusy) naming the
// problem; `blockJobRunning` is libvirt's word on the drive.
MergeSpec planMerge(const DomainInfo& domain, const std::string& vmName, const api::MergeParams& params,
                    bool blockJobRunning);

}  // namespace gdr::virt
