#pragma once
// GlusterVolume.geoRepSync as a durable job: set a checkpoint, run the
// session until every active worker has completed it, stop the session.
// An explicit state machine, one method per state, each persisted before
// the gluster calls it makes:
//
//   INIT        note risky primary options (once), set the checkpoint  -> ROLLOVER
//   ROLLOVER    a stopped session: wait until every brick rolled a
//               changelog past the checkpoint (changelog_rollover.h)    -> CHECKPOINT
//   CHECKPOINT  start the session unless it runs                       -> SYNCING
//   SYNCING     poll (or wait for gluster's event) until every Active
//               worker completed the checkpoint with nothing pending;
//               one session restart on a stall                          -> STOPPING
//   STOPPING    the outcome is decided and persisted; stop the session  -> DONE | FAILED | ABORTED
//
// After a restart each state resumes as it is: INIT sets a checkpoint again,
// ROLLOVER waits as before (its bound is a time), CHECKPOINT and SYNCING
// make sure the session runs, STOPPING only stops it and ends as it had
// decided.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/jobs.h"
#include "core/job_store.h"
#include "core/text.h"
#include "gluster/changelog_rollover.h"
#include "gluster/cli.h"
#include "gluster/events.h"
#include "gluster/georep_xml.h"

namespace gdr::gluster {

using api::kGeoRepSyncJobType;

// Where a sync stands, from one status reading. Pure.
struct SyncAssessment {
  size_t workers = 0;     // all workers
  size_t active = 0;      // Active workers (Passive ones replicate nothing)
  size_t completed = 0;   // Active workers that completed our checkpoint
  bool complete = false;  // every Active worker did, none has work pending, none is Faulty or Offline
  bool pending = false;   // some Active worker still has entry/data/meta operations pending
  bool completedButPending = false;  // every Active worker marked it, but some still copy
  std::optional<std::int64_t> lastSynced;  // the most recent of the workers'
  // What the workers are doing (crawl status and pending counts, in order):
  // when it changes, the sync moves, even while last synced does not (a
  // Hybrid Crawl reports no last synced until it has copied everything).
  std::string activity;
  std::optional<std::string> badWorker;    // "node:brick (Faulty)"
  // Every worker reads Stopped (or Created): the session is not running,
  // e.g. glusterd was restarted under the sync.
  bool stopped = false;
  std::vector<std::string> stoppedWorkers;  // "node:brick (Stopped)", when stopped
  // Every Active worker is in Changelog Crawl with nothing pending: with
  // the root touched every few seconds, a healthy worker has work within a
  // changelog rollover, so a still last synced here is a stall.
  bool idleInChangelogCrawl = false;
  std::vector<api::SyncWorker> states;  // every worker, in gluster's order
};
SyncAssessment assessSync(const std::vector<GeoRepWorker>& workers, std::int64_t checkpointTime);
// "; Active: node:brick, ..." (or "; no worker is Active"), for messages
// that must name the workers a failed sync waited on.
std::string activeWorkers(const SyncAssessment& a);

// Why a session stopped, from the tail of gsyncd's log: the error records
// ("E [...] ... message") logged at or after `since` (seconds since the
// epoch), what ssh printed first. Pure.
std::optional<std::string> lastGsyncdError(const std::string& logText, std::int64_t since = 0);
// Where gsyncd logs for a session on this node.
std::string gsyncdLogPath(const std::string& primaryVolume, const std::string& secondaryHost,
                          const std::string& secondaryVolume);
// The last `bytes` of a file (readFileTail, core/text.h).
using LogTailReader = std::function<std::string(const std::string& path, size_t bytes)>;

// Whether a sync moves, from one reading to the next: it moves when last
// synced, the workers' crawl or their pending counts change. Still for
// `stallTimeout` (or `idleStallTimeout` while every worker idles in
// Changelog Crawl) calls for one restart of the session; still again for
// `stallTimeout` after it is a stall. Pure: the time is passed in.
class StallWatch {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict { Moving, Still, Restart, Stalled };

  StallWatch(std::chrono::seconds stallTimeout, std::chrono::seconds idleStallTimeout, int restartsDone,
             Clock::time_point now);
  Verdict observe(const SyncAssessment& a, Clock::time_point now);
  void restarted(Clock::time_point now);
  int restarts() const { return restarts_; }
  Clock::duration stillFor(Clock::time_point now) const { return now - lastMove_; }
  // While workers idle and a restart is still possible: read again right
  // when the idle limit passes (not at the next, possibly slow, poll).
  std::optional<Clock::time_point> readBy(const SyncAssessment& a) const;

  static constexpr int kMaxRestarts = 1;

 private:
  Clock::duration idleLimit() const;
  const std::chrono::seconds stallTimeout_, idleStallTimeout_;
  int restarts_;
  std::optional<std::int64_t> lastProgress_;  // last synced when it last moved
  std::string lastActivity_;                  // the workers' activity then
  Clock::time_point lastMove_;
};

struct GeoRepSyncSpec {
  std::string volume;
  Remote remote;
  std::chrono::seconds timeout{600};
  bool stopAfter = true;
  std::chrono::seconds stallTimeout{120};
  std::chrono::milliseconds pollInterval{1000};
  // The shorter stall limit when every worker idles in Changelog Crawl
  // (restart only; failing still takes stallTimeout). With the root
  // touched every 5 s and gluster's default changelog rollover of 15 s, a
  // healthy worker completes a batch at least every ~16 s; a stuck one was
  // seen doing nothing for minutes. 20 s was tried: the lab's DR cycle test
  // then restarted twice as often and met the short-last-shard defect.
  // The stuck worker is one the brick sends no changelog events: its
  // connector thread can move a new consumer off the list of those it
  // notifies (README, "A geo-rep worker can stall").
  std::chrono::seconds idleStallTimeout{30};
  // A worker marks the checkpoint when its time passes it, which was seen
  // while another of its sync jobs still copied data: the workers get this
  // long after completion before the session is stopped.
  std::chrono::milliseconds settle{2000};
  bool startAfterRollover = true;

  api::GeoRepSyncJobDetails toDetails() const;
  static GeoRepSyncSpec fromDetails(const api::GeoRepSyncJobDetails& details);
};

// Touches the primary volume's root (a fresh changelog entry lets the
// checkpoint complete on an idle volume, as gluster's schedule_georep.py
// does). Given the primary nodes to reach the volume through.
using RootToucher = std::function<void(const std::vector<std::string>& primaryNodes, const std::string& volume)>;

// When the brick a worker serves last rolled a changelog; nullopt when
// this host cannot tell (LocalChangelogs).
using RolloverReader = std::function<std::optional<std::int64_t>(const GeoRepWorker& worker)>;

class GeoRepSyncJob : public JobRunner {
 public:
  using State = api::SyncState;

  GeoRepSyncJob(GlusterCli& cli, RootToucher touch, LogTailReader readLog = readFileTail,
                RolloverReader lastRolled = {})
      : cli_(cli), touch_(std::move(touch)), readLog_(std::move(readLog)), lastRolled_(std::move(lastRolled)) {}
  void run(JobControl& job) override;

  // The moves each state may make (the table above).
  static const api::Transitions<State>& transitions();

 private:
  void init(JobControl& job);
  void rollover(JobControl& job);
  void checkpoint(JobControl& job);
  void syncing(JobControl& job);
  void stopping(JobControl& job);

  // Persists the move (checked against the table) and details changes.
  void moveTo(JobControl& job, State next, int progress = -1,
              const std::function<void(api::GeoRepSyncJobDetails&)>& change = {});
  void note(JobControl& job, const std::function<void(api::GeoRepSyncJobDetails&)>& change, int progress = -1);
  // Decides how the job ends and moves to STOPPING to stop the session.
  void finish(JobControl& job, State outcome, const std::optional<AgentError>& error);
  // Reads the session's workers: the primary nodes they are on, and
  // whether it runs.
  std::vector<GeoRepWorker> readSession();
  // Starts the session unless it runs.
  void ensureRunning(JobControl& job);
  void startSession(const std::string& jobId);
  // Touches the root once kTouchInterval has passed since the last
  // touch; when the next one is due.
  std::chrono::steady_clock::time_point touchRootWhenDue(const std::string& jobId,
                                                         std::chrono::steady_clock::time_point now);
  // One status reading; nullopt (logged) when glusterd did not answer.
  std::optional<SyncAssessment> read(const std::string& jobId, std::optional<AgentError>& error);
  // Acts on one reading; true when the job left SYNCING.
  bool judge(JobControl& job, const SyncAssessment& a, StallWatch& watch);
  // A worker Faulty or Offline; true when that failed the job.
  bool onBadWorker(JobControl& job, const SyncAssessment& a);
  // Every worker Stopped: started again once; true when the job ended.
  bool onStopped(JobControl& job, const SyncAssessment& a, StallWatch& watch, StallWatch::Clock::time_point now);

  GlusterCli& cli_;
  RootToucher touch_;
  GeoRepSyncSpec spec_;
  api::GeoRepSyncJobDetails details_;  // as last persisted
  std::string session_;                // "VOLUME -> HOST::VOLUME", for messages
  std::vector<std::string> primaryNodes_;
  // At the last readSession, or true once this run started it; unset
  // after a restart of the agent.
  std::optional<bool> sessionRunning_;
  std::chrono::steady_clock::time_point lastTouch_{};
  // Readings in a row showing the session stopped, since when; and how
  // often the job started it again for that.
  int stoppedReadings_ = 0;
  std::chrono::steady_clock::time_point stoppedSince_{};
  int stoppedRestarts_ = 0;
  LogTailReader readLog_;
  RolloverReader lastRolled_;
  // Readings in a row showing a worker Faulty or Offline, since when.
  int faultyReadings_ = 0;
  std::chrono::steady_clock::time_point faultySince_{};
};

// Whether the running job `record` syncs the same session as `spec`.
bool sameSession(const JobRecord& record, const GeoRepSyncSpec& spec);

// Whether `event` may concern the sync job `record` (a gluster event names
// the session's volumes and the checkpoint it completed). Pure.
bool syncAwaitsEvent(const JobRecord& record, const GlusterEvent& event);

// A fresh job record (state INIT) for `spec`.
JobRecord newGeoRepSyncRecord(const GeoRepSyncSpec& spec);

}  // namespace gdr::gluster
