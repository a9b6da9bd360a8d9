#include "core/job_store.h"

#include "core/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "core/errors.h"
#include "core/json_util.h"
#include "core/uuid.h"

namespace gdr {

namespace fs = std::filesystem;

bool JobRecord::terminal() const { return api::isTerminalState(state); }

api::Job JobRecord::toApi() const {
  api::Job job;
  job.id = id;
  job.type = type;
  job.state = state;
  job.progress = progress;
  job.error = error;
  job.startTime = startTime;
  job.endTime = endTime;
  job.details = details.isObject() ? details : Json::Value(Json::objectValue);
  return job;
}

Json::Value JobRecord::toStored() const {
  Json::Value out = toJson();
  out.removeMember("details");
  out["details"] = details;
  out["format"] = 1;
  return out;
}

JobRecord JobRecord::fromStored(const Json::Value& stored) {
  if (!stored.isObject() || !stored["id"].isString() || !stored["type"].isString() || !stored["state"].isString() ||
      !stored["progress"].isInt() || !stored["startTime"].isInt64()) {
    throw std::runtime_error("not a job record");
  }
  JobRecord r;
  r.id = stored["id"].asString();
  r.type = stored["type"].asString();
  r.state = stored["state"].asString();
  r.progress = stored["progress"].asInt();
  r.startTime = stored["startTime"].asInt64();
  if (stored["endTime"].isInt64()) r.endTime = stored["endTime"].asInt64();
  if (stored["error"].isObject()) r.error = JobError{stored["error"]["code"].asInt(), stored["error"]["message"].asString()};
  r.details = stored.get("details", Json::Value(Json::objectValue));
  if (!JobStore::validId(r.id)) throw std::runtime_error("bad job id");
  return r;
}

struct JobStore::Entry {
  JobRecord record;
  std::unique_ptr<JobRunner> runner;
  std::thread thread;
  std::atomic<bool> abortRequested{false};
  std::atomic<bool> finished{false};
  std::atomic<bool> nudged{false};
};

class JobStore::Control : public JobControl {
 public:
  Control(std::shared_ptr<Shared> store, std::shared_ptr<Entry> entry)
      : store_(std::move(store)), entry_(std::move(entry)) {}

  JobRecord record() const override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    return entry_->record;
  }

  void update(const std::function<void(JobRecord&)>& change) override {
    JobRecord next = record();  // only this job's thread writes its record
    const std::string previous = next.state;
    change(next);
    next.progress = std::clamp(next.progress, 0, 100);
    if (next.terminal() && !next.endTime) next.endTime = nowSeconds();
    if (next.state == kJobDone) next.progress = 100;
    store_->persist(next);  // durable before visible
    // Each state change in the log, timed: what an operator (or a benchmark
    // lining up a guest's stalls with a merge's pivot) reads afterwards.
    if (next.state != previous) spdlog::info("job {} ({}): {} -> {}", next.id, next.type, previous, next.state);
    std::lock_guard<std::mutex> lock(store_->mutex);
    entry_->record = std::move(next);
  }

  bool abortRequested() const override { return entry_->abortRequested; }

  bool stopRequested() const override {
    std::lock_guard<std::mutex> lock(store_->mutex);
    return store_->stopping;
  }

  bool waitFor(std::chrono::milliseconds duration) override {
    std::unique_lock<std::mutex> lock(store_->mutex);
    store_->wake.wait_for(lock, duration,
                          [this] { return store_->stopping || entry_->abortRequested || entry_->nudged; });
    return store_->stopping || entry_->abortRequested;
  }

  bool takeNudge() override { return entry_->nudged.exchange(false); }

 private:
  std::shared_ptr<Shared> store_;
  std::shared_ptr<Entry> entry_;
};

JobStore::JobStore(fs::path stateDir, std::chrono::seconds finishedTtl)
    : shared_(std::make_shared<Shared>()), ttl_(finishedTtl) {
  shared_->dir = std::move(stateDir) / "jobs";
  fs::create_directories(shared_->dir);
}

JobStore::~JobStore() { stop(std::chrono::seconds(10)); }

void JobStore::registerType(const std::string& type, JobRecovery recovery) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  recoveries_[type] = std::move(recovery);
}

fs::path JobStore::pathOf(const std::string& id) const { return shared_->dir / (id + ".json"); }

void JobStore::Shared::persist(const JobRecord& record) const {
  try {
    writeFileDurably(dir / (record.id + ".json"), json::pretty(record.toStored()) + "\n");
  } catch (const std::runtime_error& e) {
    throw AgentError(Code::GeneralException, "cannot persist job " + record.id + ": " + e.what());
  }
}

namespace {

// A job file is a regular file of bounded size, opened without following a
// link and without blocking (a FIFO in the state dir must not hang start-up).
std::string readJobFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("cannot open: ") + strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("not a regular file");
  }
  if (st.st_size > JobStore::kMaxJobFileBytes) {
    ::close(fd);
    throw std::runtime_error("larger than " + std::to_string(JobStore::kMaxJobFileBytes) + " bytes");
  }
  std::string text(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  ::close(fd);
  text.resize(got);
  return text;
}

// Keeps the evidence: an unreadable job file is renamed, never removed;
// when even that fails it is left where it is and skipped.
void moveAside(const fs::path& path, const std::string& why) {
  fs::path aside = path;
  aside += ".corrupt";
  std::error_code ec;
  fs::rename(path, aside, ec);
  if (ec) {
    spdlog::error("job file {} unreadable ({}); cannot move it aside ({}); skipped", json::printable(path.string()),
                  why, ec.message());
  } else {
    spdlog::error("job file {} unreadable ({}); moved to {}", json::printable(path.string()), why,
                  json::printable(aside.string()));
  }
}

}  // namespace

void JobStore::load() {
  std::vector<std::shared_ptr<Entry>> toResume;
  std::vector<JobRecord> toFail;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    for (const auto& file : fs::directory_iterator(shared_->dir)) {
      const auto& path = file.path();
      if (path.extension() != ".json" || path.filename().string().front() == '.') continue;
      JobRecord record;
      try {
        const std::string text = readJobFile(path);
        auto stored = json::parse(text);
        if (!stored) throw std::runtime_error("not JSON");
        record = JobRecord::fromStored(*stored);
        if (record.id + ".json" != path.filename().string()) throw std::runtime_error("id does not match file name");
      } catch (const std::exception& e) {
        moveAside(path, e.what());
        continue;
      }
      auto entry = std::make_shared<Entry>();
      entry->record = record;
      entry->finished = record.terminal();
      if (!record.terminal()) {
        auto recovery = recoveries_.find(record.type);
        if (recovery != recoveries_.end()) {
          entry->runner = recovery->second(record);
          toResume.push_back(entry);
        } else {
          toFail.push_back(record);
          entry->finished = true;
        }
      }
      jobs_[record.id] = entry;
    }
    expireLocked(nowSeconds());
  }
  for (auto& record : toFail) {
    record.state = kJobFailed;
    record.error = JobError{int(Code::GeneralException),
                            "agent restarted and has no recovery for job type '" + record.type + "'"};
    record.endTime = nowSeconds();
    persist(record);
    std::lock_guard<std::mutex> lock(shared_->mutex);
    jobs_[record.id]->record = record;
    spdlog::warn("job {} ({}) failed at start-up: no recovery for its type", record.id, record.type);
  }
  for (auto& entry : toResume) {
    spdlog::info("job {} ({}) recovered in state {}", entry->record.id, entry->record.type, entry->record.state);
    launch(entry);
  }
}

JobRecord JobStore::start(JobRecord initial, std::unique_ptr<JobRunner> runner, const Conflict& conflicts) {
  if (initial.id.empty()) initial.id = newId();
  if (!validId(initial.id)) {
    throw AgentError(Code::InvalidParameter, "job id '" + initial.id + "' is not a UUID");
  }
  initial.startTime = nowSeconds();
  auto entry = std::make_shared<Entry>();
  entry->record = initial;
  entry->runner = std::move(runner);
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->stopping) throw AgentError(Code::ShuttingDown, "agent is shutting down; no new jobs");
    if (jobs_.count(initial.id)) {
      throw AgentError(Code::JobExists, "job " + initial.id + " already exists");
    }
    if (conflicts) {
      for (const auto& [id, entry] : jobs_) {
        if (entry->finished || entry->record.terminal() || !conflicts(entry->record)) continue;
        Json::Value data;
        data["jobId"] = id;
        throw AgentError(Code::JobExists, "the same work is already running as job " + id, data);
      }
    }
    persist(initial);
    jobs_[initial.id] = entry;
  }
  launch(entry);
  return initial;
}

void JobStore::launch(const std::shared_ptr<Entry>& entry) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  entry->thread = std::thread([shared = shared_, entry] {
    Control control(shared, entry);
    auto fail = [&](int code, const std::string& message) {
      try {
        control.update([&](JobRecord& r) {
          r.state = kJobFailed;
          r.error = JobError{code, message};
        });
      } catch (const std::exception& e) {
        spdlog::error("job {}: cannot record failure: {}", entry->record.id, e.what());
      }
    };
    try {
      entry->runner->run(control);
      const JobRecord after = control.record();
      if (!after.terminal() && !control.stopRequested()) {
        fail(int(Code::GeneralException), "job ended in non-terminal state " + after.state);
      }
    } catch (const AgentError& e) {
      fail(int(e.code()), e.what());
    } catch (const std::exception& e) {
      fail(int(Code::GeneralException), e.what());
    }
    const JobRecord done = control.record();
    spdlog::info("job {} ({}) left its runner in state {}", done.id, done.type, done.state);
    entry->finished = true;
  });
}

void JobStore::expireLocked(std::int64_t now) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const auto& entry = it->second;
    if (entry->finished && entry->record.terminal() && entry->record.endTime &&
        *entry->record.endTime + ttl_.count() <= now) {
      if (entry->thread.joinable()) entry->thread.join();
      std::error_code ignored;
      fs::remove(pathOf(it->first), ignored);
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<JobRecord> JobStore::list(const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  expireLocked(nowSeconds());
  std::vector<JobRecord> out;
  if (ids.empty()) {
    for (const auto& [id, entry] : jobs_) out.push_back(entry->record);
  } else {
    for (const auto& id : ids) {
      auto it = jobs_.find(id);
      if (it != jobs_.end()) out.push_back(it->second->record);
    }
  }
  return out;
}

JobRecord JobStore::get(const std::string& id) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) {
    Json::Value data;
    data["jobId"] = id;
    throw AgentError(Code::NoSuchJob, "no such job: " + id, data);
  }
  return it->second->record;
}

JobRecord JobStore::abort(const std::string& id) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  auto it = jobs_.find(id);
  Json::Value data;
  data["jobId"] = id;
  if (it == jobs_.end()) throw AgentError(Code::NoSuchJob, "no such job: " + id, data);
  auto& entry = it->second;
  data["state"] = entry->record.state;
  if (entry->record.terminal() || entry->finished) {
    throw AgentError(Code::JobNotActive, "job " + id + " is not running (state " + entry->record.state + ")", data);
  }
  if (!entry->runner || !entry->runner->abortable()) {
    throw AgentError(Code::AbortNotSupported, "job " + id + " (" + entry->record.type + ") cannot be aborted", data);
  }
  entry->abortRequested = true;
  shared_->wake.notify_all();
  spdlog::info("job {} abort requested in state {}", id, entry->record.state);
  return entry->record;
}

size_t JobStore::nudge(const std::function<bool(const JobRecord&)>& matches) {
  size_t count = 0;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    for (auto& [id, entry] : jobs_) {
      if (entry->finished || entry->record.terminal() || !matches(entry->record)) continue;
      entry->nudged = true;
      ++count;
    }
  }
  if (count > 0) shared_->wake.notify_all();
  return count;
}

void JobStore::stop(std::chrono::milliseconds timeout) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
    for (auto& [id, entry] : jobs_) entries.push_back(entry);
  }
  shared_->wake.notify_all();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& entry : entries) {
    if (!entry->thread.joinable()) continue;  // joined, or left to recovery by an earlier stop
    while (!entry->finished && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (entry->thread.joinable()) {
      if (entry->finished) {
        entry->thread.join();
      } else {
        // Its state is on disk; the next start recovers it.
        spdlog::warn("job {} did not stop in time; leaving it to recovery", entry->record.id);
        entry->thread.detach();
      }
    }
  }
}

std::string JobStore::newId() { return newUuid(); }

bool JobStore::validId(const std::string& id) { return isUuid(id); }

}  // namespace gdr
