#pragma once
// One disaster-recovery cycle across hosts, as the engine runs it:
// discover VMs on the primary volume, snapshot them all, geo-replicate a
// checkpoint, check the bases on the secondary, delete the overlays there,
// merge every overlay back, report. Once a snapshot exists, every later
// failure still merges every overlay back.
//
// The cycle talks to the hosts only through AgentApi (one per host), so it
// runs the same over the wire and against a fake in unit tests.
#include <json/value.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/agent_api.h"
#include "client/cycle_journal.h"
#include "client/verification.h"

namespace gdr::sync {

// How a cycle leaves each disk, and so what the secondary holds.
//  flat:  every overlay is merged back; the VM runs on its base between
//         cycles, and the sync rewrites the secondary's base in place (a
//         disaster mid-sync can leave it torn).
//  delta: the VM runs on an overlay between cycles. The next cycle freezes
//         it (the delta), ships it as a new file, and only after the sync
//         commits it into the base, which the following sync ships: while
//         the base changes on the secondary, the delta there covers every
//         range that changes. The secondary holds a complete point at every
//         moment, at the price of shipping each change twice.
enum class Layout { Flat, Delta };

// Between cycles the session either runs on (the delta layout: the
// secondary gets the live overlays and the commits as they happen, which
// no complete point reads, and the next sync starts with a worker already
// in its changelog crawl) or is stopped (each sync starts the workers,
// which then crawl the changelog history since the last one).
enum class SessionAfterSync { Keep, Stop };

// The most points the delta layout keeps apart: each is an image in every
// VM's chain.
inline constexpr int kMaxDeltaPoints = 32;

// A VM a host ran at the last cycle, from its report: named as unprotected
// when that host does not answer.
struct SeenVm {
  std::string host, vmId, name;
};

struct CycleOptions {
  std::string volume;  // the primary volume
  std::string secondaryHost, secondaryVolume;
  std::chrono::seconds georepTimeout{600};
  VerifyMode verify = VerifyMode::Sample;
  bool dryRun = false;
  unsigned mergeBandwidth = 0;  // MiB/s per merge; 0: unlimited
  bool pacedMerges = true;      // --merge-bandwidth auto (client/merge_pace.h); mergeBandwidth is then 0
  bool repair = true;           // resend the pieces whose content differs, once (identity problems always)
  // Manifests of recovery points kept on the volume after a successful
  // cycle (the newest ones); each cycle writes one before its sync.
  int keepPoints = 3;
  Layout layout = Layout::Delta;
  // What becomes of the geo-replication session after the sync. Unset:
  // stopped. Kept (experimental) only in the delta layout: in the flat one
  // the VMs rewrite the bases the secondary holds.
  std::optional<SessionAfterSync> session;
  // Start a stopped session once every brick rolled a changelog past the
  // checkpoint (GlusterVolume.geoRepSync's startAfterRollover).
  bool georepStartAfterRollover = true;
  std::string flowId;  // carried by every call, named in the report
  // Just after a sync the secondary can still be settling (a shard being
  // replaced reads as absent for a while): reads are retried.
  int settleAttempts = 12;
  std::chrono::milliseconds settleWait{10000};
  // Where the cycle notes what it changes, so a run killed half-way is
  // finished by the next one (adopted: its VMs merged back first). None:
  // no journal (tests of other things).
  CycleJournal* journal = nullptr;
  // The VMs of the last cycle's report, with their hosts.
  std::vector<SeenVm> lastSeen;
};

// The session's fate after this cycle's sync: as set, or stopped.
SessionAfterSync sessionAfterSync(const CycleOptions& options);

// Exit codes of gdr-sync, one per outcome.
enum Outcome : int {
  kSuccess = 0,
  kFailedMergedBack = 1,  // a step failed after the snapshots; every VM was merged back (alert)
  kUsage = 2,
  kFailedUnchanged = 3,  // failed before any snapshot: nothing changed
  kMergeBackFailed = 4,  // some VM is still on an overlay: needs an operator (critical alert)
  kPartial = 5,          // some host did not answer: its VMs are not protected; the others' cycle succeeded (alert)
};

// Progress as it goes: ("snapshot", "2/8 VMs", done).
using ProgressFn = std::function<void(const std::string& step, const std::string& detail, bool done)>;
using SleepFn = std::function<void(std::chrono::milliseconds)>;

// Runs one cycle over `agents` (one per host, in --hosts order); the report
// is {status, outcome, alert, flowId, startTime, endTime, duration,
// recoveryPoint, steps: [...], vms: [...]}, and {interrupted: {flowId,
// startTime, step}} when it first finished a cycle an earlier run left (its
// "adopt" step). When adopting fails, no new cycle starts (kMergeBackFailed).
Json::Value runCycle(const CycleOptions& options, const std::vector<AgentApi*>& agents, const ProgressFn& progress,
                     const SleepFn& sleep = {});

// Parses "30s", "5m", "2h", "1d" or plain seconds; throws std::invalid_argument.
std::chrono::seconds parseDuration(const std::string& text);

}  // namespace gdr::sync
