#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <sys/stat.h>

#include "core/errors.h"
#include "core/job_store.h"
#include "core/json_util.h"

namespace gdr {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A job that steps through STEP1, STEP2 and DONE, pausing at each step
// until told to go on; it honours abort and stop.
class SteppingJob : public JobRunner {
 public:
  explicit SteppingJob(std::atomic<int>* gate, bool abortable = true) : gate_(gate), abortable_(abortable) {}
  void run(JobControl& job) override {
    const char* steps[] = {"STEP1", "STEP2"};
    for (int i = job.record().state == "STEP2" ? 1 : 0; i < 2; ++i) {
      job.update([&](JobRecord& r) {
        r.state = steps[i];
        r.progress = 40 * (i + 1);
        r.details["step"] = i + 1;
      });
      while (gate_->load() <= i) {
        if (job.waitFor(5ms)) {
          if (job.stopRequested()) return;
          job.update([](JobRecord& r) { r.state = kJobAborted; });
          return;
        }
      }
    }
    job.update([](JobRecord& r) { r.state = kJobDone; });
  }
  bool abortable() const override { return abortable_; }

 private:
  std::atomic<int>* gate_;
  bool abortable_;
};

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("gdr-jobs-" + JobStore::newId());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static JobRecord waitForState(JobStore& store, const std::string& id, const std::string& state) {
    for (int i = 0; i < 1000; ++i) {
      JobRecord r = store.get(id);
      if (r.state == state) return r;
      std::this_thread::sleep_for(5ms);
    }
    ADD_FAILURE() << "job " << id << " never reached " << state << " (is " << store.get(id).state << ")";
    return store.get(id);
  }

  Json::Value stored(const std::string& id) {
    std::ifstream in(dir_ / "jobs" / (id + ".json"));
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str()).value_or(Json::Value());
  }

  void writeJob(const std::string& id, const std::string& type, const std::string& state,
                std::optional<std::int64_t> endTime) {
    JobRecord r;
    r.id = id;
    r.type = type;
    r.state = state;
    r.startTime = nowSeconds() - 100;
    r.endTime = endTime;
    fs::create_directories(dir_ / "jobs");
    std::ofstream(dir_ / "jobs" / (id + ".json")) << json::pretty(r.toStored());
  }

  fs::path dir_;
};

TEST_F(JobStoreTest, RunsPersistsAndFinishes) {
  std::atomic<int> gate{0};
  JobStore store(dir_, 3600s);
  JobRecord initial;
  initial.type = "test.step";
  initial.state = "INIT";
  const std::string id = store.start(initial, std::make_unique<SteppingJob>(&gate)).id;
  EXPECT_TRUE(JobStore::validId(id));
  waitForState(store, id, "STEP1");
  EXPECT_EQ(stored(id)["state"], "STEP1");  // on disk as soon as visible
  EXPECT_EQ(stored(id)["details"]["step"], 1);
  gate = 2;
  const JobRecord done = waitForState(store, id, kJobDone);
  EXPECT_EQ(done.progress, 100);
  ASSERT_TRUE(done.endTime.has_value());
  EXPECT_EQ(done.toJson()["step"], 2);  // type-specific fields at the top level
  EXPECT_TRUE(done.toJson()["error"].isNull());
}

TEST_F(JobStoreTest, AbortEndsInAborted) {
  std::atomic<int> gate{0};
  JobStore store(dir_, 3600s);
  JobRecord initial;
  initial.type = "test.step";
  initial.state = "INIT";
  const std::string id = store.start(initial, std::make_unique<SteppingJob>(&gate)).id;
  waitForState(store, id, "STEP1");
  store.abort(id);
  waitForState(store, id, kJobAborted);
  try {
    store.abort(id);
    ADD_FAILURE() << "aborted twice";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::JobNotActive);
  }
}

TEST_F(JobStoreTest, AbortErrors) {
  std::atomic<int> gate{0};
  JobStore store(dir_, 3600s);
  try {
    store.abort(JobStore::newId());
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::NoSuchJob);
  }
  JobRecord initial;
  initial.type = "test.step";
  initial.state = "INIT";
  const std::string id = store.start(initial, std::make_unique<SteppingJob>(&gate, false)).id;
  try {
    store.abort(id);
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::AbortNotSupported);
  }
  gate = 2;
  waitForState(store, id, kJobDone);
}

TEST_F(JobStoreTest, DuplicateAndMalformedIds) {
  std::atomic<int> gate{2};
  JobStore store(dir_, 3600s);
  JobRecord initial;
  initial.type = "test.step";
  initial.state = "INIT";
  initial.id = JobStore::newId();
  store.start(initial, std::make_unique<SteppingJob>(&gate));
  try {
    store.start(initial, std::make_unique<SteppingJob>(&gate));
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::JobExists);
  }
  initial.id = "../../etc/passwd";
  EXPECT_THROW(store.start(initial, std::make_unique<SteppingJob>(&gate)), AgentError);
  EXPECT_FALSE(JobStore::validId("0123456789abcdef0123456789abcdef0123"));
  EXPECT_TRUE(JobStore::validId("01234567-89ab-cdef-0123-456789abcdef"));
}

TEST_F(JobStoreTest, StopLeavesJobForRecoveryAndRestartResumesIt) {
  std::atomic<int> gate{1};  // passes STEP1, waits at STEP2
  std::string id;
  {
    JobStore store(dir_, 3600s);
    JobRecord initial;
    initial.type = "test.step";
    initial.state = "INIT";
    id = store.start(initial, std::make_unique<SteppingJob>(&gate)).id;
    waitForState(store, id, "STEP2");
    store.stop(5s);
  }
  EXPECT_EQ(stored(id)["state"], "STEP2");
  JobStore store(dir_, 3600s);
  std::string recoveredFrom;
  store.registerType("test.step", [&](const JobRecord& r) {
    recoveredFrom = r.state;
    return std::make_unique<SteppingJob>(&gate);
  });
  store.load();
  EXPECT_EQ(recoveredFrom, "STEP2");
  gate = 2;
  waitForState(store, id, kJobDone);
}

TEST_F(JobStoreTest, ConcurrentStartsOfTheSameWorkStartOneJob) {
  // As two GlusterVolume.geoRepSync calls for one session at once.
  JobStore store(dir_, 3600s);
  std::atomic<int> gate{0};
  std::atomic<int> started{0}, refused{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      JobRecord r;
      r.type = "sync";
      r.state = "INIT";
      try {
        store.start(r, std::make_unique<SteppingJob>(&gate),
                    [](const JobRecord& running) { return running.type == "sync"; });
        ++started;
      } catch (const AgentError& e) {
        EXPECT_EQ(e.code(), Code::JobExists);
        EXPECT_TRUE(e.data()["jobId"].isString());
        ++refused;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(started, 1);
  EXPECT_EQ(refused, 7);
  gate = 2;
}

TEST_F(JobStoreTest, NothingInTheStateDirStopsStartUp) {
  const fs::path jobs = dir_ / "jobs";
  fs::create_directories(jobs);
  const std::string good = JobStore::newId();
  writeJob(good, "other", kJobDone, nowSeconds());
  // A FIFO (opening it for reading would block), a link to a device, a file
  // too large to be a job, and a corrupt file that cannot be moved aside
  // (a directory holds the name it would take).
  ASSERT_EQ(::mkfifo((jobs / (JobStore::newId() + ".json")).c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", jobs / (JobStore::newId() + ".json"));
  std::ofstream(jobs / (JobStore::newId() + ".json")) << std::string(JobStore::kMaxJobFileBytes + 1, ' ');
  const fs::path stuck = jobs / (JobStore::newId() + ".json");
  std::ofstream(stuck) << "{not json";
  fs::create_directories(fs::path(stuck.string() + ".corrupt") / "keep");

  JobStore store(dir_, 3600s);
  auto loaded = std::async(std::launch::async, [&] { store.load(); });
  ASSERT_EQ(loaded.wait_for(10s), std::future_status::ready) << "load() hung";
  loaded.get();
  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.list()[0].id, good);
  EXPECT_TRUE(fs::exists(stuck));  // left in place, never deleted
  size_t aside = 0;
  for (const auto& f : fs::directory_iterator(jobs)) aside += f.path().extension() == ".corrupt";
  EXPECT_EQ(aside, 4u);  // three moved aside, and the directory in the way
}

// A runner stuck in a call that ignores the stop request (a libvirt call
// that hangs): it outlives stop()'s timeout, and the store itself.
class StuckJob : public JobRunner {
 public:
  explicit StuckJob(std::atomic<bool>* release) : release_(release) {}
  void run(JobControl& job) override {
    job.update([](JobRecord& r) { r.state = "STUCK"; });
    while (!release_->load()) std::this_thread::sleep_for(1ms);
    // Back from the call: the record is persisted, and waiting still works.
    job.update([](JobRecord& r) { r.state = "AFTER"; });
    job.waitFor(1ms);
    finished = true;
  }
  std::atomic<bool>* release_;
  static inline std::atomic<bool> finished{false};
};

TEST_F(JobStoreTest, AJobThatOutlivesTheStoreStillPersistsSafely) {
  std::atomic<bool> release{false};
  std::string id;
  {
    JobStore store(dir_, 3600s);
    JobRecord r;
    r.type = "stuck";
    r.state = "INIT";
    id = store.start(r, std::make_unique<StuckJob>(&release)).id;
    waitForState(store, id, "STUCK");
    store.stop(20ms);  // gives up on it: left to recovery
  }  // the store is gone; its job's thread is not
  release = true;
  for (int i = 0; i < 1000 && !StuckJob::finished; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_TRUE(StuckJob::finished);
  EXPECT_EQ(stored(id)["state"], "AFTER");  // written to the state dir the store had
}

TEST_F(JobStoreTest, LoadFailsUnknownTypesExpiresOldJobsAndKeepsCorruptFiles) {
  const std::string running = JobStore::newId(), recent = JobStore::newId(), old = JobStore::newId();
  writeJob(running, "test.nobody", "COMMIT", std::nullopt);
  writeJob(recent, "test.step", kJobDone, nowSeconds() - 10);
  writeJob(old, "test.step", kJobDone, nowSeconds() - 7200);
  std::ofstream(dir_ / "jobs" / "01234567-89ab-cdef-0123-456789abcdef.json") << "{not json";

  JobStore store(dir_, 3600s);
  store.load();
  const auto jobs = store.list();
  ASSERT_EQ(jobs.size(), 2u);
  const JobRecord failed = store.get(running);
  EXPECT_EQ(failed.state, kJobFailed);
  ASSERT_TRUE(failed.error.has_value());
  EXPECT_NE(failed.error->message.find("test.nobody"), std::string::npos);
  EXPECT_EQ(stored(running)["state"], kJobFailed);
  EXPECT_EQ(store.get(recent).state, kJobDone);
  EXPECT_THROW(store.get(old), AgentError);
  EXPECT_FALSE(fs::exists(dir_ / "jobs" / (old + ".json")));
  EXPECT_TRUE(fs::exists(dir_ / "jobs" / "01234567-89ab-cdef-0123-456789abcdef.json.corrupt"));
  EXPECT_EQ(store.list({recent, "missing"}).size(), 1u);
}

TEST_F(JobStoreTest, RunnerExceptionFailsTheJobWithItsCode) {
  class Throwing : public JobRunner {
    void run(JobControl&) override { throw AgentError(Code::MergeFailed, "blockCommit vda: gone"); }
  };
  JobStore store(dir_, 3600s);
  JobRecord initial;
  initial.type = "test.throw";
  initial.state = "INIT";
  const std::string id = store.start(initial, std::make_unique<Throwing>()).id;
  const JobRecord r = waitForState(store, id, kJobFailed);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, 52);
  EXPECT_EQ(r.error->message, "blockCommit vda: gone");
}

// A job that sleeps long between looks and counts the nudges that woke it.
class SleepyJob : public JobRunner {
 public:
  void run(JobControl& job) override {
    job.update([](JobRecord& r) { r.state = "WAITING"; });
    while (!job.abortRequested() && !job.stopRequested()) {
      const auto before = std::chrono::steady_clock::now();
      const bool stopping = job.waitFor(60s);
      if (stopping) break;
      if (job.takeNudge()) {
        EXPECT_FALSE(job.takeNudge());  // taking it clears it
        const auto slept = std::chrono::steady_clock::now() - before;
        job.update([&](JobRecord& r) {
          r.details["nudges"] = r.details.get("nudges", 0).asInt() + 1;
          r.details["wokeEarly"] = slept < 30s;
        });
      }
    }
    job.update([](JobRecord& r) { r.state = kJobAborted; });
  }
};

TEST_F(JobStoreTest, NudgeWakesOnlyTheMatchingRunningJobs) {
  JobStore store(dir_, 3600s);
  JobRecord a;
  a.type = "sleepy";
  a.state = "INIT";
  a.details["session"] = "one";
  JobRecord b = a;
  b.details["session"] = "two";
  const std::string idA = store.start(a, std::make_unique<SleepyJob>()).id;
  const std::string idB = store.start(b, std::make_unique<SleepyJob>()).id;
  waitForState(store, idA, "WAITING");
  waitForState(store, idB, "WAITING");
  auto isOne = [](const JobRecord& r) { return r.details["session"] == "one"; };
  EXPECT_EQ(store.nudge(isOne), 1u);
  for (int i = 0; i < 1000 && store.get(idA).details.get("nudges", 0).asInt() == 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(store.get(idA).details.get("nudges", 0).asInt(), 1);
  EXPECT_TRUE(store.get(idA).details["wokeEarly"].asBool());
  EXPECT_EQ(store.get(idB).details.get("nudges", 0).asInt(), 0);
  store.abort(idA);
  waitForState(store, idA, kJobAborted);
  EXPECT_EQ(store.nudge(isOne), 0u);  // finished jobs are not nudged
  store.abort(idB);
  waitForState(store, idB, kJobAborted);
}

}  // namespace
}  // namespace gdr
