#pragma once
// The agent's durable job store. Long work (merges, geo-replication syncs)
// runs as a job with an explicit state, visible through Host.getJobs.
// Every change is persisted (write temp, fsync, rename) before it is
// visible, so a job survives an agent restart, including kill -9: at
// start-up the store hands each unfinished job to its type's recovery.
#include <json/value.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/jobs.h"
#include "core/clock.h"

namespace gdr {

// Terminal states shared by every job type; the others are type-specific
// (api/jobs.h names each type's states).
using api::kJobAborted;
using api::kJobDone;
using api::kJobFailed;
using JobError = api::JobError;

struct JobRecord {
  std::string id;
  std::string type;
  std::string state;
  int progress = 0;  // 0-100
  std::optional<JobError> error;
  std::int64_t startTime = 0;            // seconds since the epoch
  std::optional<std::int64_t> endTime;   // set when the job reaches a terminal state
  Json::Value details{Json::objectValue};  // type-specific fields, shown beside the common ones

  bool terminal() const;
  // The shape Host.getJobs returns (details beside the common fields).
  api::Job toApi() const;
  Json::Value toJson() const { return api::encode(toApi()); }
  // The persisted form; fromStored throws std::runtime_error when malformed.
  Json::Value toStored() const;
  static JobRecord fromStored(const Json::Value& stored);
};

// What a running job sees of the store.
class JobControl {
 public:
  virtual ~JobControl() = default;
  virtual JobRecord record() const = 0;
  // Applies `change` and persists the record before returning. Moving to a
  // terminal state sets endTime.
  virtual void update(const std::function<void(JobRecord&)>& change) = 0;
  virtual bool abortRequested() const = 0;
  // The agent is stopping: persist and return without finishing; the job
  // is recovered at the next start.
  virtual bool stopRequested() const = 0;
  // Sleeps up to `duration`; returns early when abort or stop is requested
  // (then true) or when the job is nudged (then false).
  virtual bool waitFor(std::chrono::milliseconds duration) = 0;
  // Whether the job was nudged since the last call; clears the mark.
  virtual bool takeNudge() = 0;
};

class JobRunner {
 public:
  virtual ~JobRunner() = default;
  // Drives the job to a terminal state, or returns early on stopRequested().
  // An exception fails the job with its code.
  virtual void run(JobControl& job) = 0;
  virtual bool abortable() const { return true; }
};

// Rebuilds the runner of an unfinished job of one type after a restart.
using JobRecovery = std::function<std::unique_ptr<JobRunner>(const JobRecord&)>;

class JobStore {
 public:
  JobStore(std::filesystem::path stateDir, std::chrono::seconds finishedTtl);
  ~JobStore();

  void registerType(const std::string& type, JobRecovery recovery);

  // Reads the persisted jobs. Unfinished jobs of a registered type are
  // recovered and resumed; those of an unknown type are failed (nothing
  // can drive them). Only regular files of at most kMaxJobFileBytes are
  // read; anything else (corrupt, a FIFO, a link) is moved aside, never
  // deleted, or skipped when it cannot be moved: start-up goes on.
  void load();

  // Persists `initial` (state, type and id set by the caller; the id is
  // generated when empty), then runs it on its own thread.
  // Throws AgentError(JobExists) when the id is taken.
  // With `conflicts`, a running job it matches refuses the start with
  // JobExists (data.jobId names it): checked and started under one lock, so
  // two concurrent calls cannot both start the same work.
  using Conflict = std::function<bool(const JobRecord& running)>;
  JobRecord start(JobRecord initial, std::unique_ptr<JobRunner> runner, const Conflict& conflicts = {});

  // All jobs, or those of `ids` that exist; expired jobs are dropped first.
  std::vector<JobRecord> list(const std::vector<std::string>& ids = {});
  JobRecord get(const std::string& id);  // throws NoSuchJob
  // Throws NoSuchJob, JobNotActive (already finished), AbortNotSupported.
  JobRecord abort(const std::string& id);

  // Wakes the running jobs whose record matches (an outside event may have
  // moved them on, e.g. gluster reporting a checkpoint completed). Returns
  // how many were nudged.
  size_t nudge(const std::function<bool(const JobRecord&)>& matches);

  // Asks every running job to stop, waits up to `timeout` for them, and
  // persists their state. Idempotent.
  void stop(std::chrono::milliseconds timeout);

  static constexpr long kMaxJobFileBytes = 1 << 20;

  static std::string newId();  // a random UUID (version 4)
  static bool validId(const std::string& id);

 private:
  struct Entry;
  class Control;
  // What a job's thread uses of the store, shared with it: a thread that
  // did not stop in time (stop() leaves it to recovery) may outlive the
  // store and still persist its record safely.
  struct Shared {
    std::filesystem::path dir;
    std::mutex mutex;
    std::condition_variable wake;
    bool stopping = false;
    void persist(const JobRecord& record) const;
  };

  void persist(const JobRecord& record) { shared_->persist(record); }
  void launch(const std::shared_ptr<Entry>& entry);
  void expireLocked(std::int64_t now);
  std::filesystem::path pathOf(const std::string& id) const;

  const std::shared_ptr<Shared> shared_;
  const std::chrono::seconds ttl_;
  std::map<std::string, std::shared_ptr<Entry>> jobs_;
  std::map<std::string, JobRecovery> recoveries_;
};

}  // namespace gdr
