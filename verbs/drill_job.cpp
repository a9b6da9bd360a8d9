#include "verbs/drill_job.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/clock.h"
#include "core/durable_file.h"
#include "core/errors.h"
#include "core/uuid.h"
#include "verbs/older_point.h"

namespace gdr {

using State = DrillJob::State;

namespace {

std::int64_t nowMs() { return nowMilliseconds(); }

bool pending(const api::DrillVm& vm) { return vm.result == "pending"; }

void failVm(api::DrillVm& vm, const std::string& why) {
  vm.result = "failed";
  vm.why = why;
}

std::string overlayPath(const api::DrillJobDetails& d, const api::DrillVm& vm, const std::string& drive) {
  return d.scratchDir + "/" + vm.drillName + "-" + drive + ".qcow2";
}

}  // namespace

std::string drillNameOf(const std::string& vmName, const std::string& jobId) {
  return "drill-" + vmName + "-" + jobId.substr(0, 8);
}

std::vector<virt::ChainImage> pointChain(const std::string& mountPoint, const api::PointDisk& disk) {
  std::vector<virt::ChainImage> chain;
  const auto deltas = disk.deltas();  // oldest first
  for (auto it = deltas.rbegin(); it != deltas.rend(); ++it) {
    chain.push_back({onMount(mountPoint, (*it)->path), (*it)->format});
  }
  chain.push_back({onMount(mountPoint, disk.path), disk.format});
  return chain;
}

std::string onMount(const std::string& mountPoint, const std::string& volumePath) {
  return (std::filesystem::path(mountPoint) / volumePath).lexically_normal().string();
}

JobRecord newDrillRecord(const api::DrillParams& p, const std::string& scratchDir) {
  JobRecord r;
  r.id = p.jobUUID.value_or("");
  r.type = api::kDrillJobType;
  r.state = api::enumName(State::Init);
  api::DrillJobDetails d;
  d.volfileServers = p.volfileServers;
  d.volumeName = p.volumeName;
  d.pointId = p.pointId;
  d.only = p.vms;
  d.bootTimeout = p.bootTimeout;
  d.scratchDir = scratchDir;
  d.movedAt = nowMs();
  r.details = api::encode(d);
  return r;
}

const api::Transitions<State>& DrillJob::transitions() {
  static const api::Transitions<State> table = {
      {State::Init, {State::Check, State::Cleanup}},
      {State::Check, {State::Prepare, State::Cleanup}},
      {State::Prepare, {State::Boot, State::Cleanup}},
      {State::Boot, {State::Watch, State::Cleanup}},
      {State::Watch, {State::Cleanup}},
      {State::Cleanup, {State::Done, State::Failed, State::Aborted}},
  };
  return table;
}

void DrillJob::moveTo(JobControl& job, State next, int progress,
                      const std::function<void(api::DrillJobDetails&)>& change) {
  const JobRecord record = job.record();
  if (!api::allowedMove(transitions(), record.state, next)) {
    throw AgentError(Code::GeneralException, "drill: no move from " + record.state + " to " + api::enumName(next));
  }
  job.update([&](JobRecord& r) {
    const std::string left = r.state;
    r.state = api::enumName(next);
    if (progress >= 0) r.progress = progress;
    auto d = api::decode<api::DrillJobDetails>(r.details);
    if (change) change(d);
    const std::int64_t now = nowMs();
    if (d.movedAt) d.stateSeconds[left] += double(now - d.movedAt) / 1000.0;
    d.movedAt = now;
    r.details = api::encode(d);
  });
}

void DrillJob::note(JobControl& job, const std::function<void(api::DrillJobDetails&)>& change) {
  job.update([&](JobRecord& r) {
    auto d = api::decode<api::DrillJobDetails>(r.details);
    change(d);
    r.details = api::encode(d);
  });
}

void DrillJob::windDown(JobControl& job, State outcome, const JobError& error) {
  error_ = error;
  moveTo(job, State::Cleanup, -1, [&](api::DrillJobDetails& d) {
    d.outcome = outcome;
    for (auto& vm : d.vms) {
      if (pending(vm)) failVm(vm, error.message);
    }
  });
}

void DrillJob::run(JobControl& job) {
  std::optional<State> state = api::enumFromName<State>(job.record().state);
  if (resumed_ && (state == State::Boot || state == State::Watch)) {
    windDown(job, State::Failed,
             {int(Code::DrillFailed), "the agent restarted during the drill: its guests were not watched"});
  }
  while (!job.stopRequested()) {
    state = api::enumFromName<State>(job.record().state);
    if (!state || api::isTerminalState(job.record().state)) return;
    if (job.abortRequested() && *state != State::Cleanup) {
      windDown(job, State::Aborted, {int(Code::DrillFailed), "aborted"});
      continue;
    }
    try {
      step(job, *state);
    } catch (const AgentError& e) {
      if (*state == State::Cleanup) throw;  // nothing else to wind down to
      spdlog::warn("drill {}: {} failed: {}", job.record().id, api::enumName(*state), e.what());
      windDown(job, State::Failed, {int(e.code()), e.what()});
    } catch (const std::exception& e) {
      if (*state == State::Cleanup) throw;
      windDown(job, State::Failed, {int(Code::DrillFailed), e.what()});
    }
  }
}

void DrillJob::step(JobControl& job, State state) {
  switch (state) {
    case State::Init: return init(job);
    case State::Check: return check(job);
    case State::Prepare: return prepare(job);
    case State::Boot: return boot(job);
    case State::Watch: return watch(job);
    case State::Cleanup: return cleanup(job);
    default: return;
  }
}

void DrillJob::init(JobControl& job) { moveTo(job, State::Check, 5); }

void DrillJob::check(JobControl& job) {
  auto d = api::decode<api::DrillJobDetails>(job.record().details);
  const api::PointManifest manifest = tools_.point.manifest(d);
  const api::PointCheckResult checked = tools_.point.check(d);
  const auto asked = [&](const std::string& name) {
    return d.only.empty() || std::find(d.only.begin(), d.only.end(), name) != d.only.end();
  };
  // A throwaway copy: its own name and UUID.
  const auto copyOf = [&](const std::string& vmId, const std::string& name) {
    api::DrillVm vm;
    vm.vmId = vmId;
    vm.name = name;
    vm.drillName = drillNameOf(name, job.record().id);
    vm.drillUuid = newUuid();
    return vm;
  };
  std::vector<api::DrillVm> vms;
  for (const auto& pv : manifest.vms) {
    if (!asked(pv.name)) continue;
    api::DrillVm vm = copyOf(pv.vmId, pv.name);
    std::string problems;
    for (const auto& p : checked.problems) {
      if (p.vm == pv.name || p.vm == pv.vmId || p.vm.empty())
        problems += (problems.empty() ? "" : "; ") + p.what + ": " + p.why;
    }
    if (!checked.sealed) problems = "the point is not sealed: its sync may not have finished";
    if (!problems.empty()) failVm(vm, "the point does not match its manifest: " + problems);
    vms.push_back(vm);
  }
  // The VMs this point lacks (their host did not answer that cycle): from
  // the newest older point that holds them whole, as a failover would.
  if (!manifest.unprotected.empty()) {
    const api::PointListResult points = tools_.point.points(d);
    for (const auto& missing : manifest.unprotected) {
      if (!asked(missing.name)) continue;
      api::DrillVm vm = copyOf(missing.vmId, missing.name);
      std::string why;
      const auto older = olderPointHolding(
          points, d.pointId, missing,
          [&](const std::string& id) {
            api::DrillJobDetails at = d;
            at.pointId = id;
            return tools_.point.manifest(at);
          },
          why);
      if (older) {
        vm.pointId = older->pointId;
      } else {
        failVm(vm, "not in point " + d.pointId + " (" + missing.why + "), and " + why);
      }
      vms.push_back(vm);
    }
  }
  for (const auto& name : d.only) {
    if (std::none_of(vms.begin(), vms.end(), [&](const api::DrillVm& vm) { return vm.name == name; })) {
      throw AgentError(Code::InvalidParameter, "point " + d.pointId + " has no VM named " + name);
    }
  }
  const bool anyLeft = std::any_of(vms.begin(), vms.end(), pending);
  moveTo(job, anyLeft ? State::Prepare : State::Cleanup, 20, [&](api::DrillJobDetails& out) {
    out.pointTime = manifest.time;
    out.vms = vms;
    if (!anyLeft) out.outcome = State::Failed;
  });
}

void DrillJob::prepare(JobControl& job) {
  auto d = api::decode<api::DrillJobDetails>(job.record().details);
  std::map<std::string, api::PointManifest> manifests;  // by point: a VM may come from an older one
  const auto manifestOf = [&](const std::string& id) -> const api::PointManifest& {
    auto found = manifests.find(id);
    if (found != manifests.end()) return found->second;
    api::DrillJobDetails at = d;
    at.pointId = id;
    return manifests.emplace(id, tools_.point.manifest(at)).first->second;
  };
  std::filesystem::create_directories(d.scratchDir);
  for (auto& vm : d.vms) {
    if (!pending(vm)) continue;
    const api::PointManifest& manifest = manifestOf(vm.pointId.empty() ? d.pointId : vm.pointId);
    const auto pv = std::find_if(manifest.vms.begin(), manifest.vms.end(),
                                 [&](const api::PointVm& p) { return p.vmId == vm.vmId; });
    if (pv == manifest.vms.end()) {
      failVm(vm, "the point's manifest no longer names it");
      continue;
    }
    vm.drives.clear();
    try {
      virt::DrillDomainSpec spec{vm.drillName, vm.drillUuid, {}, d.scratchDir};
      for (const auto& disk : pv->disks) {
        virt::DrillDisk drill{disk.drive, overlayPath(d, vm, disk.drive), pointChain(d.mountPoint, disk)};
        tools_.makeOverlay(drill.overlay, drill.chain.front(), disk.virtualSize);
        vm.drives.push_back(disk.drive);
        spec.disks.push_back(std::move(drill));
      }
      std::vector<std::string> leftOut;
      const std::string xml = virt::drillDomainXml(tools_.point.definition(d, pv->definition), spec, &leftOut);
      for (const auto& target : leftOut)
        spdlog::info("drill of {}: disk {} is not in the point: left out", vm.name, target);
      writeFileDurably(d.scratchDir + "/" + vm.drillName + ".xml", xml);
    } catch (const AgentError& e) {
      failVm(vm, e.what());
    }
  }
  const bool anyLeft = std::any_of(d.vms.begin(), d.vms.end(), pending);
  moveTo(job, anyLeft ? State::Boot : State::Cleanup, 35, [&](api::DrillJobDetails& out) {
    out.vms = d.vms;
    if (!anyLeft) out.outcome = State::Failed;
  });
}

void DrillJob::boot(JobControl& job) {
  auto d = api::decode<api::DrillJobDetails>(job.record().details);
  for (size_t i = 0; i < d.vms.size(); ++i) {
    if (!pending(d.vms[i]) || d.vms[i].started) continue;
    // Persisted before libvirt is asked: CLEANUP then destroys it whatever happens next.
    note(job, [&](api::DrillJobDetails& out) {
      out.vms[i].started = true;
      out.vms[i].startedAt = nowMs();
    });
    d.vms[i].started = true;
    std::ifstream in(d.scratchDir + "/" + d.vms[i].drillName + ".xml");
    const std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      tools_.launcher.startTransient(xml);
    } catch (const AgentError& e) {
      note(job, [&](api::DrillJobDetails& out) { failVm(out.vms[i], e.what()); });
    }
  }
  moveTo(job, State::Watch, 50);
}

bool DrillJob::watchOne(api::DrillVm& vm, std::int64_t now, std::int64_t deadline) {
  const std::optional<virt::DiskActivity> activity = tools_.launcher.diskActivity(vm.drillUuid, vm.drives);
  if (!activity) {
    failVm(vm, "the guest stopped (it crashed or powered off) before it did disk I/O for long");
    return true;
  }
  const std::uint64_t previous = vm.ioRequests.value_or(0);
  if (activity->requests > 0 && !vm.bootSeconds) {
    vm.bootSeconds = double(now - vm.startedAt.value_or(now)) / 1000.0;
    vm.ioRequests = activity->requests;
    return true;
  }
  if (vm.bootSeconds && activity->requests > previous) {  // it keeps doing I/O
    vm.ioRequests = activity->requests;
    vm.result = "passed";
    return true;
  }
  if (now >= deadline) {
    failVm(vm,
           vm.bootSeconds ? "its disk I/O stopped after the first requests" : "no disk I/O within the boot timeout");
    return true;
  }
  return false;
}

void DrillJob::watch(JobControl& job) {
  auto d = api::decode<api::DrillJobDetails>(job.record().details);
  std::int64_t firstStart = nowMs();
  for (const auto& vm : d.vms) {
    if (vm.startedAt) firstStart = std::min(firstStart, *vm.startedAt);
  }
  const std::int64_t deadline = firstStart + d.bootTimeout * 1000;
  while (std::any_of(d.vms.begin(), d.vms.end(), pending)) {
    bool changed = false;
    for (auto& vm : d.vms) {
      if (pending(vm)) changed = watchOne(vm, nowMs(), deadline) || changed;
    }
    if (changed) note(job, [&](api::DrillJobDetails& out) { out.vms = d.vms; });
    if (!std::any_of(d.vms.begin(), d.vms.end(), pending)) break;
    if (job.waitFor(tools_.pollInterval)) return;  // abort or stop: the loop in run() decides
  }
  const auto passed =
      std::count_if(d.vms.begin(), d.vms.end(), [](const api::DrillVm& vm) { return vm.result == "passed"; });
  moveTo(job, State::Cleanup, 80, [&](api::DrillJobDetails& out) {
    if (!out.outcome) out.outcome = size_t(passed) == out.vms.size() ? State::Done : State::Failed;
  });
}

void DrillJob::cleanup(JobControl& job) {
  auto d = api::decode<api::DrillJobDetails>(job.record().details);
  const auto giveUp = std::chrono::steady_clock::now() + tools_.libvirtOutage;
  for (const auto& vm : d.vms) {
    if (!vm.started) continue;
    for (;;) {
      try {
        tools_.launcher.destroy(vm.drillUuid);
        break;
      } catch (const virt::LibvirtUnreachable& e) {
        if (std::chrono::steady_clock::now() >= giveUp || job.stopRequested()) throw;
        job.waitFor(std::chrono::seconds(1));
      }
    }
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(d.scratchDir, ec)) {
    if (entry.path().extension() == ".qcow2") std::filesystem::remove(entry.path(), ec);
  }

  State outcome = d.outcome.value_or(State::Failed);
  std::string failures;
  for (const auto& vm : d.vms) {
    if (vm.result != "passed") failures += (failures.empty() ? "" : "; ") + vm.name + ": " + vm.why;
  }
  if (outcome == State::Done && !failures.empty()) outcome = State::Failed;
  if (d.vms.empty() && outcome == State::Done) {
    outcome = State::Failed;
    failures = "the point names no VM to drill";
  }
  job.update([&](JobRecord& r) {
    auto timed = api::decode<api::DrillJobDetails>(r.details);
    if (timed.movedAt) timed.stateSeconds[r.state] += double(nowMs() - timed.movedAt) / 1000.0;
    r.details = api::encode(timed);
    r.state = api::enumName(outcome);
    r.progress = 100;
    if (outcome == State::Failed) {
      const std::string why = !error_.message.empty() && failures.empty() ? error_.message : failures;
      r.error = JobError{error_.code && failures.empty() ? error_.code : int(Code::DrillFailed),
                         "drill of point " + d.pointId + " failed: " + why};
    } else if (outcome == State::Aborted) {
      r.error = JobError{int(Code::DrillFailed), "drill of point " + d.pointId + " aborted"};
    }
  });
}

}  // namespace gdr
