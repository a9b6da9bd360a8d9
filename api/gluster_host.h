#pragma once
// The contract of the GlusterHost namespace: what a host needs before a
// geo-replication session can reach the secondary (VDSM's names and
// shapes): the primary's public keys, pushed into the secondary's
// authorized_keys, and gluster's mount broker for a non-root session.
#include <string>
#include <vector>

#include "api/codec.h"

namespace gdr::api {

struct GeoRepKeysResult {
  std::vector<std::string> geoRepPubKeys;  // authorized_keys lines, each with its forced command
  template <class V>
  void visit(V& v) {
    v("geoRepPubKeys", geoRepPubKeys);
  }
};

struct GeoRepKeysUpdateParams {
  std::string userName;
  std::vector<std::string> geoRepPubKeys;
  template <class V>
  void visit(V& v) {
    v("userName", userName)("geoRepPubKeys", geoRepPubKeys);
  }
};
struct GeoRepKeysUpdateResult {
  int added = 0;    // lines appended
  int present = 0;  // keys the file held already (left as they were)
  template <class V>
  void visit(V& v) {
    v("added", added)("present", present);
  }
};

struct MountBrokerSetupParams {
  std::string remoteUserName, remoteGroupName, remoteVolumeName;
  bool partial = false;
  template <class V>
  void visit(V& v) {
    v("remoteUserName", remoteUserName)("remoteGroupName", remoteGroupName)("remoteVolumeName", remoteVolumeName)(
        "partial", partial);
  }
};
struct MountBrokerSetupResult {
  std::string mountBrokerRoot;
  std::vector<std::string> nodes;  // the pool's nodes (uuids) that applied it
  template <class V>
  void visit(V& v) {
    v("mountBrokerRoot", mountBrokerRoot)("nodes", nodes);
  }
};

GDR_VERB(GeoRepKeysGet, "GlusterHost.geoRepKeysGet", Empty, GeoRepKeysResult);
GDR_VERB(GeoRepKeysUpdate, "GlusterHost.geoRepKeysUpdate", GeoRepKeysUpdateParams, GeoRepKeysUpdateResult);
GDR_VERB(GeoRepMountBrokerSetup, "GlusterHost.geoRepMountBrokerSetup", MountBrokerSetupParams, MountBrokerSetupResult);

}  // namespace gdr::api
