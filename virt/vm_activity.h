#pragma once
// Which VMs are being snapshotted and which drives merged, so that one
// merge runs per drive at a time and a snapshot never overlaps a merge of
// the same VM. Different VMs proceed in parallel.
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "core/errors.h"

namespace gdr::virt {

class VmActivity {
 public:
  // Throw AgentError(VMBusy) naming what is in the way.
  void beginSnapshot(const std::string& vm);
  void endSnapshot(const std::string& vm);
  void beginMerge(const std::string& vm, const std::string& drive, const std::string& jobId);
  void endMerge(const std::string& vm, const std::string& drive);

 private:
  std::mutex mutex_;
  std::set<std::string> snapshotting_;
  std::map<std::string, std::map<std::string, std::string>> merging_;  // vm -> drive -> job id
};

}  // namespace gdr::virt
