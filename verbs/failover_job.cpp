#include "verbs/failover_job.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <limits>
#include <map>

#include "core/clock.h"
#include "core/durable_file.h"
#include "core/errors.h"
#include "gfapi/volume_path.h"
#include "verbs/drill_job.h"
#include "verbs/older_point.h"

namespace gdr {

using State = FailoverJob::State;

namespace {

bool pending(const api::FailoverVm& vm) { return vm.result == "pending"; }

void failVm(api::FailoverVm& vm, const std::string& why) {
  vm.result = "failed";
  vm.why = why;
}

}  // namespace

// In the snapshot directory beside the base, where a cycle's overlays go:
// the VM then runs as gdr's cycles leave a VM, and cycles from this site
// (a failback's) freeze and ship that overlay as a delta.
std::string failoverOverlayPath(const std::string& basePath, const std::string& pointId) {
  const std::filesystem::path base(basePath);
  return (base.parent_path() / volpath::kSnapshotDirName / (base.stem().string() + ".failover-" + pointId + ".qcow2"))
      .string();
}

void orderForStart(std::vector<api::FailoverVm>& vms) {
  std::stable_sort(vms.begin(), vms.end(), [](const api::FailoverVm& a, const api::FailoverVm& b) {
    return std::tie(a.priority, a.name) < std::tie(b.priority, b.name);
  });
}

JobRecord newFailoverRecord(const api::FailoverParams& p, const std::string& definitionDir) {
  JobRecord r;
  r.id = p.jobUUID.value_or("");
  r.type = api::kFailoverJobType;
  r.state = api::enumName(State::Init);
  api::FailoverJobDetails d;
  d.volfileServers = p.volfileServers;
  d.volumeName = p.volumeName;
  d.pointId = p.pointId.value_or("");
  d.mapping = p.mapping;
  d.bootTimeout = p.bootTimeout;
  d.definitionDir = definitionDir;
  d.startedAt = d.movedAt = nowMilliseconds();
  r.details = api::encode(d);
  return r;
}

const api::Transitions<State>& FailoverJob::transitions() {
  static const api::Transitions<State> table = {
      {State::Init, {State::Check, State::Failed, State::Aborted}},
      {State::Check, {State::Promote, State::Failed, State::Aborted}},
      {State::Promote, {State::Define, State::Failed, State::Aborted}},
      {State::Define, {State::Start, State::Failed, State::Aborted}},
      {State::Start, {State::Watch, State::Failed, State::Aborted}},
      {State::Watch, {State::Done, State::Failed, State::Aborted}},
  };
  return table;
}

void FailoverJob::moveTo(JobControl& job, State next, int progress,
                         const std::function<void(api::FailoverJobDetails&)>& change,
                         const std::function<void(JobRecord&, const api::FailoverJobDetails&)>& whole) {
  const JobRecord record = job.record();
  if (!api::allowedMove(transitions(), record.state, next)) {
    throw AgentError(Code::GeneralException, "failover: no move from " + record.state + " to " + api::enumName(next));
  }
  job.update([&](JobRecord& r) {
    const std::string left = r.state;
    r.state = api::enumName(next);
    if (progress >= 0) r.progress = progress;
    auto d = api::decode<api::FailoverJobDetails>(r.details);
    if (change) change(d);
    const std::int64_t now = nowMilliseconds();
    if (d.movedAt) d.stateSeconds[left] += double(now - d.movedAt) / 1000.0;
    d.movedAt = now;
    r.details = api::encode(d);
    if (whole) whole(r, d);
  });
}

void FailoverJob::note(JobControl& job, const std::function<void(api::FailoverJobDetails&)>& change) {
  job.update([&](JobRecord& r) {
    auto d = api::decode<api::FailoverJobDetails>(r.details);
    change(d);
    r.details = api::encode(d);
  });
}

void FailoverJob::finish(JobControl& job, State outcome, const JobError& error) {
  const auto failVms = [&](api::FailoverJobDetails& d) {
    d.outcome = outcome;
    for (auto& vm : d.vms) {
      if (pending(vm)) failVm(vm, error.message.empty() ? "the failover ended before it" : error.message);
    }
  };
  // The error goes with the end state: a caller that sees FAILED sees why.
  moveTo(job, outcome, 100, failVms, [&](JobRecord& r, const api::FailoverJobDetails& d) {
    if (outcome == State::Done) return;
    std::string failures;
    for (const auto& vm : d.vms) {
      if (vm.result == "failed") failures += (failures.empty() ? "" : "; ") + vm.name + ": " + vm.why;
    }
    const std::string point = d.pointId.empty() ? "" : " to point " + d.pointId;
    if (outcome == State::Aborted) {
      r.error = JobError{int(Code::FailoverFailed), "failover" + point + " aborted in " + error.message};
    } else if (!failures.empty() && error.message.empty()) {
      r.error = JobError{int(Code::FailoverFailed), "failover" + point + " failed: " + failures};
    } else {
      r.error = JobError{error.code ? error.code : int(Code::FailoverFailed),
                         "failover" + point + " failed: " + error.message};
    }
  });
}

void FailoverJob::run(JobControl& job) {
  while (!job.stopRequested()) {
    const std::optional<State> state = api::enumFromName<State>(job.record().state);
    if (!state || api::isTerminalState(job.record().state)) return;
    if (job.abortRequested()) {
      // The VMs already started keep running: an abort stops the failover, not the site.
      finish(job, State::Aborted, {int(Code::FailoverFailed), std::string(api::enumName(*state))});
      return;
    }
    try {
      step(job, *state);
    } catch (const AgentError& e) {
      spdlog::warn("failover {}: {} failed: {}", job.record().id, api::enumName(*state), e.what());
      finish(job, State::Failed, {int(e.code()), std::string(api::enumName(*state)) + ": " + e.what()});
    } catch (const std::exception& e) {
      finish(job, State::Failed, {int(Code::FailoverFailed), std::string(api::enumName(*state)) + ": " + e.what()});
    }
  }
}

void FailoverJob::step(JobControl& job, State state) {
  switch (state) {
    case State::Init: return init(job);
    case State::Check: return check(job);
    case State::Promote: return promote(job);
    case State::Define: return define(job);
    case State::Start: return start(job);
    case State::Watch: return watch(job);
    default: return;
  }
}

void FailoverJob::init(JobControl& job) { moveTo(job, State::Check, 5); }

void FailoverJob::check(JobControl& job) {
  auto d = api::decode<api::FailoverJobDetails>(job.record().details);
  const api::PointListResult points = tools_.site.points(d);
  if (d.pointId.empty()) {
    const auto newest = std::find_if(points.points.begin(), points.points.end(),
                                     [](const api::PointSummary& p) { return p.state == "complete"; });
    if (newest == points.points.end()) {
      throw AgentError(Code::PointIncomplete, "volume " + d.volumeName + " holds no complete recovery point (" +
                                                  std::to_string(points.points.size()) + " points, none complete)");
    }
    d.pointId = newest->id;
    note(job, [&](api::FailoverJobDetails& out) { out.pointId = d.pointId; });
  }
  const api::PointManifest manifest = tools_.site.manifest(d);
  const api::PointCheckResult checked = tools_.site.check(d);
  if (!checked.sealed) {
    throw AgentError(Code::PointIncomplete, "point " + d.pointId + " is not sealed: its sync may not have finished");
  }
  if (!checked.complete || !checked.problems.empty()) {
    std::string problems;
    for (const auto& p : checked.problems) {
      problems += (problems.empty() ? "" : "; ") + (p.vm.empty() ? "" : p.vm + " ") + p.what + ": " + p.why;
    }
    throw AgentError(Code::PointIncomplete, "point " + d.pointId + " does not match its manifest: " + problems);
  }
  if (manifest.vms.empty()) throw AgentError(Code::PointIncomplete, "point " + d.pointId + " names no VM");
  // A VM as point `pointId` holds it: each disk on an overlay named for that point.
  const auto fromPoint = [](const api::PointVm& pv, const std::string& pointId) {
    api::FailoverVm vm;
    vm.vmId = pv.vmId;
    vm.name = pv.name;
    for (const auto& disk : pv.disks) vm.disks.push_back({disk.drive, failoverOverlayPath(disk.path, pointId)});
    return vm;
  };
  std::vector<api::FailoverVm> vms;
  for (const auto& pv : manifest.vms) vms.push_back(fromPoint(pv, d.pointId));
  // The VMs this point lacks come from an older one; one that no point
  // holds is reported failed (the others still run).
  for (const auto& missing : manifest.unprotected) {
    std::string why;
    const auto older = olderPointHolding(
        points, d.pointId, missing,
        [&](const std::string& id) {
          api::FailoverJobDetails at = d;
          at.pointId = id;
          return tools_.site.manifest(at);
        },
        why);
    api::FailoverVm vm;
    if (older) {
      vm = fromPoint(older->vm, older->pointId);
      vm.pointId = older->pointId;
    } else {
      vm.vmId = missing.vmId;
      vm.name = missing.name;
      failVm(vm, "not in point " + d.pointId + " (" + missing.why + "), and " + why);
    }
    vms.push_back(vm);
  }
  for (auto& vm : vms) {
    const auto priority = d.mapping.priority.find(vm.name);
    vm.priority = priority == d.mapping.priority.end() ? std::numeric_limits<std::int64_t>::max() : priority->second;
  }
  orderForStart(vms);
  moveTo(job, State::Promote, 15, [&](api::FailoverJobDetails& out) {
    out.pointTime = manifest.time;
    out.vms = vms;
  });
}

void FailoverJob::promote(JobControl& job) {
  auto d = api::decode<api::FailoverJobDetails>(job.record().details);
  if (!d.readOnlyWas) {
    const bool readOnly = tools_.site.readOnly(d.volumeName);
    note(job, [&](api::FailoverJobDetails& out) { out.readOnlyWas = readOnly; });
  }
  // The fence first: once writes are allowed, nothing of the old session may land.
  const std::vector<std::string> fenced = tools_.site.fenceGeoRepKeys(job.record().id);
  if (!fenced.empty()) {
    note(job, [&](api::FailoverJobDetails& out) {
      out.fencedKeys.insert(out.fencedKeys.end(), fenced.begin(), fenced.end());
    });
  }
  // And a session still connected (keys only stop new logins): its
  // receivers go before the volume takes writes.
  const std::vector<std::string> stopped = tools_.site.fenceGeoRepReceivers(d.volumeName);
  if (!stopped.empty()) {
    note(job, [&](api::FailoverJobDetails& out) {
      out.fencedProcesses.insert(out.fencedProcesses.end(), stopped.begin(), stopped.end());
    });
  }
  if (tools_.site.readOnly(d.volumeName)) tools_.site.allowWrites(d.volumeName);
  const std::string mount = tools_.site.writableMount(d);
  moveTo(job, State::Define, 30, [&](api::FailoverJobDetails& out) { out.mountPoint = mount; });
}

void FailoverJob::define(JobControl& job) {
  auto d = api::decode<api::FailoverJobDetails>(job.record().details);
  std::map<std::string, api::PointManifest> manifests;  // by point: most VMs share the failover's
  std::filesystem::create_directories(d.definitionDir);
  for (size_t i = 0; i < d.vms.size(); ++i) {
    api::FailoverVm& vm = d.vms[i];
    if (!pending(vm) || vm.defined) continue;
    api::FailoverJobDetails source = d;
    if (!vm.pointId.empty()) source.pointId = vm.pointId;
    if (!manifests.count(source.pointId)) manifests[source.pointId] = tools_.site.manifest(source);
    const api::PointManifest& manifest = manifests[source.pointId];
    const auto pv = std::find_if(manifest.vms.begin(), manifest.vms.end(),
                                 [&](const api::PointVm& p) { return p.vmId == vm.vmId; });
    try {
      if (pv == manifest.vms.end()) throw AgentError(Code::FailoverFailed, "the point's manifest no longer names it");
      virt::FailoverDomainSpec spec{{}, d.mapping.networks, d.mapping.bridges, d.mapping.paths};
      for (auto& disk : vm.disks) {
        const auto pd = std::find_if(pv->disks.begin(), pv->disks.end(),
                                     [&](const api::PointDisk& p) { return p.drive == disk.drive; });
        if (pd == pv->disks.end()) throw AgentError(Code::FailoverFailed, "the point has no disk " + disk.drive);
        const std::string overlay = onMount(d.mountPoint, disk.overlay);
        if (!disk.made && tools_.site.exists(overlay)) {
          throw AgentError(Code::FailoverFailed,
                           overlay + " exists and this failover did not make it: left alone (move it away to retry)");
        }
        if (!disk.made) {
          // Persisted first: a retry then knows the file is its own to replace.
          note(job, [&](api::FailoverJobDetails& out) { out.vms[i].disks[&disk - vm.disks.data()].made = true; });
          disk.made = true;
        }
        const auto chain = pointChain(d.mountPoint, *pd);
        // Named relative to the overlay, as a cycle names its overlays'
        // backing: libvirt commits into a base only along relative names,
        // and the names hold wherever the volume is mounted.
        virt::ChainImage backing = chain.front();
        backing.path = std::filesystem::path(backing.path)
                           .lexically_relative(std::filesystem::path(overlay).parent_path())
                           .string();
        tools_.makeOverlay(overlay, backing, pd->virtualSize);
        spec.disks.push_back({disk.drive, overlay, chain});
      }
      std::vector<std::string> leftOut;
      const std::string xml = virt::failoverDomainXml(tools_.site.definition(d, pv->definition), spec, &leftOut);
      writeFileDurably(d.definitionDir + "/" + vm.name + ".xml", xml);
      tools_.launcher.define(xml);
      note(job, [&](api::FailoverJobDetails& out) {
        out.vms[i].defined = true;
        out.vms[i].leftOut = leftOut;
      });
      vm.defined = true;
    } catch (const virt::LibvirtUnreachable&) {
      throw;  // the host's problem, not this VM's: the failover fails saying so
    } catch (const AgentError& e) {
      note(job, [&](api::FailoverJobDetails& out) { failVm(out.vms[i], e.what()); });
      failVm(vm, e.what());
    }
  }
  if (std::none_of(d.vms.begin(), d.vms.end(), pending)) {
    finish(job, State::Failed);
    return;
  }
  moveTo(job, State::Start, 50);
}

// The VMs of one priority start together (libvirt takes about a second
// and a half to start each QEMU here); a lower priority's before.
void FailoverJob::start(JobControl& job) {
  auto d = api::decode<api::FailoverJobDetails>(job.record().details);
  for (size_t first = 0, end = 0; first < d.vms.size(); first = end) {  // in start order
    while (end < d.vms.size() && d.vms[end].priority == d.vms[first].priority) ++end;
    std::vector<size_t> group;
    for (size_t i = first; i < end; ++i) {
      if (pending(d.vms[i]) && !d.vms[i].started) group.push_back(i);
    }
    if (group.empty()) continue;
    if (job.abortRequested()) return;
    note(job, [&](api::FailoverJobDetails& out) {
      for (const size_t i : group) {
        out.vms[i].started = true;
        out.vms[i].startedAt = nowMilliseconds();
      }
    });
    std::vector<std::future<std::optional<std::string>>> starts;
    for (const size_t i : group) {
      starts.push_back(std::async(std::launch::async, [this, vmId = d.vms[i].vmId]() -> std::optional<std::string> {
        try {
          tools_.launcher.start(vmId);
          return std::nullopt;
        } catch (const AgentError& e) {
          return std::string(e.what());
        }
      }));
    }
    for (size_t k = 0; k < group.size(); ++k) {
      if (const auto why = starts[k].get()) {
        note(job, [&](api::FailoverJobDetails& out) { failVm(out.vms[group[k]], *why); });
      }
    }
  }
  moveTo(job, State::Watch, 70);
}

bool FailoverJob::watchOne(api::FailoverVm& vm, std::int64_t commandMs, std::int64_t now, std::int64_t deadline) {
  std::vector<std::string> drives;
  for (const auto& disk : vm.disks) drives.push_back(disk.drive);
  const std::optional<virt::DiskActivity> activity = tools_.launcher.diskActivity(vm.vmId, drives);
  if (!activity) {
    failVm(vm, "the guest stopped (it crashed or powered off); its definition stays");
    return true;
  }
  if (activity->requests > 0 && !vm.rtoSeconds) {
    vm.rtoSeconds = double(now - commandMs) / 1000.0;
    vm.ioRequests = activity->requests;
    return true;
  }
  if (vm.rtoSeconds && activity->requests > vm.ioRequests.value_or(0)) {
    vm.ioRequests = activity->requests;
    vm.result = "running";
    return true;
  }
  if (now >= deadline) {
    failVm(vm, std::string(vm.rtoSeconds ? "its disk I/O stopped after the first requests"
                                         : "no disk I/O within the boot timeout") +
                   " (left running for a look)");
    return true;
  }
  return false;
}

void FailoverJob::watch(JobControl& job) {
  auto d = api::decode<api::FailoverJobDetails>(job.record().details);
  std::int64_t firstStart = nowMilliseconds();
  for (const auto& vm : d.vms) {
    if (vm.startedAt) firstStart = std::min(firstStart, *vm.startedAt);
  }
  const std::int64_t deadline = firstStart + d.bootTimeout * 1000;
  while (std::any_of(d.vms.begin(), d.vms.end(), pending)) {
    bool changed = false;
    for (auto& vm : d.vms) {
      if (pending(vm)) changed = watchOne(vm, d.startedAt, nowMilliseconds(), deadline) || changed;
    }
    if (changed) note(job, [&](api::FailoverJobDetails& out) { out.vms = d.vms; });
    if (!std::any_of(d.vms.begin(), d.vms.end(), pending)) break;
    if (job.waitFor(tools_.pollInterval)) return;  // abort or stop: the loop in run() decides
  }
  const bool all =
      std::all_of(d.vms.begin(), d.vms.end(), [](const api::FailoverVm& vm) { return vm.result == "running"; });
  finish(job, all ? State::Done : State::Failed);
}

}  // namespace gdr
