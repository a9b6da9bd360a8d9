#pragma once
// The failback's actions over the agents of both sites: the site the VMs
// run at now (the failover's secondary, "here") and the primary site they
// go home to ("home"). The cycles are gdr-sync's own, passed in.
#include <json/value.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "api/recovery.h"
#include "client/agent_api.h"
#include "client/failback.h"

namespace gdr::sync {

struct FailbackSites {
  std::vector<std::string> hereAgents;  // the agents of the hosts the VMs run on now
  std::string homeAgent;                // an agent at the primary site
  // The reverse session: hereVolume -> homeHost::homeVolume.
  std::string hereVolume, homeHost, homeVolume;
  // The original direction to restore: homeVolume -> hereHost::hereVolume.
  std::string hereHost;
  api::FailoverMapping mapping;  // the failover at home
  std::chrono::seconds bootTimeout{180};
};

// One reverse cycle, its report as gdr-sync keeps it ({status, point: {id},
// vms: [{vmId, name, host}], alert}).
using FailbackCycleRunner = std::function<Json::Value(const std::string& purpose)>;

class RpcFailbackActions : public FailbackActions {
 public:
  RpcFailbackActions(FailbackSites sites, AgentOptions options, std::string flowId, FailbackCycleRunner cycle,
                     std::function<void(const std::string&)> say);

  void protect() override;
  FailbackCycle cycle(const std::string& purpose) override;
  bool pause(const FailbackVm& vm) override;
  void resume(const FailbackVm& vm) override;
  std::string newJobId() override;
  void startSwitch(const std::string& pointId, const std::string& jobId) override;
  FailbackSwitch followSwitch(const std::string& jobId) override;
  void powerOff(const FailbackVm& vm) override;
  FailbackRestore restore(const std::string& pointId) override;

 private:
  RpcAgent agent(const std::string& endpoint) const;
  // Stops and deletes the sessions `filter` finds at `site` that `drop`
  // picks; what it removed, named.
  std::vector<std::string> removeSessions(RpcAgent& site, const api::SessionListParams& filter,
                                          const std::function<bool(const api::SessionInfo&)>& drop);

  FailbackSites sites_;
  AgentOptions options_;
  std::string flowId_;
  FailbackCycleRunner cycle_;
  std::function<void(const std::string&)> say_;
  std::chrono::steady_clock::time_point switchStart_{};
};

// A cycle report's outcome as the failback reads it.
FailbackCycle failbackCycleOf(const Json::Value& report);

}  // namespace gdr::sync
