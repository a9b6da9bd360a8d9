#include "gluster/georep_sync.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/errors.h"

namespace gdr::gluster {

namespace {

// Gluster prints times with one-second resolution.
bool sameTime(std::optional<std::int64_t> a, std::int64_t b) { return a && (*a >= b - 1 && *a <= b + 1); }

}  // namespace

SyncAssessment assessSync(const std::vector<GeoRepWorker>& workers, std::int64_t checkpointTime) {
  SyncAssessment a;
  a.workers = workers.size();
  bool allIdle = true;
  for (const auto& w : workers) {
    const std::string status = normalizeStatus(w.status);
    if (status == "Faulty" || status == "Offline") {
      if (!a.badWorker) a.badWorker = w.primaryNode + ":" + w.primaryBrick + " (" + status + ")";
      continue;
    }
    if (w.lastSynced && (!a.lastSynced || *w.lastSynced > *a.lastSynced)) a.lastSynced = w.lastSynced;
    if (status != "Active") continue;
    auto count = [](const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : std::string("-"); };
    a.activity += w.primaryNode + ":" + w.primaryBrick + " " + w.crawlStatus + " " + count(w.entry) + "/" +
                  count(w.data) + "/" + count(w.meta) + "/" + count(w.failures) + ";";
    ++a.active;
    if (w.checkpointCompleted == "Yes" && sameTime(w.checkpointTime, checkpointTime)) ++a.completed;
    // A worker marks the checkpoint when its time passes it, which was seen
    // to happen while another of its sync jobs still copied data: complete
    // also means nothing pending (entry, data, meta) on any Active worker.
    const bool reportsNothingPending = w.entry == 0 && w.data == 0 && w.meta == 0;
    a.pending = a.pending || w.entry.value_or(0) > 0 || w.data.value_or(0) > 0 || w.meta.value_or(0) > 0;
    allIdle = allIdle && w.crawlStatus == "Changelog Crawl" && reportsNothingPending;
  }
  const bool healthy = !a.badWorker && a.active > 0;
  a.completedButPending = healthy && a.completed == a.active && a.pending;
  a.complete = healthy && a.completed == a.active && !a.pending;
  a.idleInChangelogCrawl = healthy && allIdle;
  return a;
}

api::GeoRepSyncJobDetails GeoRepSyncSpec::toDetails() const {
  api::GeoRepSyncJobDetails d;
  d.volumeName = volume;
  d.remoteHost = remote.host;
  d.remoteVolumeName = remote.volume;
  d.remoteUserName = remote.user;
  d.timeout = timeout.count();
  d.stopAfter = stopAfter;
  d.stallTimeout = stallTimeout.count();
  d.pollInterval = pollInterval.count();
  d.idleStallTimeout = idleStallTimeout.count();
  return d;
}

GeoRepSyncSpec GeoRepSyncSpec::fromDetails(const api::GeoRepSyncJobDetails& d) {
  GeoRepSyncSpec s;
  s.volume = d.volumeName;
  s.remote = Remote{d.remoteHost, d.remoteVolumeName, d.remoteUserName};
  s.timeout = std::chrono::seconds(d.timeout);
  s.stopAfter = d.stopAfter;
  s.stallTimeout = std::chrono::seconds(d.stallTimeout);
  s.pollInterval = std::chrono::milliseconds(d.pollInterval);
  s.idleStallTimeout = std::chrono::seconds(d.idleStallTimeout);
  return s;
}

bool syncAwaitsEvent(const JobRecord& record, const GlusterEvent& event) {
  if (record.type != kGeoRepSyncJobType || record.terminal() || event.name != kCheckpointCompletedEvent) return false;
  const auto d = api::decode<api::GeoRepSyncJobDetails>(record.details);
  if (d.volumeName != event.primaryVolume || d.remoteVolumeName != event.secondaryVolume) return false;
  // Host names may be spelled differently (name or address): compared only
  // by volume. A completion of an older checkpoint is not ours.
  return !(d.checkpointTime && event.checkpointTime && !sameTime(*event.checkpointTime, *d.checkpointTime));
}

bool sameSession(const JobRecord& record, const GeoRepSyncSpec& spec) {
  if (record.type != kGeoRepSyncJobType) return false;
  const auto d = api::decode<api::GeoRepSyncJobDetails>(record.details);
  return d.volumeName == spec.volume && d.remoteHost == spec.remote.host && d.remoteVolumeName == spec.remote.volume;
}

JobRecord newGeoRepSyncRecord(const GeoRepSyncSpec& spec) {
  JobRecord r;
  r.type = kGeoRepSyncJobType;
  r.state = api::enumName(api::SyncState::Init);
  auto d = spec.toDetails();
  d.deadline = nowSeconds() + spec.timeout.count();
  r.details = api::encode(d);
  return r;
}

using State = GeoRepSyncJob::State;

const std::map<State, std::vector<State>>& GeoRepSyncJob::transitions() {
  static const std::map<State, std::vector<State>> table = {
      {State::Init, {State::Checkpoint, State::Stopping}},
      {State::Checkpoint, {State::Syncing, State::Stopping}},
      {State::Syncing, {State::Stopping}},
      {State::Stopping, {State::Done, State::Failed, State::Aborted}},
  };
  return table;
}

void GeoRepSyncJob::moveTo(JobControl& job, State next, int progress,
                           const std::function<void(api::GeoRepSyncJobDetails&)>& change) {
  const JobRecord record = job.record();
  const auto current = api::enumFromName<State>(record.state);
  const auto& table = transitions();
  auto it = current ? table.find(*current) : table.end();
  if (it == table.end() || std::find(it->second.begin(), it->second.end(), next) == it->second.end()) {
    throw std::logic_error("geo-replication sync: no move from " + record.state + " to " + api::enumName(next));
  }
  if (change) change(details_);
  job.update([&](JobRecord& r) {
    r.state = api::enumName(next);
    if (progress >= 0) r.progress = progress;
    r.details = api::encode(details_);
  });
}

void GeoRepSyncJob::note(JobControl& job, const std::function<void(api::GeoRepSyncJobDetails&)>& change,
                         int progress) {
  change(details_);
  job.update([&](JobRecord& r) {
    if (progress >= 0) r.progress = progress;
    r.details = api::encode(details_);
  });
}

void GeoRepSyncJob::run(JobControl& job) {
  const JobRecord start = job.record();
  details_ = api::decode<api::GeoRepSyncJobDetails>(start.details);
  spec_ = GeoRepSyncSpec::fromDetails(details_);
  session_ = spec_.volume + " -> " + spec_.remote.spec();
  if (details_.deadline == 0) details_.deadline = nowSeconds() + spec_.timeout.count();
  for (;;) {
    if (job.stopRequested()) return;  // resumed after the restart
    const JobRecord record = job.record();
    if (record.terminal()) return;
    const auto state = api::enumFromName<State>(record.state);
    if (!state) throw AgentError(Code::GeneralException, "unknown state " + record.state);
    switch (*state) {
      case State::Init: init(job); break;
      case State::Checkpoint: checkpoint(job); break;
      case State::Syncing: syncing(job); break;
      case State::Stopping: stopping(job); break;
      default: return;
    }
  }
}

// Once: a word in the job about primary options that put the copy at risk
// (never a reason to fail); then the checkpoint.
void GeoRepSyncJob::init(JobControl& job) {
  if (job.abortRequested()) return finish(job, State::Aborted, std::nullopt);
  if (!details_.warnings) {
    std::vector<std::string> warnings;
    try {
      warnings = geoRepOptionWarnings(cli_.volumeOptions(spec_.volume));
    } catch (const AgentError& e) {
      spdlog::warn("job {}: cannot read the options of {}: {}", job.record().id, spec_.volume, e.what());
    }
    note(job, [&](api::GeoRepSyncJobDetails& d) { d.warnings = warnings; });
  }
  // Set again after a restart that lost it: a newer checkpoint is as good.
  const std::int64_t checkpoint = cli_.geoRepCheckpointSet(spec_.volume, spec_.remote);
  moveTo(job, State::Checkpoint, 5, [&](api::GeoRepSyncJobDetails& d) { d.checkpointTime = checkpoint; });
}

void GeoRepSyncJob::checkpoint(JobControl& job) {
  if (job.abortRequested()) return finish(job, State::Aborted, std::nullopt);
  ensureRunning(job);
  moveTo(job, State::Syncing);
}

// glusterd may hold the session as started while its workers still show
// Stopped (just started, or started by an agent that then died): the
// session is running, which is what is wanted.
void GeoRepSyncJob::startSession(const std::string& jobId) {
  try {
    cli_.geoRepAction(spec_.volume, spec_.remote, GeoRepAction::Start, false);
  } catch (const AgentError& e) {
    if (e.code() != Code::GeoRepStartFailed ||
        e.data()["opErrstr"].asString().find("already started") == std::string::npos) {
      throw;
    }
    spdlog::info("job {}: {} was already started", jobId, session_);
  }
}

void GeoRepSyncJob::ensureRunning(JobControl& job) {
  const auto sessions = cli_.geoRepStatus(spec_.volume, spec_.remote);
  if (sessions.empty()) throw AgentError(Code::GeoRepSessionNotFound, "no geo-replication session " + session_);
  primaryNodes_.clear();
  bool running = false;
  for (const auto& w : sessions.front().workers) {
    primaryNodes_.push_back(w.primaryNode);
    const std::string s = normalizeStatus(w.status);
    running = running || s == "Active" || s == "Passive" || s == "Initializing";
  }
  if (!running) startSession(job.record().id);
  runningChecked_ = true;
}

void GeoRepSyncJob::finish(JobControl& job, State outcome, const std::optional<AgentError>& error) {
  moveTo(job, State::Stopping, -1, [&](api::GeoRepSyncJobDetails& d) {
    d.outcome = outcome;
    if (error) d.outcomeError = api::JobError{int(error->code()), error->what()};
  });
}

void GeoRepSyncJob::stopping(JobControl& job) {
  // Jobs persisted before the outcome was recorded ended this way only
  // once their checkpoint had completed.
  const State outcome = details_.outcome.value_or(details_.checkpointCompleted ? State::Done : State::Failed);
  if (outcome == State::Done) job.waitFor(std::chrono::seconds(2));  // the workers' last writes land first
  if (spec_.stopAfter) {
    try {
      cli_.geoRepAction(spec_.volume, spec_.remote, GeoRepAction::Stop, false);
    } catch (const AgentError& e) {
      // Already stopped is fine; anything else is worth a line in the log.
      spdlog::warn("job {}: stopping {}: {}", job.record().id, session_, e.what());
    }
  }
  std::optional<JobError> error = details_.outcomeError;
  if (outcome == State::Failed && !error) error = JobError{int(Code::GeneralException), "interrupted while stopping"};
  job.update([&](JobRecord& r) {
    r.state = api::enumName(outcome);
    r.error = error;
  });
}

void GeoRepSyncJob::syncing(JobControl& job) {
  if (!runningChecked_) ensureRunning(job);  // resumed after a restart
  const std::string id = job.record().id;
  const std::int64_t checkpoint = details_.checkpointTime.value_or(0);
  auto timedOut = [&](const std::optional<AgentError>& lastError) {
    return AgentError(Code::GeoRepSyncTimeout,
                      "checkpoint of " + session_ + " not completed within " + std::to_string(spec_.timeout.count()) +
                          " s" + (lastError ? std::string(" (last error: ") + lastError->what() + ")" : ""));
  };
  constexpr int kMaxStallRestarts = 1;
  constexpr auto kTouchInterval = std::chrono::seconds(5);
  std::optional<std::int64_t> lastProgress;  // lastSynced when it last moved
  std::string lastActivity;                  // the workers' activity then
  auto lastMove = std::chrono::steady_clock::now();
  auto lastTouch = std::chrono::steady_clock::time_point{};
  auto nextRead = std::chrono::steady_clock::time_point{};
  for (;;) {
    if (job.stopRequested()) return;
    if (job.abortRequested()) return finish(job, State::Aborted, std::nullopt);
    const auto now = std::chrono::steady_clock::now();
    if (now - lastTouch >= kTouchInterval) {
      try {
        touch_(primaryNodes_, spec_.volume);
      } catch (const std::exception& e) {
        spdlog::warn("job {}: touching the root of {}: {}", id, spec_.volume, e.what());
      }
      lastTouch = now;
    }
    // A gluster event says a worker completed a checkpoint: read now
    // rather than at the next poll.
    const bool nudged = job.takeNudge();
    if (nudged) note(job, [](api::GeoRepSyncJobDetails& d) { ++d.eventsReceived; });
    if (!nudged && now < nextRead) {
      if (nowSeconds() > details_.deadline) return finish(job, State::Failed, timedOut(std::nullopt));
      job.waitFor(std::chrono::duration_cast<std::chrono::milliseconds>(std::min(nextRead, lastTouch + kTouchInterval) - now));
      continue;
    }
    nextRead = now + spec_.pollInterval;
    std::optional<AgentError> readError;
    SyncAssessment a;
    try {
      const auto sessions = cli_.geoRepStatus(spec_.volume, spec_.remote);
      a = assessSync(sessions.empty() ? std::vector<GeoRepWorker>{} : sessions.front().workers, checkpoint);
    } catch (const AgentError& e) {
      readError = e;  // a glusterd hiccup: retried until the deadline
      spdlog::warn("job {}: reading {}: {}", id, session_, e.what());
    }
    if (!readError) {
      note(job, [&](api::GeoRepSyncJobDetails& d) {
        d.workersCompleted = a.completed;
        d.workersTotal = a.active;
        d.lastSynced = a.lastSynced;
      }, 10 + (a.active ? int(85 * a.completed / a.active) : 0));
      if (a.badWorker) {
        return finish(job, State::Failed,
                      AgentError(Code::GeoRepWorkerFaulty,
                                 "geo-replication worker " + *a.badWorker + " in session " + session_));
      }
      if (a.complete) {
        // Reported at once (Host.getJobs shows it); DONE follows the stop.
        return moveTo(job, State::Stopping, 95, [](api::GeoRepSyncJobDetails& d) {
          d.outcome = State::Done;
          d.checkpointCompleted = true;
          d.checkpointCompletedAt = nowMilliseconds();
        });
      }
      // Marked complete but still copying: look again soon.
      if (a.completedButPending) nextRead = now + std::chrono::seconds(1);
      const auto idleLimit = std::min<std::chrono::steady_clock::duration>(spec_.idleStallTimeout, spec_.stallTimeout);
      const auto stallLimit = a.idleInChangelogCrawl ? idleLimit : std::chrono::steady_clock::duration(spec_.stallTimeout);
      if (a.lastSynced != lastProgress || a.activity != lastActivity || a.active == 0) {
        lastProgress = a.lastSynced;
        lastActivity = a.activity;
        lastMove = now;
      } else if (details_.sessionRestarts < kMaxStallRestarts && now - lastMove > stallLimit) {
        // Seen on this platform: after a stop/start a worker can stop
        // processing changelogs while they keep rolling (it idles in
        // Changelog Crawl); a plain restart of the session gets it going
        // again. Once; then it is a failure.
        spdlog::warn("job {}: {} made no progress for {} s{}; restarting the session", id, session_,
                     std::chrono::duration_cast<std::chrono::seconds>(now - lastMove).count(),
                     a.idleInChangelogCrawl ? " (workers idle in Changelog Crawl)" : "");
        note(job, [](api::GeoRepSyncJobDetails& d) { ++d.sessionRestarts; });  // before the calls
        try {
          cli_.geoRepAction(spec_.volume, spec_.remote, GeoRepAction::Stop, false);
        } catch (const AgentError& e) {
          spdlog::warn("job {}: stopping {}: {}", id, session_, e.what());
        }
        startSession(id);
        lastMove = now;
      } else if (now - lastMove > spec_.stallTimeout) {
        return finish(job, State::Failed,
                      AgentError(Code::GeoRepSyncStalled,
                                 "geo-replication of " + session_ +
                                     " made no progress (last synced, crawl and pending counts unchanged) for " +
                                     std::to_string(spec_.stallTimeout.count()) + " s"));
      }
      // Idle workers: read again right when the idle limit passes, not at
      // the next (slow, with events) poll.
      if (a.idleInChangelogCrawl && details_.sessionRestarts < kMaxStallRestarts) {
        nextRead = std::min(nextRead, lastMove + idleLimit + std::chrono::milliseconds(500));
      }
    }
    if (nowSeconds() > details_.deadline) return finish(job, State::Failed, timedOut(readError));
  }
}

}  // namespace gdr::gluster
