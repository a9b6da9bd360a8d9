#pragma once
// VM.merge as a durable job: active blockcommit of a drive's top overlay
// into its base, then pivot. States, persisted before every libvirt call:
//
//   INIT -> COMMIT -> READY -> PIVOT -> CLEANUP -> DONE
//                 \-> (abort) ABORTING -> ABORTED       any -> FAILED
//
// libvirt traps handled here: cur == end also holds at the very start of a
// commit, so only the domain XML's <mirror ready='yes'> means "ready"; a
// pivot may fail transiently and is retried a bounded number of times; after
// the pivot the chain is read back to confirm the top is gone. After an agent
// restart the job re-attaches to libvirt's block job, or, when that is gone,
// to the chain's actual state.
#include <chrono>
#include <functional>
#include <string>

#include "core/job_store.h"
#include "virt/domain.h"
#include "virt/vm_activity.h"

namespace gdr::virt {

inline constexpr const char* kMergeJobType = "merge";

struct MergeSpec {
  std::string vmId, drive, top, base;
  unsigned long bandwidthMiB = 0;
  bool deleteTop = false;

  Json::Value toJson() const;
  static MergeSpec fromJson(const Json::Value& details);
};

struct MergeTuning {
  std::chrono::milliseconds pollInterval{200};
  int maxPivotAttempts = 3;
  int maxCommitStarts = 3;
  std::chrono::seconds libvirtOutage{60};  // how long libvirt may be unreachable
  std::chrono::milliseconds pivotDelay{0};  // pause in READY before the pivot (tests stop the agent there)
};

// Removes the merged overlay after a successful pivot (deleteTop).
using TopRemover = std::function<void(const std::string& path)>;

class MergeJob : public JobRunner {
 public:
  MergeJob(Hypervisor& hypervisor, VmActivity& activity, TopRemover removeTop, MergeTuning tuning = {})
      : hypervisor_(hypervisor), activity_(activity), removeTop_(std::move(removeTop)), tuning_(tuning) {}
  void run(JobControl& job) override;

 private:
  void drive(JobControl& job, const MergeSpec& spec);

  Hypervisor& hypervisor_;
  VmActivity& activity_;
  TopRemover removeTop_;
  MergeTuning tuning_;
};

JobRecord newMergeRecord(const MergeSpec& spec);

}  // namespace gdr::virt
