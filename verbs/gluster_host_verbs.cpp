// GlusterHost.*: the keys a geo-replication session logs in with (VDSM's
// geoRepKeysGet on each primary host, geoRepKeysUpdate on the secondary).
#include <algorithm>

#include "api/gluster_host.h"
#include "core/errors.h"
#include "core/json_util.h"
#include "gluster/cli.h"
#include "gluster/georep_keys.h"
#include "verbs/all_verbs.h"

namespace gdr {

namespace {

class GlusterHostVerbs {
 public:
  explicit GlusterHostVerbs(AgentServices& services) : services_(services) {}

  // gsec_create, then the public keys it wrote (every node's of this pool).
  api::GeoRepKeysResult geoRepKeysGet(const api::Empty&) {
    services_.gluster.geoRepKeysCreate();
    return {gluster::readGeoRepPublicKeys(services_.geoRepPublicKeyFile)};
  }

  // Every key is checked before anything is written: one bad key, and
  // the file is left as it was.
  api::GeoRepKeysUpdateResult geoRepKeysUpdate(const api::GeoRepKeysUpdateParams& p) {
    const auto& allowed = services_.geoRepKeyUsers;
    if (std::find(allowed.begin(), allowed.end(), p.userName) == allowed.end()) {
      throw AgentError(Code::GeoRepUserNotAllowed,
                       "'" + json::printable(p.userName, 64) + "' is not in georep_key_users on this host");
    }
    if (p.geoRepPubKeys.empty()) throw AgentError(Code::InvalidParameter, "geoRepPubKeys is empty");
    for (size_t i = 0; i < p.geoRepPubKeys.size(); ++i) gluster::checkGeoRepKey(p.geoRepPubKeys[i], i);
    const gluster::KeyMerge merge =
        gluster::updateAuthorizedKeys(p.userName, p.geoRepPubKeys, services_.geoRepHomeOverride);
    return {merge.added, merge.present};
  }

 private:
  AgentServices& services_;
};

}  // namespace

void registerGlusterHostVerbs(Registry& registry, AgentServices& services) {
  auto verbs = std::make_shared<GlusterHostVerbs>(services);
  registry.add<api::GeoRepKeysGet>([verbs](const auto& p, const CallContext&) { return verbs->geoRepKeysGet(p); });
  registry.add<api::GeoRepKeysUpdate>(
      [verbs](const auto& p, const CallContext&) { return verbs->geoRepKeysUpdate(p); });
}

}  // namespace gdr
