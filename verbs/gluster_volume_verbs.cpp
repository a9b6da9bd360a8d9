// GlusterVolume.*: files on gluster volumes through libgfapi.
#include "core/errors.h"
#include "core/job_store.h"
#include "gluster/cli.h"
#include "gluster/georep_sync.h"
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

gluster::Remote remoteOf(const Json::Value& p) {
  gluster::Remote r;
  r.host = p["remoteHost"].asString();
  r.volume = p["remoteVolumeName"].asString();
  r.user = p.get("remoteUserName", "root").asString();
  return r;
}

Json::Value optionalCount(const std::optional<std::int64_t>& v) { return v ? Json::Value(Json::Int64(*v)) : Json::Value(); }

// VDSM's shape for one worker.
Json::Value workerJson(const gluster::GeoRepWorker& w) {
  Json::Value o;
  o["masterNode"] = w.primaryNode;
  o["masterNodeUuid"] = w.primaryNodeUuid;
  o["masterBrick"] = w.primaryBrick;
  o["remoteUserName"] = w.secondaryUser;
  o["slave"] = w.secondary;
  o["slaveNode"] = w.secondaryNode;
  o["status"] = gluster::normalizeStatus(w.status);
  o["crawlStatus"] = w.crawlStatus;
  o["entry"] = optionalCount(w.entry);
  o["data"] = optionalCount(w.data);
  o["meta"] = optionalCount(w.meta);
  o["failures"] = optionalCount(w.failures);
  o["checkpointCompleted"] = w.checkpointCompleted;
  o["lastSynced"] = optionalCount(w.lastSynced);
  o["checkpointTime"] = optionalCount(w.checkpointTime);
  o["checkpointCompletionTime"] = optionalCount(w.checkpointCompletionTime);
  return o;
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

  gluster::GlusterCli& cli = services.gluster;

  registry.add("GlusterVolume.geoRepSessionList", [&cli](const Json::Value& p, const CallContext&) {
    Json::Value out;
    out["sessions"] = Json::Value(Json::arrayValue);
    for (const auto& s : cli.geoRepStatus(p.get("volumeName", "").asString(), std::nullopt)) {
      Json::Value o;
      o["sessionKey"] = s.sessionKey;
      o["volumeName"] = s.primaryVolume;
      o["remoteHost"] = s.secondaryHost;
      o["remoteVolumeName"] = s.secondaryVolume;
      o["remoteUserName"] = s.secondaryUser;
      o["bricks"] = Json::Value(Json::arrayValue);
      for (const auto& w : s.workers) o["bricks"].append(workerJson(w));
      out["sessions"].append(o);
    }
    return out;
  });

  registry.add("GlusterVolume.geoRepSessionStatus", [&cli](const Json::Value& p, const CallContext&) {
    const auto remote = remoteOf(p);
    const auto sessions = cli.geoRepStatus(p["volumeName"].asString(), remote);
    if (sessions.empty()) {
      throw AgentError(Code::GeoRepSessionNotFound,
                       "no geo-replication session " + p["volumeName"].asString() + " -> " + remote.spec());
    }
    Json::Value out;
    out["sessionStatus"] = Json::Value(Json::arrayValue);
    for (const auto& w : sessions.front().workers) out["sessionStatus"].append(workerJson(w));
    return out;
  });

  for (auto action : {gluster::GeoRepAction::Create, gluster::GeoRepAction::Start, gluster::GeoRepAction::Stop,
                      gluster::GeoRepAction::Pause, gluster::GeoRepAction::Resume, gluster::GeoRepAction::Delete}) {
    const std::string name = gluster::actionName(action);
    std::string verb = "GlusterVolume.geoRepSession" + std::string(1, char(std::toupper(name[0]))) + name.substr(1);
    registry.add(verb, [&cli, action](const Json::Value& p, const CallContext&) {
      cli.geoRepAction(p["volumeName"].asString(), remoteOf(p), action, p.get("force", false).asBool());
      return Json::Value(Json::objectValue);
    });
  }

  registry.add("GlusterVolume.geoRepConfigList", [&cli](const Json::Value& p, const CallContext&) {
    Json::Value out;
    out["sessionConfig"] = Json::Value(Json::objectValue);
    for (const auto& [name, value] : cli.geoRepConfig(p["volumeName"].asString(), remoteOf(p))) {
      out["sessionConfig"][name] = value;
    }
    return out;
  });

  registry.add("GlusterVolume.geoRepConfigSet", [&cli](const Json::Value& p, const CallContext&) {
    cli.geoRepConfigSet(p["volumeName"].asString(), remoteOf(p), p["optionName"].asString(),
                        p["optionValue"].asString());
    return Json::Value(Json::objectValue);
  });

  registry.add("GlusterVolume.geoRepConfigReset", [&cli](const Json::Value& p, const CallContext&) {
    cli.geoRepConfigReset(p["volumeName"].asString(), remoteOf(p), p["optionName"].asString());
    return Json::Value(Json::objectValue);
  });

  registry.add("GlusterVolume.geoRepCheckpointSet", [&cli](const Json::Value& p, const CallContext&) {
    Json::Value out;
    out["checkpointTime"] = Json::Int64(cli.geoRepCheckpointSet(p["volumeName"].asString(), remoteOf(p)));
    return out;
  });

  // Touching the primary's root goes through the gfapi pool, via the
  // session's own primary nodes.
  gluster::RootToucher touch = [&services](const std::vector<std::string>& nodes, const std::string& volume) {
    services.volumes.with(nodes, volume, [](gfapi::Volume& v) {
      v.touch({});
      return 0;
    });
  };
  services.jobs.registerType(gluster::kGeoRepSyncJobType, [&cli, touch](const JobRecord&) {
    return std::make_unique<gluster::GeoRepSyncJob>(cli, touch);
  });

  registry.add("GlusterVolume.geoRepSync", [&services, &cli, touch](const Json::Value& p, const CallContext&) {
    gluster::GeoRepSyncSpec spec;
    spec.volume = p["volumeName"].asString();
    spec.remote = remoteOf(p);
    spec.timeout = std::chrono::seconds(p["timeout"].asInt64());
    spec.stopAfter = p["stopAfter"].asBool();
    spec.stallTimeout = std::chrono::seconds(p["stallTimeout"].asInt64());
    // With gluster's events arriving, completion is pushed: a slow poll is
    // only the safety net and spares glusterd.
    const double poll = p.isMember("pollInterval") ? p["pollInterval"].asDouble() : services.glusterEvents ? 10 : 1;
    spec.pollInterval = std::chrono::milliseconds(static_cast<long long>(poll * 1000));
    // One sync per session at a time.
    for (const auto& job : services.jobs.list()) {
      if (job.type == gluster::kGeoRepSyncJobType && !job.terminal() &&
          job.details["volumeName"] == spec.volume && job.details["remoteHost"] == spec.remote.host &&
          job.details["remoteVolumeName"] == spec.remote.volume) {
        Json::Value data;
        data["jobId"] = job.id;
        throw AgentError(Code::JobExists, "a geo-replication sync of this session is already running: " + job.id, data);
      }
    }
    JobRecord record = gluster::newGeoRepSyncRecord(spec);
    record.id = p.get("jobUUID", "").asString();
    Json::Value out;
    out["jobId"] = services.jobs.start(record, std::make_unique<gluster::GeoRepSyncJob>(cli, touch)).id;
    return out;
  });

  registry.add("GlusterVolume.fileStat", [&services](const Json::Value& p, const CallContext&) {
    return services.volumes.with(strings(p["volfileServers"]), p["volumeName"].asString(),
                                 [&](gfapi::Volume& volume) { return gfapi::fileStat(volume, p["path"].asString()); });
  });

  registry.add("GlusterVolume.geoRepResyncFile", [&services](const Json::Value& p, const CallContext&) {
    return services.volumes.with(strings(p["volfileServers"]), p["volumeName"].asString(), [&](gfapi::Volume& volume) {
      std::vector<std::uint64_t> offsets;
      for (const auto& o : p["offsets"]) offsets.push_back(o.asUInt64());
      return gfapi::markForGeoRepResync(volume, p["path"].asString(), offsets);
    });
  });

  registry.add("GlusterVolume.fileChecksum", [&services](const Json::Value& p, const CallContext&) {
    std::optional<std::uint64_t> length;
    if (p.isMember("length")) length = p["length"].asUInt64();
    std::optional<gfapi::Sampling> sampling;
    if (p.isMember("sampleStride")) {
      if (length || p["offset"].asUInt64() != 0) {
        throw AgentError(Code::InvalidParameter, "sampleStride samples the whole file: offset and length do not apply");
      }
      sampling = gfapi::Sampling{p["sampleStride"].asUInt64(), p["sampleLength"].asUInt64()};
      if (sampling->length > sampling->stride) {
        throw AgentError(Code::InvalidParameter, "sampleLength must not exceed sampleStride");
      }
    }
    return services.volumes.with(strings(p["volfileServers"]), p["volumeName"].asString(), [&](gfapi::Volume& volume) {
      return gfapi::fileChecksum(volume, p["path"].asString(), p["offset"].asUInt64(), length, sampling);
    });
  });

  registry.add("GlusterVolume.shardLayout", [&services](const Json::Value& p, const CallContext&) {
    return services.volumes.with(strings(p["volfileServers"]), p["volumeName"].asString(),
                                 [&](gfapi::Volume& volume) { return gfapi::shardLayout(volume, p["path"].asString()); });
  });

  registry.add("GlusterVolume.imageInfo", [&services](const Json::Value& p, const CallContext&) {
    return services.volumes.with(strings(p["volfileServers"]), p["volumeName"].asString(),
                                 [&](gfapi::Volume& volume) { return gfapi::imageInfo(volume, p["path"].asString()); });
  });
}

}  // namespace gdr
