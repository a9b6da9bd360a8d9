#pragma once
// GlusterVolume.recoveryPointDrill as a durable job: VMs booted from a
// recovery point on the secondary, each on a throwaway overlay, watched
// until their guests do disk I/O, then destroyed. The point, the volume
// and the geo-replication session are only read. One method per state,
// each state persisted before the calls it leads to:
//
//   INIT     -> CHECK
//   CHECK    the point checked against its manifest (sealed, every
//            sampled range); a VM with a problem fails   -> PREPARE | CLEANUP
//   PREPARE  per VM: its definition read from the point, turned into the
//            copy's XML (new name and UUID, no NICs, each disk on an
//            overlay over the point's chain), the overlays made        -> BOOT | CLEANUP
//   BOOT     per VM: `started` persisted, then the transient copy started -> WATCH
//   WATCH    disk I/O counters read each second: passed once they grew
//            after the first I/O; failed when the guest stops or at the
//            boot timeout                                               -> CLEANUP
//   CLEANUP  every started copy destroyed, the overlays removed (the XML
//            and consoles stay)                          -> DONE | FAILED | ABORTED
//
// An abort, or an error in any state, goes through CLEANUP. After an
// agent restart in BOOT or WATCH the drill cannot be judged: its pending
// VMs fail and CLEANUP runs.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/recovery.h"
#include "api/recovery_point.h"
#include "core/job_store.h"
#include "virt/domain.h"
#include "virt/drill_xml.h"

namespace gdr {

// What a drill reads of its point, on the volume.
struct DrillPointSource {
  virtual ~DrillPointSource() = default;
  virtual api::PointListResult points(const api::DrillJobDetails& d) = 0;
  virtual api::PointCheckResult check(const api::DrillJobDetails& d) = 0;
  virtual api::PointManifest manifest(const api::DrillJobDetails& d) = 0;
  virtual std::string definition(const api::DrillJobDetails& d, const api::PointDefinition& definition) = 0;
};

struct DrillTools {
  DrillPointSource& point;
  virt::GuestLauncher& launcher;
  // Makes `overlay` (qcow2, `virtualSize` bytes) over `backing`, without
  // opening it.
  std::function<void(const std::string& overlay, const virt::ChainImage& backing, std::uint64_t virtualSize)>
      makeOverlay;
  std::chrono::milliseconds pollInterval{1000};
  std::chrono::seconds libvirtOutage{60};  // how long CLEANUP waits out an unreachable libvirt
};

class DrillJob : public JobRunner {
 public:
  using State = api::DrillState;
  // `resumed`: the job was recovered after an agent restart.
  DrillJob(DrillTools tools, bool resumed) : tools_(std::move(tools)), resumed_(resumed) {}
  void run(JobControl& job) override;

  static const api::Transitions<State>& transitions();

 private:
  void step(JobControl& job, State state);
  void init(JobControl& job);
  void check(JobControl& job);
  void prepare(JobControl& job);
  void boot(JobControl& job);
  void watch(JobControl& job);
  void cleanup(JobControl& job);

  // Checks the move against the table and persists it with `change`.
  void moveTo(JobControl& job, State next, int progress,
              const std::function<void(api::DrillJobDetails&)>& change = {});
  void note(JobControl& job, const std::function<void(api::DrillJobDetails&)>& change);
  // Ends the drill through CLEANUP as `outcome`, with `error`.
  void windDown(JobControl& job, State outcome, const JobError& error);
  // One VM's reading while watching; true when its result changed.
  bool watchOne(api::DrillVm& vm, std::int64_t nowMs, std::int64_t deadlineMs);

  DrillTools tools_;
  bool resumed_;
  JobError error_;
};

// The drill's details, before its first state.
JobRecord newDrillRecord(const api::DrillParams& params, const std::string& scratchDir);
// "drill-NAME-XXXXXXXX": the copy's name beside the VM's own.
std::string drillNameOf(const std::string& vmName, const std::string& jobId);
// Where an image of the point lies on this host: the volume's mount point
// and the volume-relative path.
std::string onMount(const std::string& mountPoint, const std::string& volumePath);
// The chain a disk of the point is read through, top first: its newest
// delta down to its base, on the mount.
std::vector<virt::ChainImage> pointChain(const std::string& mountPoint, const api::PointDisk& disk);

}  // namespace gdr
