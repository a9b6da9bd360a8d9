#pragma once
// GlusterVolume.recoveryPointFailover as a durable job: the primary site
// is gone, and the secondary's volume becomes the live one. Each VM of a
// complete recovery point is defined here as itself (its name and UUID)
// and started, its disks on new overlays on the volume over the point's
// chain, so the point's own files stay as they are. One method per state,
// each persisted before the calls it leads to, each safe to repeat after
// an agent restart:
//
//   INIT     -> CHECK
//   CHECK    the point (given, or the newest complete one) checked against
//            its manifest: it must be complete; the VMs listed in start
//            order, with those it lacks (their host did not answer that
//            cycle) from the newest older point that holds them -> PROMOTE | FAILED
//   PROMOTE  the geo-replication keys taken out of authorized_keys (a
//            primary that comes back cannot sync over the live volume);
//            features.read-only switched off; a read-write mount found or
//            made                                          -> DEFINE | FAILED
//   DEFINE   per VM: each overlay made (never over a file this failover
//            did not make), the definition translated by the mapping and
//            defined in libvirt                            -> START | FAILED
//   START    per VM in priority order: `started` persisted, then started
//   WATCH    disk I/O counters read each second: a VM runs once they grew
//            after its first I/O (its RTO: from the failover's start to
//            that first I/O); fails when its guest stops or at the boot
//            timeout                                        -> DONE | FAILED
//
// Nothing is undone: a VM that failed is left defined for the operator,
// and the promotion stays. An abort stops before the next state.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/recovery.h"
#include "api/recovery_point.h"
#include "core/job_store.h"
#include "virt/domain.h"
#include "virt/drill_xml.h"

namespace gdr {

// What a failover does at the secondary site besides libvirt.
struct FailoverSite {
  virtual ~FailoverSite() = default;
  // Every point, newest first, each checked as GlusterVolume.recoveryPointList does.
  virtual api::PointListResult points(const api::FailoverJobDetails& d) = 0;
  // Point d.pointId's check and manifest.
  virtual api::PointCheckResult check(const api::FailoverJobDetails& d) = 0;
  virtual api::PointManifest manifest(const api::FailoverJobDetails& d) = 0;
  virtual std::string definition(const api::FailoverJobDetails& d, const api::PointDefinition& definition) = 0;
  virtual bool readOnly(const std::string& volume) = 0;
  virtual void allowWrites(const std::string& volume) = 0;
  // The lines taken out (none when already fenced); `jobId` names where
  // they are kept aside.
  virtual std::vector<std::string> fenceGeoRepKeys(const std::string& jobId) = 0;
  // Ends what a session still connected writes into `volume` through on
  // this host (see gluster/georep_fence.h); what it stopped, described.
  virtual std::vector<std::string> fenceGeoRepReceivers(const std::string& volume) = 0;
  // A read-write mount of the volume on this host, made when there is none.
  virtual std::string writableMount(const api::FailoverJobDetails& d) = 0;
  virtual bool exists(const std::string& path) = 0;
};

struct FailoverTools {
  FailoverSite& site;
  virt::GuestLauncher& launcher;
  // Makes `overlay` (qcow2, `virtualSize` bytes) over `backing`, without opening it.
  std::function<void(const std::string& overlay, const virt::ChainImage& backing, std::uint64_t virtualSize)>
      makeOverlay;
  std::chrono::milliseconds pollInterval{1000};
};

class FailoverJob : public JobRunner {
 public:
  using State = api::FailoverState;
  explicit FailoverJob(FailoverTools tools) : tools_(std::move(tools)) {}
  void run(JobControl& job) override;

  static const api::Transitions<State>& transitions();

 private:
  void step(JobControl& job, State state);
  void init(JobControl& job);
  void check(JobControl& job);
  void promote(JobControl& job);
  void define(JobControl& job);
  void start(JobControl& job);
  void watch(JobControl& job);

  // `change` edits the details; `whole`, when given, then the record (its
  // error), in the same update: a reader never sees the one without the other.
  void moveTo(JobControl& job, State next, int progress,
              const std::function<void(api::FailoverJobDetails&)>& change = {},
              const std::function<void(JobRecord&, const api::FailoverJobDetails&)>& whole = {});
  void note(JobControl& job, const std::function<void(api::FailoverJobDetails&)>& change);
  // Ends the job as `outcome` (DONE, FAILED, ABORTED), with `error`.
  void finish(JobControl& job, State outcome, const JobError& error = {});
  bool watchOne(api::FailoverVm& vm, std::int64_t commandMs, std::int64_t nowMs, std::int64_t deadlineMs);

  FailoverTools tools_;
};

// The failover's details, before its first state.
JobRecord newFailoverRecord(const api::FailoverParams& params, const std::string& definitionDir);
// Where a disk's failover overlay lies, volume-relative: beside its base,
// named after the point ("images/vm1.failover-POINT.qcow2").
std::string failoverOverlayPath(const std::string& basePath, const std::string& pointId);
// The VMs in start order: by the mapping's priority (lower first), the
// ones it does not name last; by name within a priority.
void orderForStart(std::vector<api::FailoverVm>& vms);

}  // namespace gdr
