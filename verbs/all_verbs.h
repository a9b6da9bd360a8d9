#pragma once
// Registers every verb's handler. Each namespace has one source file
// (host_verbs.cpp, ...) with one handler per verb; the schema entry in
// verbs/schema.json is the other half of a verb.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/registry.h"

namespace gdr {

class JobStore;
class Schema;
namespace gfapi {
class VolumePool;
class HeaderCache;
}
namespace gluster {
class GlusterCli;
}
namespace virt {
class Hypervisor;
class GuestLauncher;
class VmActivity;
}

// What handlers may use; owned by the Agent, outliving every call.
struct AgentServices {
  JobStore& jobs;
  const Schema& schema;
  gfapi::VolumePool& volumes;
  gfapi::HeaderCache& imageHeaders;
  gluster::GlusterCli& gluster;
  virt::Hypervisor& hypervisor;
  virt::VmActivity& vmActivity;
  std::vector<std::string> overlayPrefixes = {};
  // The volumes overlayDelete may act on; empty: none.
  std::vector<std::string> deleteVolumes = {};
  // The volfile servers gfapi verbs may name; unset: loopback, and the
  // hosts of the volumes and sessions this host's glusterd knows.
  std::optional<std::vector<std::string>> volfileServers = std::nullopt;
  bool glusterEvents = false;  // gluster's events reach the agent (sync jobs may poll slowly)
  std::chrono::seconds mergePivotDelay{0};  // a merge's pause in READY (tests)
  std::vector<std::string> geoRepKeyUsers = {"root"};  // who geoRepKeysUpdate may add keys for
  std::string geoRepPublicKeyFile = "/var/lib/glusterd/geo-replication/common_secret.pem.pub";
  std::string geoRepMountBrokerRoot = "/var/mountbroker-root";
  std::string geoRepHomeOverride = {};  // tests: stands for every user's home
  virt::GuestLauncher* guests = nullptr;  // drills start their copies through it; none: no drills
  std::string drillDir = {};              // a drill's overlays, XML and consoles, one directory per drill
  // A failover's definitions and fenced keys (one directory per failover),
  // and the read-write mounts it makes (mnt/VOLUME); empty: no failovers.
  std::string failoverDir = {};
};

void registerHostVerbs(Registry& registry, AgentServices& services);
void registerGlusterVolumeVerbs(Registry& registry, AgentServices& services);
void registerGlusterHostVerbs(Registry& registry, AgentServices& services);
void registerVmVerbs(Registry& registry, AgentServices& services);

void registerAllVerbs(Registry& registry, AgentServices& services);

}  // namespace gdr
