#pragma once
// `gdr-sync setup`: a geo-replication session from the primary's agents to
// the secondary's, in one command, the way oVirt's engine sets one up
// through VDSM: the secondary checked empty, the primary's keys
// (gsec_create) put into the secondary's authorized_keys, the session
// created without gluster's own ssh check (no-verify), then configured.
// (A failback restores a session onto the copy the secondary already
// holds: see SessionSetupRequest::secondaryHolds.)
// Each step is checked; the first that fails ends the set-up and is named.
// A session that exists already is only configured again. Either way the
// secondary volume ends read-only to ordinary clients (geo-replication's
// worker writes as an internal client), as gluster's push-pem hook leaves it.
#include <functional>
#include <string>
#include <vector>

#include "api/gluster_host.h"
#include "api/gluster_volume.h"

namespace gdr::sync {

// What a set-up asks of one agent. RpcAgent serves it; tests give a fake.
class GeoRepSetupApi {
 public:
  virtual ~GeoRepSetupApi() = default;
  virtual const std::string& endpoint() const = 0;
  virtual api::SessionListResult geoRepSessionList(const api::SessionListParams& params) = 0;
  virtual api::EmptyCheckResult volumeEmptyCheck(const api::VolumeRef& params) = 0;
  virtual api::GeoRepKeysResult geoRepKeysGet() = 0;
  virtual api::GeoRepKeysUpdateResult geoRepKeysUpdate(const api::GeoRepKeysUpdateParams& params) = 0;
  virtual void geoRepSessionCreate(const api::SessionCreateParams& params) = 0;
  virtual void geoRepConfigSet(const api::ConfigSetParams& params) = 0;
  virtual void volumeSet(const api::VolumeSetParams& params) = 0;
  virtual api::SessionStatusResult geoRepSessionStatus(const api::SessionParams& params) = 0;
};

struct SessionSetupRequest {
  std::string volume;         // the primary volume
  std::string secondaryHost;  // as the session names it
  std::string secondaryVolume;
  // Set when the secondary already holds the primary's data, checked by
  // the caller (a failback's restored direction: the point the primary
  // runs from, complete on the secondary). The empty check is then the
  // "copy" step, saying this.
  std::string secondaryHolds;
};

struct SessionSetupStep {
  std::string step;  // existing, empty (or copy), keys, authorize, create, config, protect, status
  bool ok = false;
  std::string detail;  // what it found or did, or why it failed
};

struct SessionSetupReport {
  bool existed = false;  // the session was there before: only configured
  bool created = false;
  std::vector<SessionSetupStep> steps;
  std::string failure;               // "STEP: why", empty on success
  std::vector<std::string> workers;  // "NODE:BRICK STATUS", once set up
};

// The session's settings gdr relies on (README, "Known limits"): rsync
// compares every changed file (a shard rewritten within the second it was
// copied is otherwise skipped for good).
std::vector<std::pair<std::string, std::string>> sessionSettings();

// Progress: the step's name and a line about it, as each step ends.
using SetupProgress = std::function<void(const SessionSetupStep&)>;

SessionSetupReport setupSession(GeoRepSetupApi& primary, GeoRepSetupApi& secondary, const SessionSetupRequest& request,
                                const SetupProgress& progress);

}  // namespace gdr::sync
