#include "gluster/georep_sync.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>
#include <tuple>

#include "core/errors.h"
#include "core/json_util.h"

namespace gdr::gluster {

namespace {

// The primary's root is touched this often while the job waits.
constexpr auto kTouchInterval = std::chrono::seconds(5);

// Gluster prints times with one-second resolution.
bool sameTime(std::optional<std::int64_t> a, std::int64_t b) { return a && (*a >= b - 1 && *a <= b + 1); }

}  // namespace

SyncAssessment assessSync(const std::vector<GeoRepWorker>& workers, std::int64_t checkpointTime) {
  SyncAssessment a;
  a.workers = workers.size();
  bool allIdle = true;
  for (const auto& w : workers) {
    const std::string status = normalizeStatus(w.status);
    a.states.push_back({w.primaryNode, w.primaryBrick, status,
                        w.checkpointCompleted == "Yes" && sameTime(w.checkpointTime, checkpointTime)});
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
  // gluster lists the workers in no stable order.
  std::sort(a.states.begin(), a.states.end(), [](const api::SyncWorker& x, const api::SyncWorker& y) {
    return std::tie(x.host, x.brick) < std::tie(y.host, y.brick);
  });
  a.stopped = !workers.empty() && std::all_of(workers.begin(), workers.end(), [](const GeoRepWorker& w) {
    const std::string status = normalizeStatus(w.status);
    return status == "Stopped" || status == "Created";
  });
  if (a.stopped) {
    for (const auto& w : workers) a.stoppedWorkers.push_back(w.primaryNode + ":" + w.primaryBrick + " (" + w.status + ")");
  }
  const bool healthy = !a.badWorker && a.active > 0;
  a.completedButPending = healthy && a.completed == a.active && a.pending;
  a.complete = healthy && a.completed == a.active && !a.pending;
  a.idleInChangelogCrawl = healthy && allIdle;
  return a;
}

std::string activeWorkers(const SyncAssessment& a) {
  std::string out;
  for (const auto& w : a.states) {
    if (w.status == "Active") out += (out.empty() ? "" : ", ") + w.host + ":" + w.brick;
  }
  return out.empty() ? "; no worker is Active" : "; Active: " + out;
}

namespace {

// The time of a gsyncd log record ("[2026-12-02 04:02:51.790294] ..."),
// which gsyncd writes in UTC; nullopt for a traceback's lines.
std::optional<std::int64_t> gsyncdRecordTime(const std::string& line) {
  if (line.size() < 21 || line[0] != '[') return std::nullopt;
  return parseGlusterTime(line.substr(1, 19));
}

// "Popen: command returned error [{cmd=ssh ... HOST CMD}, {error=255}]"
// becomes "command exited 255 (ssh's own failure): ssh ... HOST CMD", so
// the status survives the cut to a message's length.
std::string exitStatusFirst(const std::string& words) {
  const std::string head = "command returned error [{cmd=";
  const size_t at = words.find(head);
  const size_t status = words.rfind("}, {error=");
  if (at == std::string::npos || status == std::string::npos || status < at) return words;
  const std::string command = words.substr(at + head.size(), status - at - head.size());
  std::string code = words.substr(status + 10);
  if (const size_t end = code.find('}'); end != std::string::npos) code.resize(end);
  const bool sshFailed = command.rfind("ssh ", 0) == 0 && code == "255";
  return "command exited " + code + (sshFailed ? " (ssh's own failure)" : "") + ": " + command;
}

}  // namespace

std::optional<std::string> lastGsyncdError(const std::string& logText, std::int64_t since) {
  // Among the error records since `since`, the most telling: what ssh
  // printed ("Popen: ssh> ssh: connect ...: Connection refused"), else the
  // last record with words, else the exception a traceback ended with.
  // gsyncd's monitor can fail while it logs ssh's words (a TypeError in its
  // errlog, gluster 10, when a thread caught ssh's words first), leaving
  // "command returned error", "<top>: FAIL: " and a traceback.
  std::optional<std::string> sshSaid, lastWords, lastException;
  bool inRecentError = false;  // the lines after such a record are its traceback
  std::istringstream in(logText);
  std::string line;
  while (std::getline(in, line)) {
    const auto when = gsyncdRecordTime(line);
    if (!when) {
      // A traceback's unindented lines after its header: the last is the exception.
      if (inRecentError && !line.empty() && line[0] != ' ' && line.rfind("Traceback", 0) != 0) lastException = line;
      continue;
    }
    inRecentError = false;
    const size_t mark = line.find("] E [");
    if (mark == std::string::npos || *when < since) continue;
    const size_t close = line.find("] ", mark + 5);
    if (close == std::string::npos) continue;
    inRecentError = true;
    std::string words = line.substr(close + 2);
    while (!words.empty() && (words.back() == ' ' || words.back() == '\r')) words.pop_back();
    if (words.find("ssh> ") != std::string::npos) sshSaid = words;
    const bool empty = words.empty() || (words.size() >= 5 && words.compare(words.size() - 5, 5, "FAIL:") == 0);
    if (!empty) lastWords = std::move(words);
  }
  if (sshSaid) return json::printable(*sshSaid, 300);
  if (lastWords) return json::printable(exitStatusFirst(*lastWords), 300);
  if (lastException) return json::printable(*lastException, 300);
  return std::nullopt;
}

std::string gsyncdLogPath(const std::string& primaryVolume, const std::string& secondaryHost,
                          const std::string& secondaryVolume) {
  return "/var/log/glusterfs/geo-replication/" + primaryVolume + "_" + secondaryHost + "_" + secondaryVolume +
         "/gsyncd.log";
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
  d.settle = settle.count();
  d.startAfterRollover = startAfterRollover;
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
  s.settle = std::chrono::milliseconds(d.settle);
  s.startAfterRollover = d.startAfterRollover;
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

const api::Transitions<State>& GeoRepSyncJob::transitions() {
  static const api::Transitions<State> table = {
      {State::Init, {State::Rollover, State::Stopping}},
      {State::Rollover, {State::Checkpoint, State::Stopping}},
      {State::Checkpoint, {State::Syncing, State::Stopping}},
      {State::Syncing, {State::Stopping}},
      {State::Stopping, {State::Done, State::Failed, State::Aborted}},
  };
  return table;
}

void GeoRepSyncJob::moveTo(JobControl& job, State next, int progress,
                           const std::function<void(api::GeoRepSyncJobDetails&)>& change) {
  const JobRecord record = job.record();
  if (!api::allowedMove(transitions(), record.state, next)) {
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
      case State::Rollover: rollover(job); break;
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
  moveTo(job, State::Rollover, 5, [&](api::GeoRepSyncJobDetails& d) { d.checkpointTime = checkpoint; });
}

// Started before every brick rolled a changelog past the checkpoint, a
// worker needs its live changelog consumer to complete it, and a brick can
// leave that consumer without events (changelog_rollover.h): a stopped
// session is started once they all did. A running one has its consumers.
void GeoRepSyncJob::rollover(JobControl& job) {
  if (job.abortRequested()) return finish(job, State::Aborted, std::nullopt);
  const std::string id = job.record().id;
  const auto workers = readSession();
  if (!spec_.startAfterRollover || *sessionRunning_) {
    return moveTo(job, State::Checkpoint, -1, [&](api::GeoRepSyncJobDetails& d) {
      d.rolloverWait = *sessionRunning_ ? "the session runs: nothing to wait for" : "not waited for";
    });
  }
  std::int64_t rolloverSeconds = changelogRolloverSeconds({});
  try {
    rolloverSeconds = changelogRolloverSeconds(cli_.volumeOptions(spec_.volume));
  } catch (const AgentError& e) {
    spdlog::warn("job {}: cannot read the options of {} (changelog rollover taken as {} s): {}", id, spec_.volume,
                 rolloverSeconds, e.what());
  }
  const std::int64_t checkpoint = details_.checkpointTime.value_or(nowSeconds());
  using Clock = std::chrono::steady_clock;
  const auto began = Clock::now();
  // Reading a brick's index is a directory listing and 4 KiB.
  const auto interval = std::min<std::chrono::milliseconds>(spec_.pollInterval, std::chrono::milliseconds(250));
  for (;;) {
    if (job.stopRequested()) return;
    if (job.abortRequested()) return finish(job, State::Aborted, std::nullopt);
    touchRootWhenDue(id, Clock::now());  // a brick rolls only a changelog that holds something
    std::vector<BrickRollover> bricks;
    for (const auto& w : workers) {
      bricks.push_back({w.primaryNode + ":" + w.primaryBrick, lastRolled_ ? lastRolled_(w) : std::nullopt});
    }
    const RolloverWait wait = assessRollover(checkpoint, rolloverSeconds, bricks, nowSeconds());
    if (wait.ready) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began).count();
      spdlog::info("job {}: {} starts after {} ms: {}", id, session_, waited, wait.why);
      return moveTo(job, State::Checkpoint, -1, [&](api::GeoRepSyncJobDetails& d) {
        d.rolloverWaited = waited;
        d.rolloverWait = wait.why;
      });
    }
    if (details_.rolloverWait != wait.why) note(job, [&](api::GeoRepSyncJobDetails& d) { d.rolloverWait = wait.why; });
    job.waitFor(interval);
  }
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

std::vector<GeoRepWorker> GeoRepSyncJob::readSession() {
  const auto sessions = cli_.geoRepStatus(spec_.volume, spec_.remote);
  if (sessions.empty()) throw AgentError(Code::GeoRepSessionNotFound, "no geo-replication session " + session_);
  primaryNodes_.clear();
  bool running = false;
  for (const auto& w : sessions.front().workers) {
    primaryNodes_.push_back(w.primaryNode);
    const std::string s = normalizeStatus(w.status);
    running = running || s == "Active" || s == "Passive" || s == "Initializing";
  }
  sessionRunning_ = running;
  return sessions.front().workers;
}

// ROLLOVER's reading, when this run made it, stands (a session started
// meanwhile by someone else reads "already started").
void GeoRepSyncJob::ensureRunning(JobControl& job) {
  if (!sessionRunning_) readSession();
  if (!*sessionRunning_) {
    startSession(job.record().id);
    sessionRunning_ = true;
  }
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
  if (outcome == State::Done) job.waitFor(spec_.settle);  // the workers' last writes land first
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

StallWatch::StallWatch(std::chrono::seconds stallTimeout, std::chrono::seconds idleStallTimeout, int restartsDone,
                       Clock::time_point now)
    : stallTimeout_(stallTimeout), idleStallTimeout_(idleStallTimeout), restarts_(restartsDone), lastMove_(now) {}

StallWatch::Clock::duration StallWatch::idleLimit() const {
  return std::min<Clock::duration>(idleStallTimeout_, stallTimeout_);
}

StallWatch::Verdict StallWatch::observe(const SyncAssessment& a, Clock::time_point now) {
  if (a.lastSynced != lastProgress_ || a.activity != lastActivity_ || a.active == 0) {
    lastProgress_ = a.lastSynced;
    lastActivity_ = a.activity;
    lastMove_ = now;
    return Verdict::Moving;
  }
  const Clock::duration limit = a.idleInChangelogCrawl ? idleLimit() : Clock::duration(stallTimeout_);
  if (restarts_ < kMaxRestarts && now - lastMove_ > limit) return Verdict::Restart;
  if (now - lastMove_ > stallTimeout_) return Verdict::Stalled;
  return Verdict::Still;
}

void StallWatch::restarted(Clock::time_point now) {
  ++restarts_;
  lastMove_ = now;
}

std::optional<StallWatch::Clock::time_point> StallWatch::readBy(const SyncAssessment& a) const {
  if (!a.idleInChangelogCrawl || restarts_ >= kMaxRestarts) return std::nullopt;
  return lastMove_ + idleLimit() + std::chrono::milliseconds(500);
}

std::chrono::steady_clock::time_point GeoRepSyncJob::touchRootWhenDue(const std::string& jobId,
                                                                     std::chrono::steady_clock::time_point now) {
  if (now - lastTouch_ < kTouchInterval) return lastTouch_ + kTouchInterval;
  lastTouch_ = now;
  try {
    touch_(primaryNodes_, spec_.volume);
  } catch (const std::exception& e) {
    spdlog::warn("job {}: touching the root of {}: {}", jobId, spec_.volume, e.what());
  }
  return now + kTouchInterval;
}

std::optional<SyncAssessment> GeoRepSyncJob::read(const std::string& jobId, std::optional<AgentError>& error) {
  try {
    const auto sessions = cli_.geoRepStatus(spec_.volume, spec_.remote);
    error.reset();
    return assessSync(sessions.empty() ? std::vector<GeoRepWorker>{} : sessions.front().workers,
                      details_.checkpointTime.value_or(0));
  } catch (const AgentError& e) {
    error = e;  // a glusterd hiccup: retried until the deadline
    spdlog::warn("job {}: reading {}: {}", jobId, session_, e.what());
    return std::nullopt;
  }
}

bool GeoRepSyncJob::onBadWorker(JobControl& job, const SyncAssessment& a) {
  // gsyncd's monitor restarts a worker that died (glusterd restarted, a
  // brief network cut): Faulty fails the job once it lasts.
  const auto now = StallWatch::Clock::now();
  if (faultyReadings_++ == 0) faultySince_ = now;
  const auto grace = std::clamp<std::chrono::steady_clock::duration>(30 * spec_.pollInterval,
                                                                      std::chrono::milliseconds(10),
                                                                      std::chrono::seconds(30));
  if (faultyReadings_ < 3 || now - faultySince_ < grace) return false;
  const auto lasted = std::chrono::duration_cast<std::chrono::seconds>(now - faultySince_).count();
  finish(job, State::Failed,
         AgentError(Code::GeoRepWorkerFaulty, "geo-replication worker " + *a.badWorker + " in session " + session_ +
                                                  " for " + std::to_string(lasted) + " s"));
  return true;
}

bool GeoRepSyncJob::onStopped(JobControl& job, const SyncAssessment& a, StallWatch& watch,
                              StallWatch::Clock::time_point now) {
  // Stopped under the job (glusterd restarted, or someone stopped it):
  // started again, the checkpoint still set. Right after a start the
  // workers read Stopped for a while, so only when it lasts.
  if (stoppedReadings_++ == 0) stoppedSince_ = now;
  const auto grace = std::clamp<std::chrono::steady_clock::duration>(5 * spec_.pollInterval,
                                                                      std::chrono::milliseconds(10),
                                                                      std::chrono::seconds(30));
  if (stoppedReadings_ < 3 || now - stoppedSince_ < grace) return false;
  const std::string id = job.record().id;
  if (++stoppedRestarts_ > 1) {
    // Stopped again after a start: gsyncd's monitor gave up (the
    // secondary unreachable, say); its log says why.
    const auto why =
        lastGsyncdError(readLog_(gsyncdLogPath(spec_.volume, spec_.remote.host, spec_.remote.volume), 64 * 1024),
                        job.record().startTime);
    std::string workers;
    for (const auto& w : a.stoppedWorkers) workers += (workers.empty() ? "" : ", ") + w;
    finish(job, State::Failed,
           AgentError(Code::GeoRepSyncStalled, "the geo-replication session " + session_ +
                                                    " stopped again after it was started (workers " + workers +
                                                    ")" + (why ? "; gsyncd: " + *why : "")));
    return true;
  }
  spdlog::warn("job {}: {} is stopped (all workers Stopped); starting it again", id, session_);
  note(job, [](api::GeoRepSyncJobDetails& d) { ++d.sessionRestarts; });  // before the call
  startSession(id);
  stoppedReadings_ = 0;
  watch.restarted(now);
  return false;
}

bool GeoRepSyncJob::judge(JobControl& job, const SyncAssessment& a, StallWatch& watch) {
  note(job, [&](api::GeoRepSyncJobDetails& d) {
    d.workersCompleted = a.completed;
    d.workersTotal = a.active;
    d.lastSynced = a.lastSynced;
    d.workers = a.states;
  }, 10 + (a.active ? int(85 * a.completed / a.active) : 0));
  if (a.badWorker) return onBadWorker(job, a);
  faultyReadings_ = 0;
  if (a.complete) {
    // Reported at once (Host.getJobs shows it); DONE follows the stop.
    moveTo(job, State::Stopping, 95, [](api::GeoRepSyncJobDetails& d) {
      d.outcome = State::Done;
      d.checkpointCompleted = true;
      d.checkpointCompletedAt = nowMilliseconds();
    });
    return true;
  }
  const auto now = StallWatch::Clock::now();
  if (a.stopped) return onStopped(job, a, watch, now);
  stoppedReadings_ = 0;
  switch (watch.observe(a, now)) {
    case StallWatch::Verdict::Moving:
    case StallWatch::Verdict::Still:
      return false;
    case StallWatch::Verdict::Restart: {
      // Seen on this platform: after a stop/start a worker can stop
      // processing changelogs while they keep rolling (it idles in
      // Changelog Crawl); a plain restart of the session gets it going
      // again. Once; then it is a failure.
      const std::string id = job.record().id;
      spdlog::warn("job {}: {} made no progress for {} s{}; restarting the session", id, session_,
                   std::chrono::duration_cast<std::chrono::seconds>(watch.stillFor(now)).count(),
                   a.idleInChangelogCrawl ? " (workers idle in Changelog Crawl)" : "");
      note(job, [](api::GeoRepSyncJobDetails& d) { ++d.sessionRestarts; });  // before the calls
      try {
        cli_.geoRepAction(spec_.volume, spec_.remote, GeoRepAction::Stop, false);
      } catch (const AgentError& e) {
        spdlog::warn("job {}: stopping {}: {}", id, session_, e.what());
      }
      startSession(id);
      watch.restarted(now);
      return false;
    }
    case StallWatch::Verdict::Stalled:
      finish(job, State::Failed,
             AgentError(Code::GeoRepSyncStalled, "geo-replication of " + session_ +
                                                      " made no progress (last synced, crawl and pending counts "
                                                      "unchanged) for " +
                                                      std::to_string(spec_.stallTimeout.count()) + " s" +
                                                      activeWorkers(a)));
      return true;
  }
  return false;
}

void GeoRepSyncJob::syncing(JobControl& job) {
  if (!sessionRunning_) ensureRunning(job);  // resumed after a restart
  const std::string id = job.record().id;
  std::optional<SyncAssessment> last;
  auto timedOut = [&](const std::optional<AgentError>& lastError) {
    return AgentError(Code::GeoRepSyncTimeout,
                      "checkpoint of " + session_ + " not completed within " + std::to_string(spec_.timeout.count()) +
                          " s" + (last ? activeWorkers(*last) : "") +
                          (lastError ? std::string(" (last error: ") + lastError->what() + ")" : ""));
  };
  using Clock = StallWatch::Clock;
  StallWatch watch(spec_.stallTimeout, spec_.idleStallTimeout, details_.sessionRestarts, Clock::now());
  Clock::time_point nextRead{};
  std::optional<AgentError> readError;
  // A status this host cannot read for long (its glusterd down with its
  // bricks, say) is no hiccup: the job fails with its own code, and the
  // engine has another host's agent drive the session.
  Clock::time_point lastRead = Clock::now();
  int failedReads = 0;
  const auto unreadableGrace = std::clamp<std::chrono::steady_clock::duration>(
      30 * spec_.pollInterval, std::chrono::milliseconds(10), std::chrono::seconds(30));
  for (;;) {
    if (job.stopRequested()) return;
    if (job.abortRequested()) return finish(job, State::Aborted, std::nullopt);
    const auto now = Clock::now();
    const auto nextTouch = touchRootWhenDue(id, now);
    // A gluster event says a worker completed a checkpoint: read now
    // rather than at the next poll.
    const bool nudged = job.takeNudge();
    if (nudged) note(job, [](api::GeoRepSyncJobDetails& d) { ++d.eventsReceived; });
    if (!nudged && now < nextRead) {
      if (nowSeconds() > details_.deadline) return finish(job, State::Failed, timedOut(std::nullopt));
      job.waitFor(std::chrono::duration_cast<std::chrono::milliseconds>(std::min(nextRead, nextTouch) - now));
      continue;
    }
    nextRead = now + spec_.pollInterval;
    if (const auto a = read(id, readError)) {
      last = a;
      lastRead = now;
      failedReads = 0;
      if (judge(job, *a, watch)) return;
      // Marked complete but still copying: look again soon.
      if (a->completedButPending) nextRead = now + std::chrono::seconds(1);
      if (const auto by = watch.readBy(*a)) nextRead = std::min(nextRead, *by);
    } else if (++failedReads >= 3 && now - lastRead >= unreadableGrace) {
      const auto lasted = std::chrono::duration_cast<std::chrono::seconds>(now - lastRead).count();
      return finish(job, State::Failed,
                    AgentError(Code::GeoRepStatusUnreadable, "the status of " + session_ +
                                                                 " could not be read on this host for " +
                                                                 std::to_string(lasted) + " s: " + readError->what()));
    }
    if (nowSeconds() > details_.deadline) return finish(job, State::Failed, timedOut(readError));
  }
}

}  // namespace gdr::gluster
