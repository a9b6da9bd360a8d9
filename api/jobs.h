#pragma once
// Jobs as the wire shows them, and each job type's states with their
// string forms, in one place. Host.getJobs returns Job; its type-specific
// fields decode into MergeJobDetails or GeoRepSyncJobDetails.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/codec.h"

namespace gdr::api {

struct JobError {
  int code = 0;
  std::string message;
  template <class V>
  void visit(V& v) {
    v("code", code)("message", message);
  }
};

// Terminal states shared by every job type.
inline constexpr const char* kJobDone = "DONE";
inline constexpr const char* kJobFailed = "FAILED";
inline constexpr const char* kJobAborted = "ABORTED";
inline bool isTerminalState(const std::string& state) {
  return state == kJobDone || state == kJobFailed || state == kJobAborted;
}

struct Job {
  std::string id, type, state;
  int progress = 0;  // 0-100
  std::optional<JobError> error;
  std::int64_t startTime = 0;              // seconds since the epoch
  std::optional<std::int64_t> endTime;     // null while running
  Json::Value details{Json::objectValue};  // the type's own fields, beside these on the wire
  bool terminal() const { return isTerminalState(state); }
  bool done() const { return state == kJobDone; }
  template <class V>
  void visit(V& v) {
    v("id", id)("type", type)("state", state)("progress", progress)("error", error)("startTime", startTime)("endTime",
                                                                                                            endTime);
    v.rest(details);
  }
};

// A job type's table of moves: each non-terminal state and where it may go.
template <class State>
using Transitions = std::map<State, std::vector<State>>;

// Whether the table lets a job in state `from` (its spelling) move to `to`.
template <class State>
bool allowedMove(const Transitions<State>& table, const std::string& from, State to) {
  const auto current = enumFromName<State>(from);
  const auto it = current ? table.find(*current) : table.end();
  return it != table.end() && std::find(it->second.begin(), it->second.end(), to) != it->second.end();
}

// VM.merge: INIT -> COMMIT -> READY -> PIVOT -> CLEANUP -> DONE, ABORTING -> ABORTED, any -> FAILED.
inline constexpr const char* kMergeJobType = "merge";
enum class MergeState { Init, Commit, Ready, Pivot, Cleanup, Aborting, Done, Failed, Aborted };
template <>
struct EnumNames<MergeState> {
  static constexpr std::pair<MergeState, const char*> table[] = {
      {MergeState::Init, "INIT"},   {MergeState::Commit, "COMMIT"},   {MergeState::Ready, "READY"},
      {MergeState::Pivot, "PIVOT"}, {MergeState::Cleanup, "CLEANUP"}, {MergeState::Aborting, "ABORTING"},
      {MergeState::Done, kJobDone}, {MergeState::Failed, kJobFailed}, {MergeState::Aborted, kJobAborted}};
};

struct MergeJobDetails {
  std::string vmId, drive, topVolume, baseVolume;
  std::uint64_t bandwidth = 0;  // MiB/s, 0 unlimited
  bool deleteTop = false;
  bool active = true;  // an active commit (then a pivot), or a commit of the image under the active layer
  int pivotAttempts = 0;
  int commitStarts = 0;
  std::optional<std::uint64_t> cur, end;  // the block job's progress
  template <class V>
  void visit(V& v) {
    v("vmID", vmId)("drive", drive)("topVolume", topVolume)("baseVolume", baseVolume)("bandwidth", bandwidth)(
        "deleteTop", deleteTop);
    v.orDefault("active", active).orDefault("pivotAttempts", pivotAttempts).orDefault("commitStarts", commitStarts);
    v.omitIfEmpty("cur", cur).omitIfEmpty("end", end);
  }
};

// GlusterVolume.geoRepSync: INIT -> ROLLOVER -> CHECKPOINT -> SYNCING -> STOPPING -> DONE | FAILED | ABORTED.
inline constexpr const char* kGeoRepSyncJobType = "georep.sync";
enum class SyncState { Init, Rollover, Checkpoint, Syncing, Stopping, Done, Failed, Aborted };
template <>
struct EnumNames<SyncState> {
  static constexpr std::pair<SyncState, const char*> table[] = {
      {SyncState::Init, "INIT"},       {SyncState::Rollover, "ROLLOVER"}, {SyncState::Checkpoint, "CHECKPOINT"},
      {SyncState::Syncing, "SYNCING"}, {SyncState::Stopping, "STOPPING"}, {SyncState::Done, kJobDone},
      {SyncState::Failed, kJobFailed}, {SyncState::Aborted, kJobAborted}};
};

// A worker of the session at the job's last reading: the primary node and
// brick it serves, Active (it copies), Passive (its replica stands by),
// Faulty, ...; whether it completed the job's checkpoint.
struct SyncWorker {
  std::string host, brick, status;
  bool checkpointCompleted = false;
  template <class V>
  void visit(V& v) {
    v("host", host)("brick", brick)("status", status)("checkpointCompleted", checkpointCompleted);
  }
};

struct GeoRepSyncJobDetails {
  std::string volumeName, remoteHost, remoteVolumeName, remoteUserName = "root";
  std::int64_t timeout = 600, stallTimeout = 120, idleStallTimeout = 30;  // seconds
  std::int64_t pollInterval = 1000;                                       // milliseconds
  std::int64_t settle = 2000;  // milliseconds between completion and the stop
  bool stopAfter = true;
  bool startAfterRollover = true;              // start a stopped session once every brick rolled past the checkpoint
  std::int64_t deadline = 0;                   // seconds since the epoch
  std::optional<std::int64_t> checkpointTime;  // once set
  std::uint64_t workersCompleted = 0, workersTotal = 0;
  std::optional<std::int64_t> lastSynced;
  int sessionRestarts = 0;
  int eventsReceived = 0;
  bool checkpointCompleted = false;
  std::optional<std::int64_t> checkpointCompletedAt;  // milliseconds since the epoch
  std::optional<std::vector<std::string>> warnings;   // primary options that put the copy at risk
  std::optional<std::vector<SyncWorker>> workers;     // every worker, by host and brick
  // ROLLOVER: how long the start waited for the bricks' changelogs, and why
  // it ended (or what it waits on).
  std::optional<std::int64_t> rolloverWaited;  // milliseconds
  std::optional<std::string> rolloverWait;
  // STOPPING: how the job ends once the session is stopped.
  std::optional<SyncState> outcome;
  std::optional<JobError> outcomeError;
  template <class V>
  void visit(V& v) {
    v("volumeName", volumeName)("remoteHost", remoteHost)("remoteVolumeName", remoteVolumeName)(
        "remoteUserName", remoteUserName)("timeout", timeout)("stallTimeout", stallTimeout)(
        "pollInterval", pollInterval)("stopAfter", stopAfter)("deadline", deadline)("checkpointTime", checkpointTime)(
        "workersCompleted", workersCompleted)("workersTotal", workersTotal)("lastSynced", lastSynced);
    v.orDefault("sessionRestarts", sessionRestarts)
        .orDefault("eventsReceived", eventsReceived)
        .orDefault("checkpointCompleted", checkpointCompleted)
        .orDefault("idleStallTimeout", idleStallTimeout)
        .orDefault("settle", settle)
        .orDefault("startAfterRollover", startAfterRollover);
    v.omitIfEmpty("checkpointCompletedAt", checkpointCompletedAt)
        .omitIfEmpty("rolloverWaited", rolloverWaited)
        .omitIfEmpty("rolloverWait", rolloverWait)
        .omitIfEmpty("warnings", warnings)
        .omitIfEmpty("workers", workers)
        .omitIfEmpty("outcome", outcome)
        .omitIfEmpty("outcomeError", outcomeError);
  }
};

}  // namespace gdr::api
