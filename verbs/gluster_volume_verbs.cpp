// GlusterVolume.*: files on gluster volumes through libgfapi.
#include "agent/errors.h"
#include "gfapi/glfs_volume.h"
#include "gfapi/overlay_delete.h"
#include "verbs/all_verbs.h"

namespace gdr {

namespace {

std::vector<std::string> strings(const Json::Value& array) {
  std::vector<std::string> out;
  for (const auto& item : array) out.push_back(item.asString());
  return out;
}

}  // namespace

void registerGlusterVolumeVerbs(Registry& registry, AgentServices& services) {
  registry.add("GlusterVolume.overlayDelete", [&services](const Json::Value& p, const CallContext&) {
    gfapi::OverlayDeleteRequest request;
    request.paths = strings(p["paths"]);
    if (p.isMember("expectedBacking")) request.expectedBacking = p["expectedBacking"].asString();
    request.dryRun = p["dryRun"].asBool();
    request.allowedPrefixes = services.overlayPrefixes;
    request.cache = &services.imageHeaders;
    request.cacheScope = p["volumeName"].asString();
    // Safe to repeat after a reconnect: the guards run again, and a file
    // already deleted is reported as absent.
    return services.volumes.with(strings(p["volfileServers"]), p["volumeName"].asString(),
                                 [&](gfapi::Volume& volume) { return gfapi::deleteOverlays(volume, request); });
  });

  registry.add("GlusterVolume.fileStat", [&services](const Json::Value& p, const CallContext&) {
    return services.volumes.with(strings(p["volfileServers"]), p["volumeName"].asString(),
                                 [&](gfapi::Volume& volume) { return gfapi::fileStat(volume, p["path"].asString()); });
  });

  registry.add("GlusterVolume.imageInfo", [&services](const Json::Value& p, const CallContext&) {
    return services.volumes.with(strings(p["volfileServers"]), p["volumeName"].asString(),
                                 [&](gfapi::Volume& volume) { return gfapi::imageInfo(volume, p["path"].asString()); });
  });
}

}  // namespace gdr
