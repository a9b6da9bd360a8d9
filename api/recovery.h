#pragma once
// Recovery from the secondary site. A drill boots VMs from a recovery
// point on throwaway overlays and changes nothing: not the point, not the
// secondary volume, not the geo-replication session.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/jobs.h"
#include "api/vm.h"

namespace gdr::api {

struct DrillParams {
  std::vector<std::string> volfileServers;
  std::string volumeName, pointId;
  std::vector<std::string> vms;  // names; empty: every VM of the point
  std::int64_t bootTimeout = 180;  // seconds, from the first start to the last guest's I/O
  std::optional<std::string> jobUUID;
  template <class V>
  void visit(V& v) {
    v("volfileServers", volfileServers)("volumeName", volumeName)("pointId", pointId);
    v.orDefault("vms", vms).orDefault("bootTimeout", bootTimeout).omitIfEmpty("jobUUID", jobUUID);
  }
};

// GlusterVolume.recoveryPointDrill: INIT -> CHECK -> PREPARE -> BOOT ->
// WATCH -> CLEANUP -> DONE | FAILED | ABORTED. CLEANUP always runs once
// anything was made.
inline constexpr const char* kDrillJobType = "drill";
enum class DrillState { Init, Check, Prepare, Boot, Watch, Cleanup, Done, Failed, Aborted };
template <>
struct EnumNames<DrillState> {
  static constexpr std::pair<DrillState, const char*> table[] = {
      {DrillState::Init, "INIT"},       {DrillState::Check, "CHECK"},     {DrillState::Prepare, "PREPARE"},
      {DrillState::Boot, "BOOT"},       {DrillState::Watch, "WATCH"},     {DrillState::Cleanup, "CLEANUP"},
      {DrillState::Done, kJobDone},     {DrillState::Failed, kJobFailed}, {DrillState::Aborted, kJobAborted}};
};

// One VM of a drill: the copy booted under its own name and UUID.
struct DrillVm {
  std::string vmId, name;            // the VM as the point names it
  std::string drillName, drillUuid;  // the throwaway copy
  std::vector<std::string> drives;   // its disks' targets (vda)
  std::string result = "pending";    // pending, passed or failed
  std::string why;                   // what failed
  bool started = false;              // a start was asked of libvirt (CLEANUP destroys it)
  std::optional<std::int64_t> startedAt;  // milliseconds since the epoch
  std::optional<double> bootSeconds;      // from the start to the guest's first disk I/O
  std::optional<std::uint64_t> ioRequests;  // the disks' requests at the last reading
  template <class V>
  void visit(V& v) {
    v("vmId", vmId)("name", name)("drillName", drillName)("drillUuid", drillUuid)("result", result);
    v.orDefault("drives", drives);
    v.orDefault("why", why).orDefault("started", started);
    v.omitIfEmpty("startedAt", startedAt).omitIfEmpty("bootSeconds", bootSeconds).omitIfEmpty("ioRequests",
                                                                                              ioRequests);
  }
};

struct DrillJobDetails {
  std::vector<std::string> volfileServers;
  std::string volumeName, pointId;
  std::int64_t pointTime = 0;
  std::vector<std::string> only;  // the VMs asked for; empty: all
  std::int64_t bootTimeout = 180;
  std::string mountPoint;  // where this host mounts the volume: QEMU reads the point through it
  std::string scratchDir;  // overlays (removed at CLEANUP), domain XML and consoles (kept)
  std::vector<DrillVm> vms;
  std::optional<DrillState> outcome;  // CLEANUP: how the job ends
  // Seconds spent in each state left (CHECK, PREPARE, BOOT, WATCH,
  // CLEANUP): the drill's RTO split. `movedAt` (ms since the epoch) is
  // when the current state began.
  std::map<std::string, double> stateSeconds;
  std::int64_t movedAt = 0;
  template <class V>
  void visit(V& v) {
    v("volfileServers", volfileServers)("volumeName", volumeName)("pointId", pointId)("pointTime", pointTime);
    v.orDefault("only", only).orDefault("bootTimeout", bootTimeout)("mountPoint", mountPoint)("scratchDir", scratchDir)(
        "vms", vms);
    v.omitIfEmpty("outcome", outcome).orDefault("stateSeconds", stateSeconds).orDefault("movedAt", movedAt);
  }
};

GDR_VERB(RecoveryPointDrill, "GlusterVolume.recoveryPointDrill", DrillParams, JobStarted);

}  // namespace gdr::api
