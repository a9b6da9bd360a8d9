#pragma once
// One disaster-recovery cycle across hosts, as the engine runs it:
// discover VMs on the primary volume, snapshot them all, geo-replicate a
// checkpoint, delete the overlays on the secondary and check the bases
// there, merge every overlay back, report. Once a snapshot exists, every
// later failure still merges every overlay back.
#include <json/value.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "client/rpc_client.h"

namespace gdr::sync {

struct CycleOptions {
  std::vector<std::string> hosts;  // unix:/path or https://host:port
  std::string volume;              // the primary volume
  std::string secondaryHost, secondaryVolume;
  std::chrono::seconds georepTimeout{600};
  // Content check of each base, primary against secondary (both frozen
  // during the cycle): "none" (headers only), "sample" (16 ranges
  // of 1 MiB), "shards" (64 KiB of every 4 MiB, so every shard is read
  // and the strides that differ are located), "full" (every byte).
  std::string verify = "sample";
  bool dryRun = false;
  unsigned mergeBandwidth = 0;  // MiB/s per merge; 0: unlimited
  bool repair = false;          // with verify "shards": resend the shards that differ, once
  client::TlsOptions tls;
  std::chrono::seconds callTimeout{120};
};

// Exit codes of gdr-sync, one per outcome.
enum Outcome : int {
  kSuccess = 0,
  kFailedMergedBack = 1,  // a step failed after the snapshots; every VM was merged back (alert)
  kUsage = 2,
  kFailedUnchanged = 3,   // failed before any snapshot: nothing changed
  kMergeBackFailed = 4,   // some VM is still on an overlay: needs an operator (critical alert)
};

// Reports progress as it goes: ("snapshot", "2/8 VMs") etc.
using ProgressFn = std::function<void(const std::string& step, const std::string& detail, bool done)>;

// Runs one cycle; the report is {status, outcome, alert, startTime,
// endTime, duration, recoveryPoint, steps: [...], vms: [...]}.
Json::Value runCycle(const CycleOptions& options, const ProgressFn& progress);

// Parses "30s", "5m", "2h", "1d" or plain seconds; throws std::invalid_argument.
std::chrono::seconds parseDuration(const std::string& text);

}  // namespace gdr::sync
