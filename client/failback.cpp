#include "client/failback.h"

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "core/clock.h"
#include "core/durable_file.h"
#include "core/json_util.h"

namespace gdr::sync {

namespace {

constexpr std::pair<FailbackStage, const char*> kStageNames[] = {
    {FailbackStage::Protect, "PROTECT"}, {FailbackStage::CatchUp, "CATCH_UP"}, {FailbackStage::Pause, "PAUSE"},
    {FailbackStage::Last, "LAST"},       {FailbackStage::Switch, "SWITCH"},    {FailbackStage::PowerOff, "POWER_OFF"},
    {FailbackStage::Restore, "RESTORE"}, {FailbackStage::Done, "DONE"}};

Json::Value vmJson(const FailbackVm& vm) {
  Json::Value v;
  v["host"] = vm.host;
  v["vmId"] = vm.vmId;
  v["name"] = vm.name;
  return v;
}

std::string names(const std::vector<FailbackVm>& vms) {
  std::string out;
  for (const auto& vm : vms) out += (out.empty() ? "" : ", ") + vm.name;
  return out;
}

}  // namespace

const char* stageName(FailbackStage stage) {
  for (const auto& [s, name] : kStageNames) {
    if (s == stage) return name;
  }
  return "?";
}

std::optional<FailbackStage> stageFromName(const std::string& name) {
  for (const auto& [s, n] : kStageNames) {
    if (name == n) return s;
  }
  return std::nullopt;
}

Json::Value failbackToJson(const FailbackState& s) {
  Json::Value j;
  j["stage"] = stageName(s.stage);
  j["catchUpPoint"] = s.catchUpPoint;
  j["lastPoint"] = s.lastPoint;
  j["vms"] = Json::Value(Json::arrayValue);
  for (const auto& vm : s.vms) j["vms"].append(vmJson(vm));
  j["switchJob"] = s.switchJob;
  j["rtoSeconds"] = s.rtoSeconds;
  if (!s.switchDetails.isNull()) j["switch"] = s.switchDetails;
  j["stageSeconds"] = Json::Value(Json::objectValue);
  for (const auto& [stage, seconds] : s.stageSeconds) j["stageSeconds"][stage] = seconds;
  j["windowStart"] = s.windowStart;
  j["windowSeconds"] = s.windowSeconds;
  j["removedSessions"] = Json::Value(Json::arrayValue);
  for (const auto& r : s.removedSessions) j["removedSessions"].append(r);
  j["restoredSession"] = s.restoredSession;
  if (!s.failure.empty()) j["failure"] = s.failure;
  j["startTime"] = Json::Int64(s.startTime);
  j["endTime"] = Json::Int64(s.endTime);
  j["status"] = s.stage == FailbackStage::Done ? "success" : s.failure.empty() ? "running" : "failed";
  return j;
}

FailbackState failbackFromJson(const Json::Value& j) {
  if (!j.isObject()) throw std::runtime_error("not a JSON object");
  FailbackState s;
  const auto stage = stageFromName(j["stage"].asString());
  if (!stage) throw std::runtime_error("unknown stage '" + j["stage"].asString() + "'");
  s.stage = *stage;
  s.catchUpPoint = j["catchUpPoint"].asString();
  s.lastPoint = j["lastPoint"].asString();
  for (const auto& v : j["vms"]) s.vms.push_back({v["host"].asString(), v["vmId"].asString(), v["name"].asString()});
  s.switchJob = j["switchJob"].asString();
  s.rtoSeconds = j["rtoSeconds"].asDouble();
  if (j.isMember("switch")) s.switchDetails = j["switch"];
  for (const auto& stageKey : j["stageSeconds"].getMemberNames()) {
    s.stageSeconds[stageKey] = j["stageSeconds"][stageKey].asDouble();
  }
  s.windowStart = j["windowStart"].asDouble();
  s.windowSeconds = j["windowSeconds"].asDouble();
  for (const auto& r : j["removedSessions"]) s.removedSessions.push_back(r.asString());
  s.restoredSession = j["restoredSession"].asString();
  s.failure = j["failure"].asString();
  s.startTime = j["startTime"].asInt64();
  s.endTime = j["endTime"].asInt64();
  return s;
}

FileFailbackStore::FileFailbackStore(std::string stateDir) : path_(std::move(stateDir) + "/failback.json") {}

std::optional<FailbackState> FileFailbackStore::load() {
  std::ifstream in(path_);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  const auto json = gdr::json::parse(text.str(), &error);
  if (!json) throw std::runtime_error(path_ + " is not JSON (" + error + "): move it aside to start anew");
  try {
    return failbackFromJson(*json);
  } catch (const std::exception& e) {
    throw std::runtime_error(path_ + ": " + e.what() + ": move it aside to start anew");
  }
}

void FileFailbackStore::save(const FailbackState& state) {
  writeFileDurably(path_, gdr::json::pretty(failbackToJson(state)) + "\n");
}

Failback::Failback(FailbackActions& actions, FailbackStore& store, FailbackProgress progress,
                   std::function<double()> clock)
    : actions_(actions), store_(store), progress_(std::move(progress)), clock_(std::move(clock)) {}

FailbackState Failback::run() {
  const std::optional<FailbackState> stored = store_.load();
  if (stored && stored->stage != FailbackStage::Done) {
    state_ = *stored;
    progress_(state_.stage, std::string("resumed at ") + stageName(state_.stage) +
                                (state_.failure.empty() ? "" : " (it stopped there: " + state_.failure + ")"));
  } else {
    state_ = FailbackState{};
    state_.startTime = gdr::nowSeconds();
  }
  state_.failure.clear();
  // One method per stage; each enters the next once it is done.
  using Method = void (Failback::*)();
  static const std::map<FailbackStage, Method> kMethods = {
      {FailbackStage::Protect, &Failback::protect},   {FailbackStage::CatchUp, &Failback::catchUp},
      {FailbackStage::Pause, &Failback::pause},       {FailbackStage::Last, &Failback::last},
      {FailbackStage::Switch, &Failback::switchOver}, {FailbackStage::PowerOff, &Failback::powerOff},
      {FailbackStage::Restore, &Failback::restore}};
  while (state_.stage != FailbackStage::Done) {
    const FailbackStage stage = state_.stage;
    const double started = clock_();
    std::optional<std::string> failed;
    try {
      (this->*kMethods.at(stage))();
    } catch (const std::exception& e) {
      failed = e.what();
    }
    state_.stageSeconds[stageName(stage)] += clock_() - started;
    if (failed) {
      state_.failure = std::string(stageName(stage)) + ": " + *failed;
      save();
      progress_(stage, "FAILED: " + *failed);
      return state_;
    }
    save();
  }
  return state_;
}

void Failback::save() { store_.save(state_); }

void Failback::enter(FailbackStage next) {
  state_.stage = next;
  if (next == FailbackStage::Done) state_.endTime = gdr::nowSeconds();
  save();
}

void Failback::protect() {
  save();
  actions_.protect();
  progress_(FailbackStage::Protect, "the reverse session is set up");
  enter(FailbackStage::CatchUp);
}

void Failback::catchUp() {
  save();
  const FailbackCycle c = actions_.cycle("catch-up");
  if (!c.ok) throw std::runtime_error("the catch-up cycle failed: " + c.failure);
  if (c.vms.empty()) throw std::runtime_error("the catch-up cycle protected no VM: none runs at the secondary");
  state_.catchUpPoint = c.pointId;
  state_.vms = c.vms;
  progress_(FailbackStage::CatchUp, "point " + c.pointId + " at the primary; VMs " + names(c.vms));
  enter(FailbackStage::Pause);
}

void Failback::pause() {
  state_.windowStart = clock_();
  save();
  std::vector<FailbackVm> paused;
  for (const auto& vm : state_.vms) {
    try {
      actions_.pause(vm);
    } catch (const std::exception& e) {
      resumeAll(paused);
      throw std::runtime_error("cannot pause " + vm.name + ": " + e.what() + "; the others run on at the secondary");
    }
    paused.push_back(vm);
  }
  progress_(FailbackStage::Pause, "paused at the secondary: " + names(paused));
  enter(FailbackStage::Last);
}

void Failback::last() {
  save();
  FailbackCycle c;
  try {
    c = actions_.cycle("last");
  } catch (const std::exception& e) {
    c.failure = e.what();
  }
  std::string missing, ran, appeared;
  if (c.ok) {
    for (const auto& vm : state_.vms) {
      bool found = false;
      for (const auto& got : c.vms) found = found || got.vmId == vm.vmId;
      if (!found) missing += (missing.empty() ? "" : ", ") + vm.name;
    }
    // A VM started here after the catch-up is in the point, and the
    // failover would start it at the primary while it runs on here.
    for (const auto& got : c.vms) {
      bool known = false;
      for (const auto& vm : state_.vms) known = known || got.vmId == vm.vmId;
      if (known) continue;
      appeared += (appeared.empty() ? "" : ", ") + got.name;
      state_.vms.push_back(got);  // the next run pauses it too
    }
    // Paused again: a VM someone resumed meanwhile wrote past the point
    // (and POWER_OFF would refuse it, leaving it running at both sites).
    for (const auto& vm : state_.vms) {
      if (actions_.pause(vm)) ran += (ran.empty() ? "" : ", ") + vm.name;
    }
  }
  if (!c.ok || !missing.empty() || !ran.empty() || !appeared.empty()) {
    // The window closes again: the VMs go on at the secondary, and the next
    // run pauses them anew.
    state_.stage = FailbackStage::Pause;
    save();
    resumeAll(state_.vms);
    const std::string why = !c.ok              ? "the last cycle failed: " + c.failure
                            : !missing.empty() ? "the last cycle's point lacks " + missing
                            : !appeared.empty()
                                ? appeared + " started at the secondary after the catch-up (it was not paused)"
                                : ran +
                                      " ran during the last cycle (resumed by hand?): its point "
                                      "misses their writes";
    throw std::runtime_error(why + "; the VMs run on at the secondary");
  }
  state_.lastPoint = c.pointId;
  progress_(FailbackStage::Last, "point " + c.pointId + ": every write of the paused VMs");
  enter(FailbackStage::Switch);
}

void Failback::switchOver() {
  if (state_.switchJob.empty()) {
    // Chosen and kept before the call: a run cut off mid-call finds the job
    // by this id instead of starting a second failover.
    state_.switchJob = actions_.newJobId();
    save();
  }
  actions_.startSwitch(state_.lastPoint, state_.switchJob);
  progress_(FailbackStage::Switch, "failover job " + state_.switchJob + " at the primary, point " + state_.lastPoint);
  const FailbackSwitch r = actions_.followSwitch(state_.switchJob);
  if (!r.ok) {
    // The next run starts a new failover: one that failed can be repeated.
    state_.switchJob.clear();
    save();
    throw std::runtime_error("the failover at the primary failed: " + r.failure +
                             "; the VMs stay paused at the secondary (run failback again to retry)");
  }
  state_.rtoSeconds = r.rtoSeconds;
  state_.switchDetails = r.details;
  state_.windowSeconds = clock_() - state_.windowStart;
  progress_(FailbackStage::Switch, "every VM runs at the primary");
  enter(FailbackStage::PowerOff);
}

void Failback::powerOff() {
  save();
  for (const auto& vm : state_.vms) actions_.powerOff(vm);
  progress_(FailbackStage::PowerOff, "powered off at the secondary: " + names(state_.vms));
  enter(FailbackStage::Restore);
}

void Failback::restore() {
  save();
  const FailbackRestore r = actions_.restore(state_.lastPoint);
  state_.removedSessions = r.removedSessions;
  state_.restoredSession = r.session;
  progress_(FailbackStage::Restore, "the original direction again: " + r.session);
  enter(FailbackStage::Done);
}

void Failback::resumeAll(const std::vector<FailbackVm>& vms) {
  for (const auto& vm : vms) {
    try {
      actions_.resume(vm);
    } catch (const std::exception& e) {
      progress_(state_.stage, "cannot resume " + vm.name + " at the secondary: " + e.what() +
                                  " (gdr-client VM cont vmID=" + vm.vmId + ")");
    }
  }
}

}  // namespace gdr::sync
