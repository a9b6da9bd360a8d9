#pragma once
// Which VMs are being snapshotted and which drives merged, so that one
// merge runs per drive at a time and a snapshot never overlaps a merge of
// the same VM. Different VMs proceed in parallel.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/errors.h"

namespace gdr::virt {

class VmActivity {
 public:
  // Throw AgentError(VMBusy) naming what is in the way.
  // `overlays`: the overlay paths the caller named. Two snapshots (of any
  // VMs) never create the same overlay at once: the one that lost would
  // remove the file as its own stray overlay, while the other VM writes to it.
  void beginSnapshot(const std::string& vm, const std::vector<std::string>& overlays = {});
  void endSnapshot(const std::string& vm);
  void beginMerge(const std::string& vm, const std::string& drive, const std::string& jobId);
  void endMerge(const std::string& vm, const std::string& drive);

 private:
  std::mutex mutex_;
  std::set<std::string> snapshotting_;
  std::map<std::string, std::string> overlays_;  // overlay path being created -> VM
  std::map<std::string, std::map<std::string, std::string>> merging_;  // vm -> drive -> job id
};

}  // namespace gdr::virt
