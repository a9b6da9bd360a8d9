// GlusterVolume.*: geo-replication through the gluster CLI, and files on
// gluster volumes through libgfapi.
#include <type_traits>

#include "api/gluster_volume.h"
#include "core/errors.h"
#include "core/job_store.h"
#include "gfapi/glfs_volume.h"
#include "gfapi/overlay_delete.h"
#include "gluster/cli.h"
#include "gluster/georep_sync.h"
#include "verbs/all_verbs.h"

namespace gdr {

namespace {

gluster::Remote remoteOf(const api::SessionParams& p) { return {p.remoteHost, p.remoteVolumeName, p.remoteUserName}; }

// VDSM's shape for one worker.
api::GeoRepWorkerInfo workerInfo(const gluster::GeoRepWorker& w) {
  api::GeoRepWorkerInfo o;
  o.masterNode = w.primaryNode;
  o.masterNodeUuid = w.primaryNodeUuid;
  o.masterBrick = w.primaryBrick;
  o.remoteUserName = w.secondaryUser;
  o.slave = w.secondary;
  o.slaveNode = w.secondaryNode;
  o.status = gluster::normalizeStatus(w.status);
  o.crawlStatus = w.crawlStatus;
  o.entry = w.entry;
  o.data = w.data;
  o.meta = w.meta;
  o.failures = w.failures;
  o.checkpointCompleted = w.checkpointCompleted;
  o.lastSynced = w.lastSynced;
  o.checkpointTime = w.checkpointTime;
  o.checkpointCompletionTime = w.checkpointCompletionTime;
  return o;
}

class GlusterVolumeVerbs {
 public:
  explicit GlusterVolumeVerbs(AgentServices& services) : services_(services), cli_(services.gluster) {
    // Touching the primary's root goes through the gfapi pool, via the
    // session's own primary nodes.
    touch_ = [&volumes = services.volumes](const std::vector<std::string>& nodes, const std::string& volume) {
      volumes.with(nodes, volume, [](gfapi::Volume& v) {
        v.touch({});
        return 0;
      });
    };
    services.jobs.registerType(api::kGeoRepSyncJobType, [this](const JobRecord&) { return makeSyncRunner(); });
  }

  // Safe to repeat after a reconnect: the guards run again, and a file
  // already deleted is reported as absent.
  api::OverlayDeleteResult overlayDelete(const api::OverlayDeleteParams& p) {
    gfapi::OverlayDeleteRequest request;
    request.paths = p.paths;
    request.expectedBacking = p.expectedBacking;
    request.dryRun = p.dryRun;
    request.allowedPrefixes = services_.overlayPrefixes;
    request.cache = &services_.imageHeaders;
    request.cacheScope = p.volumeName;
    return onVolume(p.volfileServers, p.volumeName,
                    [&](gfapi::Volume& volume) { return gfapi::deleteOverlays(volume, request); });
  }

  api::FileStatResult fileStat(const api::FileParams& p) {
    return onVolume(p.volfileServers, p.volumeName, [&](gfapi::Volume& v) { return gfapi::fileStat(v, p.path); });
  }

  api::ResyncResult geoRepResyncFile(const api::ResyncParams& p) {
    return onVolume(p.volfileServers, p.volumeName,
                    [&](gfapi::Volume& v) { return gfapi::markForGeoRepResync(v, p.path, p.offsets); });
  }

  api::ChecksumResult fileChecksum(const api::ChecksumParams& p) {
    std::optional<gfapi::Sampling> sampling;
    if (p.sampleStride) {
      if (p.length || p.offset != 0) {
        throw AgentError(Code::InvalidParameter, "sampleStride samples the whole file: offset and length do not apply");
      }
      sampling = gfapi::Sampling{*p.sampleStride, p.sampleLength};
      if (sampling->length > sampling->stride) {
        throw AgentError(Code::InvalidParameter, "sampleLength must not exceed sampleStride");
      }
    }
    return onVolume(p.volfileServers, p.volumeName,
                    [&](gfapi::Volume& v) { return gfapi::fileChecksum(v, p.path, p.offset, p.length, sampling); });
  }

  api::ShardLayoutResult shardLayout(const api::FileParams& p) {
    return onVolume(p.volfileServers, p.volumeName, [&](gfapi::Volume& v) { return gfapi::shardLayout(v, p.path); });
  }

  api::ImageInfoResult imageInfo(const api::FileParams& p) {
    return onVolume(p.volfileServers, p.volumeName, [&](gfapi::Volume& v) { return gfapi::imageInfo(v, p.path); });
  }

  api::EmptyCheckResult volumeEmptyCheck(const api::VolumeRef& p) {
    return onVolume(p.volfileServers, p.volumeName, [](gfapi::Volume& v) { return gfapi::emptyCheck(v); });
  }

  api::SessionListResult geoRepSessionList(const api::SessionListParams& p) {
    api::SessionListResult out;
    for (const auto& s : cli_.geoRepStatus(p.volumeName.value_or(""), std::nullopt)) {
      api::SessionInfo info{s.sessionKey, s.primaryVolume, s.secondaryHost, s.secondaryVolume, s.secondaryUser, {}};
      for (const auto& w : s.workers) info.bricks.push_back(workerInfo(w));
      out.sessions.push_back(std::move(info));
    }
    return out;
  }

  api::SessionStatusResult geoRepSessionStatus(const api::SessionParams& p) {
    const auto remote = remoteOf(p);
    const auto sessions = cli_.geoRepStatus(p.volumeName, remote);
    if (sessions.empty()) {
      throw AgentError(Code::GeoRepSessionNotFound, "no geo-replication session " + p.volumeName + " -> " + remote.spec());
    }
    api::SessionStatusResult out;
    for (const auto& w : sessions.front().workers) out.sessionStatus.push_back(workerInfo(w));
    return out;
  }

  api::Empty geoRepSessionAction(gluster::GeoRepAction action, const api::SessionParams& p, bool force) {
    cli_.geoRepAction(p.volumeName, remoteOf(p), action, force);
    return {};
  }

  api::ConfigListResult geoRepConfigList(const api::SessionParams& p) {
    return {cli_.geoRepConfig(p.volumeName, remoteOf(p))};
  }

  api::Empty geoRepConfigSet(const api::ConfigSetParams& p) {
    cli_.geoRepConfigSet(p.volumeName, remoteOf(p), p.optionName, p.optionValue);
    return {};
  }

  api::Empty geoRepConfigReset(const api::ConfigResetParams& p) {
    cli_.geoRepConfigReset(p.volumeName, remoteOf(p), p.optionName);
    return {};
  }

  api::CheckpointResult geoRepCheckpointSet(const api::SessionParams& p) {
    return {cli_.geoRepCheckpointSet(p.volumeName, remoteOf(p))};
  }

  api::JobStarted geoRepSync(const api::GeoRepSyncParams& p) {
    gluster::GeoRepSyncSpec spec;
    spec.volume = p.volumeName;
    spec.remote = remoteOf(p);
    spec.timeout = std::chrono::seconds(p.timeout);
    spec.stopAfter = p.stopAfter;
    spec.stallTimeout = std::chrono::seconds(p.stallTimeout);
    // With gluster's events arriving, completion is pushed: a slow poll is
    // only the safety net and spares glusterd.
    const double poll = p.pollInterval.value_or(services_.glusterEvents ? 10 : 1);
    spec.pollInterval = std::chrono::milliseconds(static_cast<long long>(poll * 1000));
    JobRecord record = gluster::newGeoRepSyncRecord(spec);
    record.id = p.jobUUID.value_or("");
    try {
      // One sync per session at a time.
      return {services_.jobs.start(record, makeSyncRunner(), [&](const JobRecord& running) {
                                 return gluster::sameSession(running, spec);
                               }).id};
    } catch (const AgentError& e) {
      if (e.code() != Code::JobExists || !e.data().isMember("jobId")) throw;
      throw AgentError(Code::JobExists,
                       "a geo-replication sync of this session is already running: " + e.data()["jobId"].asString(),
                       e.data());
    }
  }

 private:
  template <class Fn>
  std::invoke_result_t<Fn, gfapi::Volume&> onVolume(const std::vector<std::string>& servers,
                                                    const std::string& volume, Fn&& fn) {
    return services_.volumes.with(servers, volume, std::forward<Fn>(fn));
  }

  std::unique_ptr<gluster::GeoRepSyncJob> makeSyncRunner() {
    return std::make_unique<gluster::GeoRepSyncJob>(cli_, touch_);
  }

  AgentServices& services_;
  gluster::GlusterCli& cli_;
  gluster::RootToucher touch_;
};

}  // namespace

void registerGlusterVolumeVerbs(Registry& registry, AgentServices& services) {
  auto v = std::make_shared<GlusterVolumeVerbs>(services);
  registry.add<api::OverlayDelete>([v](const auto& p, const CallContext&) { return v->overlayDelete(p); });
  registry.add<api::FileStat>([v](const auto& p, const CallContext&) { return v->fileStat(p); });
  registry.add<api::GeoRepResyncFile>([v](const auto& p, const CallContext&) { return v->geoRepResyncFile(p); });
  registry.add<api::FileChecksum>([v](const auto& p, const CallContext&) { return v->fileChecksum(p); });
  registry.add<api::ShardLayout>([v](const auto& p, const CallContext&) { return v->shardLayout(p); });
  registry.add<api::ImageInfo>([v](const auto& p, const CallContext&) { return v->imageInfo(p); });
  registry.add<api::VolumeEmptyCheck>([v](const auto& p, const CallContext&) { return v->volumeEmptyCheck(p); });
  registry.add<api::GeoRepSessionList>([v](const auto& p, const CallContext&) { return v->geoRepSessionList(p); });
  registry.add<api::GeoRepSessionStatus>([v](const auto& p, const CallContext&) { return v->geoRepSessionStatus(p); });
  using gluster::GeoRepAction;
  registry.add<api::GeoRepSessionCreate>(
      [v](const auto& p, const CallContext&) { return v->geoRepSessionAction(GeoRepAction::Create, p, p.force); });
  registry.add<api::GeoRepSessionStart>(
      [v](const auto& p, const CallContext&) { return v->geoRepSessionAction(GeoRepAction::Start, p, p.force); });
  registry.add<api::GeoRepSessionStop>(
      [v](const auto& p, const CallContext&) { return v->geoRepSessionAction(GeoRepAction::Stop, p, p.force); });
  registry.add<api::GeoRepSessionPause>(
      [v](const auto& p, const CallContext&) { return v->geoRepSessionAction(GeoRepAction::Pause, p, p.force); });
  registry.add<api::GeoRepSessionResume>(
      [v](const auto& p, const CallContext&) { return v->geoRepSessionAction(GeoRepAction::Resume, p, p.force); });
  registry.add<api::GeoRepSessionDelete>(
      [v](const auto& p, const CallContext&) { return v->geoRepSessionAction(GeoRepAction::Delete, p, false); });
  registry.add<api::GeoRepConfigList>([v](const auto& p, const CallContext&) { return v->geoRepConfigList(p); });
  registry.add<api::GeoRepConfigSet>([v](const auto& p, const CallContext&) { return v->geoRepConfigSet(p); });
  registry.add<api::GeoRepConfigReset>([v](const auto& p, const CallContext&) { return v->geoRepConfigReset(p); });
  registry.add<api::GeoRepCheckpointSet>([v](const auto& p, const CallContext&) { return v->geoRepCheckpointSet(p); });
  registry.add<api::GeoRepSync>([v](const auto& p, const CallContext&) { return v->geoRepSync(p); });
}

}  // namespace gdr
