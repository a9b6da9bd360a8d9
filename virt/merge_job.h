#pragma once
// VM.merge as a durable job: active blockcommit of a drive's top overlay
// into its base, then pivot. An explicit state machine, one method per
// state, each state persisted before the libvirt call it leads to:
//
//   INIT      persist COMMIT, then blockCommit                     -> COMMIT
//   COMMIT    poll the block job until the mirror is ready         -> READY | CLEANUP (pivoted already) | INIT (job
//   gone)
//             (a commit of the image under the active layer ends by
//             itself: the job is gone and the chain no longer holds the
//             top                                                  -> CLEANUP)
//   READY     optional hold (tests), then                          -> PIVOT
//   PIVOT     blockJobAbort(pivot), bounded retries, then confirm  -> CLEANUP | COMMIT (not ready) | INIT (ended
//   unpivoted) CLEANUP   the chain no longer holds the top; remove it         -> DONE ABORTING  cancel the block job
//   (abort requested before PIVOT)  -> ABORTED | CLEANUP (it pivoted first) any       -> FAILED
//
// libvirt traps handled here: cur == end also holds at the very start of a
// commit, so only the domain XML's <mirror ready='yes'> means "ready"; a
// pivot may fail transiently and is retried a bounded number of times; after
// the pivot the chain is read back to confirm the top is gone. After an agent
// restart the job re-attaches to libvirt's block job, or, when that is gone,
// to the chain's actual state.
//
// Errors by cause: LibvirtUnreachable is waited out (up to libvirtOutage);
// any other refusal by libvirt fails the job at once, with libvirt's
// message in the job's error.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/jobs.h"
#include "core/job_store.h"
#include "virt/domain.h"
#include "virt/domain_xml.h"
#include "virt/vm_activity.h"

namespace gdr::virt {

using api::kMergeJobType;

struct MergeSpec {
  std::string vmId, drive, top, base;
  unsigned long bandwidthMiB = 0;
  bool deleteTop = false;
  // The top is the active layer (commit, then pivot); otherwise the image
  // under it, and the commit ends by itself, without a pivot.
  bool active = true;

  api::MergeJobDetails toDetails() const;
  static MergeSpec fromDetails(const Json::Value& details);
};

struct MergeTuning {
  std::chrono::milliseconds pollInterval{200};
  int maxPivotAttempts = 3;
  int maxCommitStarts = 3;
  std::chrono::seconds libvirtOutage{60};   // how long libvirt may be unreachable
  std::chrono::milliseconds pivotDelay{0};  // pause in READY before the pivot (tests stop the agent there)
};

// Removes the merged overlay after a successful pivot (deleteTop).
using TopRemover = std::function<void(const std::string& path)>;

class MergeJob : public JobRunner {
 public:
  using State = api::MergeState;

  MergeJob(Hypervisor& hypervisor, VmActivity& activity, TopRemover removeTop, MergeTuning tuning = {})
      : hypervisor_(hypervisor), activity_(activity), removeTop_(std::move(removeTop)), tuning_(tuning) {}
  void run(JobControl& job) override;

  // The moves each state may make (the table above); a move outside it is
  // a defect and fails the job.
  static const api::Transitions<State>& transitions();

 private:
  // What one step sees: the job and libvirt's view of the drive, read at
  // the start of the step.
  struct Step {
    JobControl& job;
    api::MergeJobDetails details;
    Domain& domain;
    const DiskInfo* disk = nullptr;  // null only in INIT
    std::optional<BlockJobInfo> blockJob;
  };

  void step(JobControl& job, State state);
  void init(Step& s);
  void commit(Step& s);
  void ready(Step& s);
  void pivot(Step& s);
  void cleanup(Step& s);
  void aborting(Step& s);

  // Checks the move against the table and persists it (with `change`).
  void moveTo(JobControl& job, State next, int progress = -1,
              const std::function<void(api::MergeJobDetails&)>& change = {});
  // Persists details (and progress, unless -1) without a move.
  void note(JobControl& job, int progress, const std::function<void(api::MergeJobDetails&)>& change);
  static api::MergeJobDetails changed(const Json::Value& details,
                                      const std::function<void(api::MergeJobDetails&)>& change);
  // Fails the job with `message` (prefixed with the merge it is about).
  [[noreturn]] void fail(const std::string& message) const;
  bool chainHolds(const DiskInfo& disk, const std::string& path) const;
  // Ends the job's claim on its drive, once.
  void releaseDrive();

  Hypervisor& hypervisor_;
  VmActivity& activity_;
  TopRemover removeTop_;
  MergeTuning tuning_;
  MergeSpec spec_;
  // The end of the hold in READY (pivotDelay), once per runner: a stop
  // meanwhile leaves READY persisted.
  std::optional<std::chrono::steady_clock::time_point> readyHeldUntil_;
  bool driveReleased_ = false;
};

JobRecord newMergeRecord(const MergeSpec& spec);

// Whether a block job event from libvirt (the VM's UUID, the drive's
// target) concerns this merge job, still running: it is then woken to
// look at once rather than at its next poll.
bool mergeAwaitsBlockJobEvent(const JobRecord& record, const std::string& vmUuid, const std::string& drive);

}  // namespace gdr::virt
