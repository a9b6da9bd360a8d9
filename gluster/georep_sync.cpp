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

Json::Value GeoRepSyncSpec::toJson() const {
  Json::Value d;
  d["volumeName"] = volume;
  d["remoteHost"] = remote.host;
  d["remoteVolumeName"] = remote.volume;
  d["remoteUserName"] = remote.user;
  d["timeout"] = Json::Int64(timeout.count());
  d["stopAfter"] = stopAfter;
  d["stallTimeout"] = Json::Int64(stallTimeout.count());
  d["pollInterval"] = Json::Int64(pollInterval.count());
  d["idleStallTimeout"] = Json::Int64(idleStallTimeout.count());
  return d;
}

GeoRepSyncSpec GeoRepSyncSpec::fromJson(const Json::Value& d) {
  GeoRepSyncSpec s;
  s.volume = d["volumeName"].asString();
  s.remote.host = d["remoteHost"].asString();
  s.remote.volume = d["remoteVolumeName"].asString();
  s.remote.user = d.get("remoteUserName", "root").asString();
  s.timeout = std::chrono::seconds(d.get("timeout", 600).asInt64());
  s.stopAfter = d.get("stopAfter", true).asBool();
  s.stallTimeout = std::chrono::seconds(d.get("stallTimeout", 120).asInt64());
  s.pollInterval = std::chrono::milliseconds(d.get("pollInterval", 1000).asInt64());
  s.idleStallTimeout = std::chrono::seconds(d.get("idleStallTimeout", 30).asInt64());
  return s;
}

bool syncAwaitsEvent(const JobRecord& record, const GlusterEvent& event) {
  if (record.type != kGeoRepSyncJobType || record.terminal() || event.name != kCheckpointCompletedEvent) return false;
  if (record.details["volumeName"].asString() != event.primaryVolume ||
      record.details["remoteVolumeName"].asString() != event.secondaryVolume) {
    return false;
  }
  // Host names may be spelled differently (name or address): compared only
  // by volume. A completion of an older checkpoint is not ours.
  const Json::Value& ours = record.details["checkpointTime"];
  return !(ours.isIntegral() && event.checkpointTime && !sameTime(*event.checkpointTime, ours.asInt64()));
}

JobRecord newGeoRepSyncRecord(const GeoRepSyncSpec& spec) {
  JobRecord r;
  r.type = kGeoRepSyncJobType;
  r.state = "INIT";
  r.details = spec.toJson();
  r.details["deadline"] = Json::Int64(nowSeconds() + spec.timeout.count());
  r.details["checkpointTime"] = Json::Value();
  r.details["workersCompleted"] = 0;
  r.details["workersTotal"] = 0;
  r.details["lastSynced"] = Json::Value();
  return r;
}

void GeoRepSyncJob::run(JobControl& job) {
  const JobRecord start = job.record();
  const GeoRepSyncSpec spec = GeoRepSyncSpec::fromJson(start.details);
  const std::string session = spec.volume + " -> " + spec.remote.spec();
  const std::int64_t deadline = start.details.get("deadline", nowSeconds() + spec.timeout.count()).asInt64();

  auto stopSession = [&] {
    if (!spec.stopAfter) return;
    try {
      cli_.geoRepAction(spec.volume, spec.remote, GeoRepAction::Stop, false);
    } catch (const AgentError& e) {
      // Already stopped is fine; anything else is worth a line in the log.
      spdlog::warn("job {}: stopping {}: {}", start.id, session, e.what());
    }
  };
  // glusterd may hold the session as started while its workers still show
  // Stopped (just started, or started by an agent that then died): the
  // session is running, which is what is wanted.
  auto startSession = [&] {
    try {
      cli_.geoRepAction(spec.volume, spec.remote, GeoRepAction::Start, false);
    } catch (const AgentError& e) {
      if (e.code() != Code::GeoRepStartFailed ||
          e.data()["opErrstr"].asString().find("already started") == std::string::npos) {
        throw;
      }
      spdlog::info("job {}: {} was already started", start.id, session);
    }
  };
  auto finish = [&](const char* state, std::optional<AgentError> error) {
    job.update([&](JobRecord& r) {
      r.state = "STOPPING";
    });
    stopSession();
    job.update([&](JobRecord& r) {
      r.state = state;
      if (error) r.error = JobError{int(error->code()), error->what()};
    });
  };

  // Completed before a restart: only the stop was left to do.
  if (start.state == "STOPPING" && start.details.get("checkpointCompleted", false).asBool()) {
    return finish(kJobDone, std::nullopt);
  }

  // Once, at the start: a word in the job about primary options that put
  // the copy at risk. Never a reason to fail the sync.
  if (start.state == "INIT" && !start.details.isMember("warnings")) {
    Json::Value warnings(Json::arrayValue);
    try {
      for (const auto& w : geoRepOptionWarnings(cli_.volumeOptions(spec.volume))) warnings.append(w);
    } catch (const AgentError& e) {
      spdlog::warn("job {}: cannot read the options of {}: {}", start.id, spec.volume, e.what());
    }
    job.update([&](JobRecord& r) { r.details["warnings"] = warnings; });
  }

  // INIT: set the checkpoint (again, if the agent died before recording it).
  std::int64_t checkpoint = start.details["checkpointTime"].isIntegral() ? start.details["checkpointTime"].asInt64() : 0;
  if (start.state == "INIT" || checkpoint == 0) {
    checkpoint = cli_.geoRepCheckpointSet(spec.volume, spec.remote);
    job.update([&](JobRecord& r) {
      r.state = "CHECKPOINT";
      r.progress = 5;
      r.details["checkpointTime"] = Json::Int64(checkpoint);
    });
  }

  // CHECKPOINT -> SYNCING: make sure the session runs.
  auto sessions = cli_.geoRepStatus(spec.volume, spec.remote);
  if (sessions.empty()) throw AgentError(Code::GeoRepSessionNotFound, "no geo-replication session " + session);
  std::vector<std::string> primaryNodes;
  bool running = false;
  for (const auto& w : sessions.front().workers) {
    primaryNodes.push_back(w.primaryNode);
    const std::string s = normalizeStatus(w.status);
    running = running || s == "Active" || s == "Passive" || s == "Initializing";
  }
  if (!running) startSession();
  job.update([&](JobRecord& r) { r.state = "SYNCING"; });

  auto timedOut = [&](const std::optional<AgentError>& lastError) {
    return AgentError(Code::GeoRepSyncTimeout,
                      "checkpoint of " + session + " not completed within " + std::to_string(spec.timeout.count()) +
                          " s" + (lastError ? std::string(" (last error: ") + lastError->what() + ")" : ""));
  };
  std::optional<std::int64_t> lastProgress;  // lastSynced when it last moved
  std::string lastActivity;                  // the workers' activity then
  constexpr int kMaxStallRestarts = 1;
  int restarts = start.details.get("sessionRestarts", 0).asInt();
  auto lastMove = std::chrono::steady_clock::now();
  auto lastTouch = std::chrono::steady_clock::time_point{};
  auto nextRead = std::chrono::steady_clock::time_point{};
  int events = start.details.get("eventsReceived", 0).asInt();
  constexpr auto kTouchInterval = std::chrono::seconds(5);
  for (;;) {
    if (job.stopRequested()) return;  // resumed after the restart
    if (job.abortRequested()) return finish(kJobAborted, std::nullopt);
    auto now = std::chrono::steady_clock::now();
    if (now - lastTouch >= kTouchInterval) {
      try {
        touch_(primaryNodes, spec.volume);
      } catch (const std::exception& e) {
        spdlog::warn("job {}: touching the root of {}: {}", start.id, spec.volume, e.what());
      }
      lastTouch = now;
    }
    // A gluster event says a worker completed a checkpoint: read now
    // rather than at the next poll.
    const bool nudged = job.takeNudge();
    if (nudged) {
      ++events;
      job.update([&](JobRecord& r) { r.details["eventsReceived"] = events; });
    }
    if (!nudged && now < nextRead) {
      if (nowSeconds() > deadline) return finish(kJobFailed, timedOut(std::nullopt));
      job.waitFor(std::chrono::duration_cast<std::chrono::milliseconds>(std::min(nextRead, lastTouch + kTouchInterval) - now));
      continue;
    }
    nextRead = now + spec.pollInterval;
    std::optional<AgentError> readError;
    SyncAssessment a;
    try {
      sessions = cli_.geoRepStatus(spec.volume, spec.remote);
      a = assessSync(sessions.empty() ? std::vector<GeoRepWorker>{} : sessions.front().workers, checkpoint);
    } catch (const AgentError& e) {
      readError = e;  // a glusterd hiccup: retried until the deadline
      spdlog::warn("job {}: reading {}: {}", start.id, session, e.what());
    }
    if (!readError) {
      job.update([&](JobRecord& r) {
        r.details["workersCompleted"] = Json::UInt64(a.completed);
        r.details["workersTotal"] = Json::UInt64(a.active);
        r.details["lastSynced"] = a.lastSynced ? Json::Value(Json::Int64(*a.lastSynced)) : Json::Value();
        r.progress = 10 + (a.active ? int(85 * a.completed / a.active) : 0);
      });
      if (a.badWorker) {
        return finish(kJobFailed, AgentError(Code::GeoRepWorkerFaulty, "geo-replication worker " + *a.badWorker +
                                                                           " in session " + session));
      }
      if (a.complete) {
        // Reported at once (Host.getJobs shows it); DONE follows the stop.
        job.update([&](JobRecord& r) {
          r.state = "STOPPING";
          r.progress = 95;
          r.details["checkpointCompleted"] = true;
          r.details["checkpointCompletedAt"] = Json::Int64(nowMilliseconds());
        });
        // A moment for the workers' last writes to land before the stop.
        job.waitFor(std::chrono::seconds(2));
        return finish(kJobDone, std::nullopt);
      }
      // Marked complete but still copying: look again soon.
      if (a.completedButPending) nextRead = now + std::chrono::seconds(1);
      const auto idleLimit = std::min<std::chrono::steady_clock::duration>(spec.idleStallTimeout, spec.stallTimeout);
      if (a.lastSynced != lastProgress || a.activity != lastActivity || a.active == 0) {
        lastProgress = a.lastSynced;
        lastActivity = a.activity;
        lastMove = now;
      } else if (restarts < kMaxStallRestarts &&
                 now - lastMove > (a.idleInChangelogCrawl ? idleLimit
                                                          : std::chrono::steady_clock::duration(spec.stallTimeout))) {
        // Seen on this platform: after a stop/start a worker can stop
        // processing changelogs while they keep rolling (it idles in
        // Changelog Crawl); a plain restart of the session gets it going
        // again. Once; then it is a failure.
        ++restarts;
        spdlog::warn("job {}: {} made no progress for {} s{}; restarting the session", start.id, session,
                     std::chrono::duration_cast<std::chrono::seconds>(now - lastMove).count(),
                     a.idleInChangelogCrawl ? " (workers idle in Changelog Crawl)" : "");
        try {
          cli_.geoRepAction(spec.volume, spec.remote, GeoRepAction::Stop, false);
        } catch (const AgentError& e) {
          spdlog::warn("job {}: stopping {}: {}", start.id, session, e.what());
        }
        startSession();
        job.update([&](JobRecord& r) { r.details["sessionRestarts"] = restarts; });
        lastMove = now;
      } else if (now - lastMove > spec.stallTimeout) {
        return finish(kJobFailed,
                      AgentError(Code::GeoRepSyncStalled,
                                 "geo-replication of " + session + " made no progress (last synced, crawl and pending counts unchanged) for " +
                                     std::to_string(spec.stallTimeout.count()) + " s"));
      }
      // Idle workers: read again right when the idle limit passes, not at
      // the next (slow, with events) poll.
      if (a.idleInChangelogCrawl && restarts < kMaxStallRestarts) {
        nextRead = std::min(nextRead, lastMove + idleLimit + std::chrono::milliseconds(500));
      }
    }
    if (nowSeconds() > deadline) return finish(kJobFailed, timedOut(readError));
  }
}

}  // namespace gdr::gluster
