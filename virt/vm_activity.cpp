#include "virt/vm_activity.h"

namespace gdr::virt {

void VmActivity::beginSnapshot(const std::string& vm, const std::vector<std::string>& overlays) {
  std::lock_guard<std::mutex> lock(mutex_);
  Json::Value data;
  data["vmID"] = vm;
  if (snapshotting_.count(vm)) throw AgentError(Code::VMBusy, "a snapshot of VM " + vm + " is already running", data);
  auto it = merging_.find(vm);
  if (it != merging_.end() && !it->second.empty()) {
    data["jobId"] = it->second.begin()->second;
    throw AgentError(Code::VMBusy,
                     "VM " + vm + " is merging drive " + it->second.begin()->first + " (job " +
                         it->second.begin()->second + "); snapshot after it finished",
                     data);
  }
  for (const auto& path : overlays) {
    auto claimed = overlays_.find(path);
    if (claimed == overlays_.end()) continue;
    data["overlayPath"] = path;
    throw AgentError(Code::VMBusy, "overlay " + path + " is being created by a snapshot of VM " + claimed->second, data);
  }
  snapshotting_.insert(vm);
  for (const auto& path : overlays) overlays_[path] = vm;
}

void VmActivity::endSnapshot(const std::string& vm) {
  std::lock_guard<std::mutex> lock(mutex_);
  snapshotting_.erase(vm);
  for (auto it = overlays_.begin(); it != overlays_.end();) it = it->second == vm ? overlays_.erase(it) : std::next(it);
}

void VmActivity::beginMerge(const std::string& vm, const std::string& drive, const std::string& jobId) {
  std::lock_guard<std::mutex> lock(mutex_);
  Json::Value data;
  data["vmID"] = vm;
  data["drive"] = drive;
  if (snapshotting_.count(vm)) throw AgentError(Code::VMBusy, "a snapshot of VM " + vm + " is running", data);
  auto& drives = merging_[vm];
  auto it = drives.find(drive);
  if (it != drives.end()) {
    data["jobId"] = it->second;
    throw AgentError(Code::VMBusy, "drive " + drive + " of VM " + vm + " is already merging (job " + it->second + ")",
                     data);
  }
  drives[drive] = jobId;
}

void VmActivity::endMerge(const std::string& vm, const std::string& drive) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = merging_.find(vm);
  if (it == merging_.end()) return;
  it->second.erase(drive);
  if (it->second.empty()) merging_.erase(it);
}

}  // namespace gdr::virt
