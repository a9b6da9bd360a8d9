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
  std::string pointId;               // set when it comes from an older point (the drill's lacks it)
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
    v.orDefault("drives", drives).orDefault("pointId", pointId);
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

// How a failover translates what the primary site's definitions name into
// what the secondary site has (like ovirt-ansible's DR mapping file).
struct FailoverMapping {
  std::map<std::string, std::string> networks;  // <interface type='network'> source network
  std::map<std::string, std::string> bridges;   // <interface type='bridge'> source bridge
  // Path prefixes (directories, ending in /) for files outside the point:
  // kernel, initrd, loader, nvram, file-backed consoles, other disks.
  std::map<std::string, std::string> paths;
  // Start order: lower first; VMs not named start last, by name.
  std::map<std::string, std::int64_t> priority;
  template <class V>
  void visit(V& v) {
    v.orDefault("networks", networks).orDefault("bridges", bridges).orDefault("paths", paths).orDefault("priority",
                                                                                                     priority);
  }
};

struct FailoverParams {
  std::vector<std::string> volfileServers;
  std::string volumeName;
  std::optional<std::string> pointId;  // absent: the newest complete point
  FailoverMapping mapping;
  std::int64_t bootTimeout = 300;
  std::optional<std::string> jobUUID;
  template <class V>
  void visit(V& v) {
    v("volfileServers", volfileServers)("volumeName", volumeName).omitIfEmpty("pointId", pointId);
    v.orDefault("mapping", mapping).orDefault("bootTimeout", bootTimeout).omitIfEmpty("jobUUID", jobUUID);
  }
};

// GlusterVolume.recoveryPointFailover: INIT -> CHECK -> PROMOTE -> DEFINE
// -> START -> WATCH -> DONE | FAILED | ABORTED. Resumed after an agent
// restart in the state it had reached: each state can be repeated.
inline constexpr const char* kFailoverJobType = "failover";
enum class FailoverState { Init, Check, Promote, Define, Start, Watch, Done, Failed, Aborted };
template <>
struct EnumNames<FailoverState> {
  static constexpr std::pair<FailoverState, const char*> table[] = {
      {FailoverState::Init, "INIT"},     {FailoverState::Check, "CHECK"},    {FailoverState::Promote, "PROMOTE"},
      {FailoverState::Define, "DEFINE"}, {FailoverState::Start, "START"},    {FailoverState::Watch, "WATCH"},
      {FailoverState::Done, kJobDone},   {FailoverState::Failed, kJobFailed}, {FailoverState::Aborted, kJobAborted}};
};

// A disk of a failed-over VM: the guest writes to `overlay` (on the
// volume, created by this failover) over the point's chain.
struct FailoverDisk {
  std::string drive;
  std::string overlay;  // volume-relative
  bool made = false;    // persisted before qemu-img creates it: only such a file is ever replaced
  template <class V>
  void visit(V& v) {
    v("drive", drive)("overlay", overlay).orDefault("made", made);
  }
};

struct FailoverVm {
  std::string vmId, name;
  // The point it comes from when not the failover's: that one lacks it
  // (its host did not answer that cycle), so the newest older point that holds it.
  std::string pointId;
  std::int64_t priority = 0;
  std::vector<FailoverDisk> disks;
  std::vector<std::string> leftOut;  // devices of the definition not carried over
  std::string result = "pending";    // pending, running or failed
  std::string why;
  bool defined = false, started = false;
  std::optional<std::int64_t> startedAt;    // ms since the epoch
  std::optional<double> rtoSeconds;         // from the failover's start to the guest's first disk I/O
  std::optional<std::uint64_t> ioRequests;  // at the last reading
  template <class V>
  void visit(V& v) {
    v("vmId", vmId)("name", name).orDefault("pointId", pointId).orDefault("priority", priority).orDefault("disks", disks);
    v.orDefault("leftOut", leftOut)("result", result).orDefault("why", why);
    v.orDefault("defined", defined).orDefault("started", started).omitIfEmpty("startedAt", startedAt);
    v.omitIfEmpty("rtoSeconds", rtoSeconds).omitIfEmpty("ioRequests", ioRequests);
  }
};

struct FailoverJobDetails {
  std::vector<std::string> volfileServers;
  std::string volumeName, pointId;  // pointId: chosen at CHECK when not given
  std::int64_t pointTime = 0;
  FailoverMapping mapping;
  std::int64_t bootTimeout = 300;
  std::string mountPoint;     // the read-write mount the VMs' disks are reached through (PROMOTE)
  std::string definitionDir;  // where each VM's definition as defined here is kept
  std::optional<bool> readOnlyWas;  // features.read-only before PROMOTE (noted once)
  std::vector<std::string> fencedKeys;  // geo-replication keys taken out of authorized_keys
  std::vector<std::string> fencedProcesses;  // a connected session's receivers stopped ("PID what")
  std::vector<FailoverVm> vms;
  std::optional<FailoverState> outcome;
  std::int64_t startedAt = 0;  // ms since the epoch: RTO counts from here
  std::map<std::string, double> stateSeconds;
  std::int64_t movedAt = 0;
  template <class V>
  void visit(V& v) {
    v("volfileServers", volfileServers)("volumeName", volumeName)("pointId", pointId)("pointTime", pointTime);
    v.orDefault("mapping", mapping)("bootTimeout", bootTimeout)("mountPoint", mountPoint)("definitionDir",
                                                                                          definitionDir);
    v.omitIfEmpty("readOnlyWas", readOnlyWas).orDefault("fencedKeys", fencedKeys)
        .orDefault("fencedProcesses", fencedProcesses)("vms", vms);
    v.omitIfEmpty("outcome", outcome)("startedAt", startedAt).orDefault("stateSeconds", stateSeconds);
    v.orDefault("movedAt", movedAt);
  }
};

GDR_VERB(RecoveryPointFailover, "GlusterVolume.recoveryPointFailover", FailoverParams, JobStarted);

}  // namespace gdr::api
