// GlusterHost.*: the keys a geo-replication session logs in with (VDSM's
// geoRepKeysGet on each primary host, geoRepKeysUpdate on the secondary),
// and gluster's mount broker for a session of an unprivileged user.
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <vector>

#include "api/gluster_host.h"
#include "core/errors.h"
#include "core/json_util.h"
#include "gluster/cli.h"
#include "gluster/georep_keys.h"
#include "verbs/all_verbs.h"

namespace gdr {

namespace {

// The user exists here and is in the group (its primary group or a member).
void checkUserInGroup(const std::string& user, const std::string& groupName) {
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* foundUser = nullptr;
  if (::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &foundUser) != 0 || !foundUser) {
    throw AgentError(Code::GeoRepUserNotFound, "no user '" + user + "' on this host");
  }
  const gid_t primaryGroup = pw.pw_gid;
  std::vector<char> groupBuffer(65536);
  struct group gr {};
  struct group* foundGroup = nullptr;
  if (::getgrnam_r(groupName.c_str(), &gr, groupBuffer.data(), groupBuffer.size(), &foundGroup) != 0 || !foundGroup) {
    throw AgentError(Code::GeoRepGroupMismatch, "no group '" + groupName + "' on this host");
  }
  if (gr.gr_gid == primaryGroup) return;
  for (char** member = gr.gr_mem; member && *member; ++member) {
    if (user == *member) return;
  }
  throw AgentError(Code::GeoRepGroupMismatch, "'" + user + "' is not in the group '" + groupName + "'");
}

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

  // Checked here first, with gdr's codes: gluster's peer script would
  // change the rights of its directories before finding a group missing.
  api::MountBrokerSetupResult geoRepMountBrokerSetup(const api::MountBrokerSetupParams& p) {
    const auto& allowed = services_.geoRepKeyUsers;
    if (std::find(allowed.begin(), allowed.end(), p.remoteUserName) == allowed.end()) {
      throw AgentError(Code::GeoRepUserNotAllowed,
                       "'" + p.remoteUserName + "' is not in georep_key_users on this host");
    }
    if (p.remoteUserName == "root") {
      throw AgentError(Code::InvalidParameter, "root logs in without the mount broker: name the session's own user");
    }
    checkUserInGroup(p.remoteUserName, p.remoteGroupName);
    api::MountBrokerSetupResult out{services_.geoRepMountBrokerRoot, {}};
    if (!p.partial) services_.gluster.mountBrokerSetup(services_.geoRepMountBrokerRoot, p.remoteGroupName);
    for (const auto& node : services_.gluster.mountBrokerAddUser(p.remoteVolumeName, p.remoteUserName)) {
      out.nodes.push_back(node.nodeId);
    }
    return out;
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
  registry.add<api::GeoRepMountBrokerSetup>(
      [verbs](const auto& p, const CallContext&) { return verbs->geoRepMountBrokerSetup(p); });
}

}  // namespace gdr
