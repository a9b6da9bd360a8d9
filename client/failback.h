#pragma once
// `gdr-sync failback`: the VMs that a failover started at the secondary
// site go home to the primary, in stages, each one persisted before it
// acts so that a run cut off (kill -9, a lost site, a failed step) is
// resumed by the next run from where it stood:
//
//   PROTECT   the reverse session (secondary -> primary) set up
//   CATCH_UP  one reverse cycle with the VMs running: the bulk of the copy,
//             outside the window
//   PAUSE     the window opens: every VM paused at the secondary
//   LAST      a last reverse cycle: its point holds every write
//   SWITCH    a failover at the primary from that point (its agent's job)
//   POWER_OFF the paused copies at the secondary powered off
//   RESTORE   the original direction: the last point's files checked on
//             the secondary, the reverse session and any stale
//             session into the secondary gone, the session primary ->
//             secondary set up onto the copy the secondary already holds
//   DONE
//
// A failure before SWITCH gives the VMs back at the secondary (resumed)
// and leaves the stage to be run again; from SWITCH on the VMs are never
// resumed at the secondary (some may already run at the primary): the
// stage stays, the next run retries it.
//
// Pure: the sites are behind FailbackActions, the state behind
// FailbackStore; unit tests give both fakes.
#include <json/value.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gdr::sync {

enum class FailbackStage { Protect, CatchUp, Pause, Last, Switch, PowerOff, Restore, Done };

const char* stageName(FailbackStage stage);
std::optional<FailbackStage> stageFromName(const std::string& name);

// A VM running at the secondary, as a reverse cycle found it.
struct FailbackVm {
  std::string host;  // its agent's endpoint
  std::string vmId, name;
};

// What one reverse cycle did: its point once it succeeded, every VM it
// protected, or why it failed.
struct FailbackCycle {
  bool ok = false;
  std::string pointId;
  std::vector<FailbackVm> vms;
  std::string failure;
};

// The failover at the primary, followed to its end.
struct FailbackSwitch {
  bool ok = false;
  double rtoSeconds = 0;
  std::string failure;
  Json::Value details;  // the failover job's: its mount, each VM's disks and RTO
};

// What the restored direction took: the sessions removed, the one set up.
struct FailbackRestore {
  std::vector<std::string> removedSessions;  // "VOLUME -> HOST::VOLUME (where)"
  std::string session;                       // the restored one
};

// What a failback asks of the two sites. Each throws std::exception with a
// message for the operator when it fails.
class FailbackActions {
 public:
  virtual ~FailbackActions() = default;
  virtual void protect() = 0;  // the reverse session, set up or found
  virtual FailbackCycle cycle(const std::string& purpose) = 0;
  virtual bool pause(const FailbackVm& vm) = 0;  // true: it ran until now
  virtual void resume(const FailbackVm& vm) = 0;
  virtual std::string newJobId() = 0;
  // The failover at the primary from `pointId`, as job `jobId`; a job by
  // that id already there is the one a cut-off run started.
  virtual void startSwitch(const std::string& pointId, const std::string& jobId) = 0;
  virtual FailbackSwitch followSwitch(const std::string& jobId) = 0;
  virtual void powerOff(const FailbackVm& vm) = 0;
  virtual FailbackRestore restore(const std::string& pointId) = 0;
};

struct FailbackState {
  FailbackStage stage = FailbackStage::Protect;
  std::string catchUpPoint, lastPoint;
  std::vector<FailbackVm> vms;                 // those the last cycle protected: paused, switched, powered off
  std::string switchJob;                       // the failover job at the primary, once started
  double rtoSeconds = 0;                       // the switch's
  Json::Value switchDetails;                   // the failover job's, as its agent reported them
  std::map<std::string, double> stageSeconds;  // time spent in each stage, every run
  double windowStart = 0;                      // the clock at the pause
  double windowSeconds = 0;                    // from the pause to every VM running at the primary
  std::vector<std::string> removedSessions;
  std::string restoredSession;
  std::string failure;  // "STAGE: why", empty once a run got through
  std::int64_t startTime = 0, endTime = 0;
};

Json::Value failbackToJson(const FailbackState& state);
FailbackState failbackFromJson(const Json::Value& json);  // throws std::runtime_error

// Where the state lives between runs.
class FailbackStore {
 public:
  virtual ~FailbackStore() = default;
  virtual std::optional<FailbackState> load() = 0;
  virtual void save(const FailbackState& state) = 0;
};

// STATE_DIR/failback.json, replaced durably.
class FileFailbackStore : public FailbackStore {
 public:
  explicit FileFailbackStore(std::string stateDir);
  std::optional<FailbackState> load() override;
  void save(const FailbackState& state) override;

 private:
  std::string path_;
};

// Progress: (stage, line) as things happen.
using FailbackProgress = std::function<void(FailbackStage, const std::string&)>;

class Failback {
 public:
  Failback(FailbackActions& actions, FailbackStore& store, FailbackProgress progress, std::function<double()> clock);
  // From the stored stage (a new failback when none is stored, or the
  // stored one is done) to DONE or the first failure; the state either way.
  FailbackState run();

 private:
  void protect();
  void catchUp();
  void pause();
  void last();
  void switchOver();
  void powerOff();
  void restore();
  void resumeAll(const std::vector<FailbackVm>& vms);
  void enter(FailbackStage next);
  void save();

  FailbackActions& actions_;
  FailbackStore& store_;
  FailbackProgress progress_;
  std::function<double()> clock_;
  FailbackState state_;
  double windowStart_ = -1;
};

}  // namespace gdr::sync
