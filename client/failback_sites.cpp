#include "client/failback_sites.h"

#include <stdexcept>
#include <utility>

#include "client/session_setup.h"
#include "core/uuid.h"

namespace gdr::sync {

FailbackCycle failbackCycleOf(const Json::Value& report) {
  FailbackCycle c;
  c.ok = report["status"].asString() == "success";
  c.pointId = report["point"]["id"].asString();
  for (const auto& v : report["vms"]) {
    // A VM the cycle could not capture is reported without its host's
    // agent answering; it is not in the point.
    if (v.isMember("why")) continue;
    c.vms.push_back({v["host"].asString(), v["vmId"].asString(), v["name"].asString()});
  }
  if (!c.ok) {
    c.failure = report.isMember("alert") ? report["alert"].asString() : report["status"].asString();
  } else if (c.pointId.empty()) {
    c.ok = false;
    c.failure = "the cycle made no recovery point";
  }
  return c;
}

RpcFailbackActions::RpcFailbackActions(FailbackSites sites, AgentOptions options, std::string flowId,
                                       FailbackCycleRunner cycle, std::function<void(const std::string&)> say)
    : sites_(std::move(sites)),
      options_(std::move(options)),
      flowId_(std::move(flowId)),
      cycle_(std::move(cycle)),
      say_(std::move(say)) {}

RpcAgent RpcFailbackActions::agent(const std::string& endpoint) const { return RpcAgent(endpoint, options_, flowId_); }

void RpcFailbackActions::protect() {
  RpcAgent here = agent(sites_.hereAgents.front());
  RpcAgent home = agent(sites_.homeAgent);
  const SessionSetupReport r = setupSession(here, home, {sites_.hereVolume, sites_.homeHost, sites_.homeVolume, ""},
                                            [&](const SessionSetupStep& s) { say_(s.step + ": " + s.detail); });
  if (!r.failure.empty()) throw std::runtime_error("the reverse session's set-up failed at " + r.failure);
}

FailbackCycle RpcFailbackActions::cycle(const std::string& purpose) { return failbackCycleOf(cycle_(purpose)); }

bool RpcFailbackActions::pause(const FailbackVm& vm) { return agent(vm.host).pauseVm(vm.vmId).changed; }

void RpcFailbackActions::resume(const FailbackVm& vm) { agent(vm.host).contVm(vm.vmId); }

std::string RpcFailbackActions::newJobId() { return gdr::newUuid(); }

void RpcFailbackActions::startSwitch(const std::string& pointId, const std::string& jobId) {
  RpcAgent home = agent(sites_.homeAgent);
  switchStart_ = std::chrono::steady_clock::now();
  if (home.hasJob(jobId)) return;  // started by a run that was cut off
  api::FailoverParams params;
  params.volfileServers = {sites_.homeHost};
  params.volumeName = sites_.homeVolume;
  params.pointId = pointId;
  params.mapping = sites_.mapping;
  params.bootTimeout = sites_.bootTimeout.count();
  params.jobUUID = jobId;
  home.startFailover(params);
}

FailbackSwitch RpcFailbackActions::followSwitch(const std::string& jobId) {
  RpcAgent home = agent(sites_.homeAgent);
  std::string lastState;
  const api::Job job = home.waitJob(
      jobId,
      [&](const api::Job& j) {
        if (j.state != lastState) say_("failover " + j.state);
        lastState = j.state;
      },
      sites_.bootTimeout + std::chrono::minutes(30));
  FailbackSwitch out;
  out.ok = job.done();
  out.rtoSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - switchStart_).count();
  if (!out.ok) out.failure = job.error ? job.error->message : job.state;
  out.details = job.details;
  return out;
}

void RpcFailbackActions::powerOff(const FailbackVm& vm) {
  // Not forced: a copy someone resumed at this site meanwhile is refused
  // (1107), never powered off under its users.
  agent(vm.host).destroyVm({vm.vmId, false});
}

std::vector<std::string> RpcFailbackActions::removeSessions(RpcAgent& site, const api::SessionListParams& filter,
                                                            const std::function<bool(const api::SessionInfo&)>& drop) {
  std::vector<std::string> removed;
  for (const auto& s : site.geoRepSessionList(filter).sessions) {
    if (!drop(s)) continue;
    api::SessionActionParams stop;
    stop.volumeName = s.volumeName;
    stop.remoteHost = s.remoteHost;
    stop.remoteVolumeName = s.remoteVolumeName;
    stop.remoteUserName = s.remoteUserName.empty() ? "root" : s.remoteUserName;
    stop.force = true;  // its secondary may not answer
    site.geoRepSessionStop(stop);
    site.geoRepSessionDelete(stop);
    removed.push_back(s.volumeName + " -> " + s.remoteHost + "::" + s.remoteVolumeName + " (on " + site.endpoint() +
                      ")");
    say_("removed the session " + removed.back());
  }
  return removed;
}

FailbackRestore RpcFailbackActions::restore(const std::string& pointId) {
  RpcAgent here = agent(sites_.hereAgents.front());
  RpcAgent home = agent(sites_.homeAgent);
  // The copy the restored session goes onto must be the data the primary
  // now runs from: the point it failed over to, complete here too.
  const api::PointCheckResult check = here.recoveryPointCheck({{sites_.hereHost}, sites_.hereVolume, pointId});
  // Its seal lies on the volume the point was shipped to, not on this one,
  // where the cycle wrote it: the files must check out, the seal is not here.
  std::string why;
  for (const auto& p : check.problems) {
    if (p.what != "seal") why += (why.empty() ? "" : "; ") + p.vm + " " + p.what + ": " + p.why;
  }
  if (!why.empty()) {
    throw std::runtime_error("point " + pointId + " does not check out on " + sites_.hereVolume + " (" + why +
                             "): the original direction is not set up onto it");
  }
  say_("point " + pointId + "'s files check out on " + sites_.hereVolume + " (" +
       std::to_string(check.bytesRead >> 20) + " MiB read)");
  FailbackRestore out;
  // The reverse session first (nothing may flow home -> here and here ->
  // home at once), then every other session into this volume: the one
  // the disaster stopped would write its stale data here once its keys
  // are authorized again.
  api::SessionListParams reverse;
  reverse.volumeName = sites_.hereVolume;
  reverse.remoteVolumeName = sites_.homeVolume;
  out.removedSessions = removeSessions(here, reverse, [](const api::SessionInfo&) { return true; });
  api::SessionListParams into;
  into.remoteVolumeName = sites_.hereVolume;
  for (auto& r :
       removeSessions(home, into, [&](const api::SessionInfo& s) { return s.volumeName != sites_.homeVolume; })) {
    out.removedSessions.push_back(std::move(r));
  }
  const SessionSetupRequest request{sites_.homeVolume, sites_.hereHost, sites_.hereVolume,
                                    "point " + pointId + ", its files checked"};
  const SessionSetupReport r =
      setupSession(home, here, request, [&](const SessionSetupStep& s) { say_(s.step + ": " + s.detail); });
  if (!r.failure.empty()) throw std::runtime_error("the original session's set-up failed at " + r.failure);
  out.session = sites_.homeVolume + " -> " + sites_.hereHost + "::" + sites_.hereVolume;
  return out;
}

}  // namespace gdr::sync
