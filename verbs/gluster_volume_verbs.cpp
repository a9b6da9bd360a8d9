// GlusterVolume.*: geo-replication through the gluster CLI, and files on
// gluster volumes through libgfapi.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>

#include "api/gluster_volume.h"
#include "api/recovery.h"
#include "api/recovery_point.h"
#include "core/clock.h"
#include "core/durable_file.h"
#include "core/errors.h"
#include "core/job_store.h"
#include "core/json_util.h"
#include "core/process.h"
#include "gfapi/glfs_volume.h"
#include "gfapi/overlay_delete.h"
#include "gfapi/recovery_points.h"
#include "gluster/cli.h"
#include "gluster/georep_fence.h"
#include "gluster/georep_keys.h"
#include "gluster/georep_sync.h"
#include "verbs/all_verbs.h"
#include "verbs/drill_job.h"
#include "verbs/failover_job.h"
#include "virt/definition.h"
#include "virt/gluster_mounts.h"
#include "virt/vm_listing.h"

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

// Which volfile servers a caller may name: the root agent fetches a
// volume's graph (which xlators to load, with what options) from it, so
// only the configured ones or, by default, the hosts this host's glusterd
// already knows as brick or geo-rep secondary hosts.
class VolfileServers {
 public:
  VolfileServers(std::optional<std::vector<std::string>> configured, gluster::GlusterCli& cli)
      : configured_(std::move(configured)), cli_(cli) {}

  void check(const std::vector<std::string>& servers) {
    for (const auto& server : servers) {
      if (!allowed(server)) {
        Json::Value data;
        data["server"] = server;
        throw AgentError(Code::VolfileServerNotAllowed,
                         "volfile server '" + json::printable(server, 100) + "' is not allowed on this agent (" +
                             (configured_ ? std::string("volfile_servers") : "not a host of a known volume") + ")",
                         data);
      }
    }
  }

 private:
  bool allowed(const std::string& server) {
    const auto listed = [&server](const std::vector<std::string>& list) {
      return std::find(list.begin(), list.end(), server) != list.end();
    };
    if (configured_) return listed(*configured_);
    if (server == "localhost" || server == "127.0.0.1" || server == "::1") return true;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    // A host not seen yet may belong to a volume created since: look
    // again, at most every few seconds.
    if (!listed(known_) && now - readAt_ > std::chrono::seconds(5)) {
      readAt_ = now;
      try {
        known_ = cli_.knownVolumeHosts();
      } catch (const AgentError& e) {
        spdlog::warn("volfile servers: cannot read this host's volumes: {}", e.what());
      }
    }
    return listed(known_);
  }

  const std::optional<std::vector<std::string>> configured_;
  gluster::GlusterCli& cli_;
  std::mutex mutex_;
  std::vector<std::string> known_;
  std::chrono::steady_clock::time_point readAt_{};
};

// qemu-img create without opening the backing file: the chain is given
// to libvirt whole, and the images' own backing names are the primary's.
void makeOverlay(const std::string& overlay, const virt::ChainImage& backing, std::uint64_t virtualSize) {
  // A base's snapshot directory exists once a cycle snapshotted it; not before.
  makeDirectories(std::filesystem::path(overlay).parent_path());
  const CommandResult r = runCommand({"qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", backing.format, "-b",
                                      backing.path, overlay, std::to_string(virtualSize)},
                                     std::chrono::seconds(60));
  if (r.exitCode != 0) {
    throw AgentError(Code::GeneralException, "qemu-img create " + overlay + ": " +
                                            (r.spawnFailed ? "cannot run qemu-img" : json::printable(r.err, 500)));
  }
}

class GlusterVolumeVerbs;

// A drill's point, read through libgfapi (the allowed volfile servers
// were checked when the drill started).
class DrillPointOnVolume : public DrillPointSource {
 public:
  explicit DrillPointOnVolume(gfapi::VolumePool& volumes) : volumes_(volumes) {}
  api::PointListResult points(const api::DrillJobDetails& d) override {
    return volumes_.with(d.volfileServers, d.volumeName, [&](gfapi::Volume& v) { return gfapi::listPoints(v); });
  }
  api::PointCheckResult check(const api::DrillJobDetails& d) override {
    return volumes_.with(d.volfileServers, d.volumeName,
                         [&](gfapi::Volume& v) { return gfapi::checkPointInPlace(v, d.pointId); });
  }
  api::PointManifest manifest(const api::DrillJobDetails& d) override {
    return volumes_.with(d.volfileServers, d.volumeName,
                         [&](gfapi::Volume& v) { return gfapi::readManifest(v, d.pointId); });
  }
  std::string definition(const api::DrillJobDetails& d, const api::PointDefinition& definition) override {
    return volumes_.with(d.volfileServers, d.volumeName, [&](gfapi::Volume& v) {
      return v.readPrefix(volpath::split(definition.path), size_t(definition.size));
    });
  }

 private:
  gfapi::VolumePool& volumes_;
};

// A failover's doings at this (the secondary) site: the point read through
// libgfapi, the volume promoted through this host's glusterd, the
// geo-replication keys of the secondary's root fenced, a read-write FUSE
// mount found or made.
class FailoverSiteHere : public FailoverSite {
 public:
  explicit FailoverSiteHere(AgentServices& services) : services_(services) {}
  api::PointListResult points(const api::FailoverJobDetails& d) override {
    return services_.volumes.with(d.volfileServers, d.volumeName, [&](gfapi::Volume& v) { return gfapi::listPoints(v); });
  }
  api::PointCheckResult check(const api::FailoverJobDetails& d) override {
    return services_.volumes.with(d.volfileServers, d.volumeName,
                                  [&](gfapi::Volume& v) { return gfapi::checkPointInPlace(v, d.pointId); });
  }
  api::PointManifest manifest(const api::FailoverJobDetails& d) override {
    return services_.volumes.with(d.volfileServers, d.volumeName,
                                  [&](gfapi::Volume& v) { return gfapi::readManifest(v, d.pointId); });
  }
  std::string definition(const api::FailoverJobDetails& d, const api::PointDefinition& definition) override {
    return services_.volumes.with(d.volfileServers, d.volumeName, [&](gfapi::Volume& v) {
      return v.readPrefix(volpath::split(definition.path), size_t(definition.size));
    });
  }
  bool readOnly(const std::string& volume) override {
    const auto options = services_.gluster.volumeOptions(volume);
    const auto it = options.find("features.read-only");
    return it != options.end() && (it->second == "on" || it->second == "true" || it->second == "enable");
  }
  void allowWrites(const std::string& volume) override {
    services_.gluster.volumeSet(volume, "features.read-only", "off", Code::FailoverFailed);
  }
  std::vector<std::string> fenceGeoRepKeys(const std::string& jobId) override {
    const std::string aside = services_.failoverDir + "/" + jobId + "/fenced-authorized_keys";
    std::filesystem::create_directories(services_.failoverDir + "/" + jobId);
    return gluster::fenceGeoRepKeys("root", aside, services_.geoRepHomeOverride).removed;
  }
  std::vector<std::string> fenceGeoRepReceivers(const std::string& volume) override {
    return gluster::stopGeoRepReceivers(volume);
  }
  std::string writableMount(const api::FailoverJobDetails& d) override {
    for (const auto& m : virt::readGlusterMounts()) {
      if (m.volume == d.volumeName && !m.readOnly) return m.mountPoint;
    }
    // None: one of gdr's own, as VDSM mounts a storage domain; its client's
    // pid beside it, so whoever unmounts it can stop it.
    const std::string mount = services_.failoverDir + "/mnt/" + d.volumeName;
    std::filesystem::create_directories(mount);
    std::vector<std::string> args = {"glusterfs", "--process-name", "fuse", "--pid-file=" + mount + ".pid"};
    for (const auto& server : d.volfileServers) args.push_back("--volfile-server=" + server);
    args.push_back("--volfile-id=/" + d.volumeName);
    args.push_back(mount);
    const CommandResult r = runCommand(args, std::chrono::seconds(60));
    if (r.exitCode != 0) {
      throw AgentError(Code::FailoverFailed, "cannot mount " + d.volumeName + " at " + mount + ": " +
                                                 (r.spawnFailed ? "cannot run glusterfs" : json::printable(r.err, 400)));
    }
    for (int i = 0; i < 300; ++i) {
      struct stat st {};
      if (::stat(mount.c_str(), &st) == 0 && st.st_ino == 1) return mount;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw AgentError(Code::FailoverFailed, "the mount of " + d.volumeName + " at " + mount + " did not come up in 30 s");
  }
  bool exists(const std::string& path) override {
    std::error_code ec;
    return std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found;
  }

 private:
  AgentServices& services_;
};

class GlusterVolumeVerbs {
 public:
  explicit GlusterVolumeVerbs(AgentServices& services)
      : services_(services), cli_(services.gluster), volfileServers_(services.volfileServers, services.gluster) {
    // Touching the primary's root goes through the gfapi pool, via the
    // session's own primary nodes.
    touch_ = [&volumes = services.volumes](const std::vector<std::string>& nodes, const std::string& volume) {
      volumes.with(nodes, volume, [](gfapi::Volume& v) {
        v.touch({});
        return 0;
      });
    };
    services.jobs.registerType(api::kGeoRepSyncJobType, [this](const JobRecord&) { return makeSyncRunner(); });
    services.jobs.registerType(api::kDrillJobType, [this](const JobRecord&) { return makeDrillRunner(true); });
    services.jobs.registerType(api::kFailoverJobType, [this](const JobRecord&) { return makeFailoverRunner(); });
  }

  // Safe to repeat after a reconnect: the guards run again, and a file
  // already deleted is reported as absent.
  api::OverlayDeleteResult overlayDelete(const api::OverlayDeleteParams& p) {
    const auto& deletable = services_.deleteVolumes;
    if (std::find(deletable.begin(), deletable.end(), p.volumeName) == deletable.end()) {
      Json::Value data;
      data["volume"] = p.volumeName;
      throw AgentError(Code::VolumeNotDeletable,
                       "overlayDelete is not enabled for volume '" + p.volumeName +
                           "' on this agent (delete_volumes); nothing was deleted",
                       data);
    }
    volfileServers_.check(p.volfileServers);
    // What running VMs here have open, asked before the volume is touched:
    // without libvirt's answer nothing is deleted.
    const api::VmList vms = virt::listRunningVms(services_.hypervisor, virt::readGlusterMounts());
    gfapi::OverlayDeleteRequest request;
    request.paths = p.paths;
    request.expectedBacking = p.expectedBacking;
    request.dryRun = p.dryRun;
    request.allowedPrefixes = services_.overlayPrefixes;
    request.cache = &services_.imageHeaders;
    request.cacheScope = p.volumeName;
    return onVolume(p.volfileServers, p.volumeName, [&](gfapi::Volume& volume) {
      request.openByVms = virt::imagesOnVolume(
          vms, p.volumeName, [&](const api::GlusterLocation& disk) { return sameVolume(volume, disk); });
      return gfapi::deleteOverlays(volume, request);
    });
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
      if (p.length) {
        throw AgentError(Code::InvalidParameter,
                         "sampleStride samples the file from offset to its end: length does not apply");
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

  api::PointListResult recoveryPointList(const api::VolumeRef& p) {
    return onVolume(p.volfileServers, p.volumeName, [](gfapi::Volume& v) { return gfapi::listPoints(v); });
  }

  api::PointCheckResult recoveryPointCheck(const api::PointCheckParams& p) {
    return onVolume(p.volfileServers, p.volumeName,
                    [&](gfapi::Volume& v) { return gfapi::checkPointInPlace(v, p.pointId); });
  }

  // Boots the point's VMs here on throwaway overlays, as a job; QEMU reads
  // the point through this host's mount of the volume.
  api::JobStarted recoveryPointDrill(const api::DrillParams& p) {
    if (!services_.guests || services_.drillDir.empty()) {
      throw AgentError(Code::GeneralException, "drills are not available on this agent");
    }
    volfileServers_.check(p.volfileServers);
    if (!gfapi::isPointId(p.pointId)) throw AgentError(Code::InvalidParameter, "not a recovery point id: " + p.pointId);
    JobRecord record = newDrillRecord(p, "");
    if (record.id.empty()) record.id = JobStore::newId();
    auto details = api::decode<api::DrillJobDetails>(record.details);
    details.mountPoint = mountOf(p.volumeName, Access::Read).string();
    details.scratchDir = services_.drillDir + "/" + record.id;
    record.details = api::encode(details);
    try {
      // One drill per volume at a time: each boots every VM it names.
      return {services_.jobs
                  .start(record, makeDrillRunner(false),
                         [&](const JobRecord& running) {
                           return running.type == api::kDrillJobType &&
                                  running.details["volumeName"].asString() == p.volumeName;
                         })
                  .id};
    } catch (const AgentError& e) {
      if (e.code() != Code::JobExists || !e.data().isMember("jobId")) throw;
      throw AgentError(Code::JobExists,
                       "a drill on volume " + p.volumeName + " is already running: " + e.data()["jobId"].asString(),
                       e.data());
    }
  }

  // Makes this site's copy of the volume the live one and runs the
  // point's VMs here, as a job.
  api::JobStarted recoveryPointFailover(const api::FailoverParams& p) {
    if (!services_.guests || services_.failoverDir.empty()) {
      throw AgentError(Code::GeneralException, "failovers are not available on this agent");
    }
    volfileServers_.check(p.volfileServers);
    if (p.pointId && !gfapi::isPointId(*p.pointId)) {
      throw AgentError(Code::InvalidParameter, "not a recovery point id: " + *p.pointId);
    }
    for (const auto& [from, to] : p.mapping.paths) {
      if (from.empty() || from.front() != '/' || to.empty() || to.front() != '/' ||
          (from.back() == '/') != (to.back() == '/')) {
        throw AgentError(Code::InvalidParameter, "mapping.paths: '" + json::printable(from, 200) + "' -> '" +
                                                     json::printable(to, 200) +
                                                     "': both absolute, both ending in / or neither");
      }
    }
    JobRecord record = newFailoverRecord(p, "");
    if (record.id.empty()) record.id = JobStore::newId();
    auto details = api::decode<api::FailoverJobDetails>(record.details);
    details.definitionDir = services_.failoverDir + "/" + record.id;
    record.details = api::encode(details);
    try {
      // One failover per volume, ever running at once.
      return {services_.jobs
                  .start(record, makeFailoverRunner(),
                         [&](const JobRecord& running) {
                           return running.type == api::kFailoverJobType &&
                                  running.details["volumeName"].asString() == p.volumeName;
                         })
                  .id};
    } catch (const AgentError& e) {
      if (e.code() != Code::JobExists || !e.data().isMember("jobId")) throw;
      throw AgentError(Code::JobExists,
                       "a failover of volume " + p.volumeName + " is already running: " + e.data()["jobId"].asString(),
                       e.data());
    }
  }

  // Written on the secondary itself, through libgfapi: the one thing gdr
  // puts there that the primary never holds.
  api::PointSealResult recoveryPointSeal(const api::PointCheckParams& p) {
    return onVolume(p.volfileServers, p.volumeName, [&](gfapi::Volume& v) {
      api::PointSealResult out = gfapi::sealPoint(v, p.pointId, nowSeconds());
      out.seal.volume = p.volumeName;
      return out;
    });
  }

  // Manifests are written and pruned on the primary, through this host's
  // mount of it (as the VMs' disks and definitions are); geo-replication
  // carries both to the secondary.
  api::PointSaveResult recoveryPointSave(const api::PointSaveParams& p) {
    const api::PointManifest& m = p.manifest;
    auto refuse = [](const std::string& why) { throw AgentError(Code::InvalidParameter, "manifest: " + why); };
    if (!gfapi::isPointId(m.id))
      refuse("'" + json::printable(m.id, 40) + "' is not a point id (YYYYMMDDTHHMMSSZ-XXXXXXXX)");
    if (m.format != api::kPointFormat) refuse("format " + std::to_string(m.format) + " is unknown");
    if (m.volume != p.volumeName)
      refuse("it describes volume " + json::printable(m.volume, 100) + ", not " + p.volumeName);
    if (m.vms.empty()) refuse("it names no VM");
    for (const auto& vm : m.vms) {
      volpath::split(vm.definition.path);  // each a valid volume-relative path (PathRejected otherwise)
      for (const auto& d : vm.disks) volpath::split(d.path);
    }
    const std::filesystem::path file = mountOf(p.volumeName, Access::Write) / gfapi::kPointDir / (m.id + ".json");
    try {
      makeDirectories(file.parent_path());
      writeFileDurably(file, json::pretty(api::encode(m)), 0600);
    } catch (const std::exception& e) {
      throw AgentError(Code::GeneralException, "cannot write the manifest of point " + m.id + ": " + e.what());
    }
    return {{p.volumeName, std::string(gfapi::kPointDir) + "/" + m.id + ".json"}};
  }

  api::PointPruneResult recoveryPointPrune(const api::PointPruneParams& p) {
    const std::filesystem::path mount = mountOf(p.volumeName, Access::Write);
    const std::filesystem::path dir = mount / gfapi::kPointDir;
    std::vector<std::string> ids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (!entry.is_regular_file(ec)) continue;
      if (auto id = gfapi::pointIdOfFile(entry.path().filename().string())) ids.push_back(*id);
    }
    std::sort(ids.rbegin(), ids.rend());  // newest first
    api::PointPruneResult out;
    // Deltas the newest point names stay (the older ones were committed
    // into their bases before its snapshot); so does any image a VM here uses.
    std::set<std::string> keptDeltas, removable, keptDefinitions, oldDefinitions;
    for (size_t i = 0; i < ids.size(); ++i) {
      std::optional<api::PointManifest> m;
      try {
        std::ifstream in(dir / (ids[i] + ".json"));
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (text.size() > gfapi::kMaxManifestBytes) continue;
        auto parsed = json::parse(text);
        if (!parsed) continue;
        m = api::decode<api::PointManifest>(*parsed);
      } catch (const std::exception&) {
        continue;  // unreadable: names nothing we could remove safely
      }
      for (const auto& vm : m->vms) {
        (std::int64_t(i) < p.keep ? keptDefinitions : oldDefinitions).insert(vm.definition.path);
        for (const auto& d : vm.disks) {
          if (!p.removeDeltas) continue;
          for (const api::PointImage* delta : d.deltas()) {
            if (i == 0) {
              keptDeltas.insert(delta->path);
            } else if (volpath::isDeltaBeside(delta->path, d.path)) {
              removable.insert(delta->path);
            }
          }
        }
      }
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      if (std::int64_t(i) < p.keep) {
        out.kept.push_back(ids[i]);
        continue;
      }
      if (!std::filesystem::remove(dir / (ids[i] + ".json"), ec) && ec) {
        throw AgentError(Code::GeneralException, "cannot remove the manifest of point " + ids[i] + ": " + ec.message());
      }
      out.removed.push_back(ids[i]);
    }
    // Definitions are named by their content: one no kept point names is
    // an older version of a VM's definition.
    for (const auto& rel : oldDefinitions) {
      if (keptDefinitions.count(rel) || !virt::isDefinitionPath(rel)) continue;
      if (std::filesystem::remove(mount / rel, ec)) out.removedDefinitions.push_back(rel);
    }
    if (removable.empty()) return out;
    std::set<std::string> inUse;
    for (const auto& vm : virt::listRunningVms(services_.hypervisor, virt::readGlusterMounts()).vms) {
      for (const auto& d : vm.disks) inUse.insert(d.chain.begin(), d.chain.end());
    }
    for (const auto& rel : removable) {
      const std::filesystem::path file = mount / rel;
      if (keptDeltas.count(rel) || inUse.count(file.string())) continue;
      if (std::filesystem::remove(file, ec)) out.removedDeltas.push_back(rel);
      if (ec) spdlog::warn("cannot remove delta {}: {}", file.string(), ec.message());
    }
    return out;
  }

  api::SessionListResult geoRepSessionList(const api::SessionListParams& p) {
    api::SessionListResult out;
    const gluster::SessionFilter filter{p.volumeName, p.remoteHost, p.remoteVolumeName, p.remoteUserName};
    for (const auto& s : gluster::filterSessions(cli_.geoRepStatus(p.volumeName.value_or(""), std::nullopt), filter)) {
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
      throw AgentError(Code::GeoRepSessionNotFound,
                       "no geo-replication session " + p.volumeName + " -> " + remote.spec());
    }
    api::SessionStatusResult out;
    for (const auto& w : sessions.front().workers) out.sessionStatus.push_back(workerInfo(w));
    return out;
  }

  api::Empty geoRepSessionCreate(const api::SessionCreateParams& p) {
    cli_.geoRepCreate(p.volumeName, remoteOf(p), p.noVerify, p.force);
    return {};
  }

  api::Empty geoRepSessionAction(gluster::GeoRepAction action, const api::SessionParams& p, bool force) {
    cli_.geoRepAction(p.volumeName, remoteOf(p), action, force);
    return {};
  }

  api::ConfigListResult geoRepConfigList(const api::SessionParams& p) {
    return {cli_.geoRepConfig(p.volumeName, remoteOf(p))};
  }

  api::Empty volumeSet(const api::VolumeSetParams& p) {
    cli_.volumeSet(p.volumeName, p.option, p.value, Code::GlusterVolumeSetFailed);
    return {};
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
    spec.startAfterRollover = p.startAfterRollover;
    // With gluster's events arriving, completion is pushed: a slow poll is
    // only the safety net and spares glusterd.
    const double poll = p.pollInterval.value_or(services_.glusterEvents ? 10 : 1);
    spec.pollInterval = std::chrono::milliseconds(static_cast<long long>(poll * 1000));
    JobRecord record = gluster::newGeoRepSyncRecord(spec);
    record.id = p.jobUUID.value_or("");
    try {
      // One sync per session at a time.
      return {services_.jobs
                  .start(record, makeSyncRunner(),
                         [&](const JobRecord& running) { return gluster::sameSession(running, spec); })
                  .id};
    } catch (const AgentError& e) {
      if (e.code() != Code::JobExists || !e.data().isMember("jobId")) throw;
      throw AgentError(Code::JobExists,
                       "a geo-replication sync of this session is already running: " + e.data()["jobId"].asString(),
                       e.data());
    }
  }

 private:
  template <class Fn>
  std::invoke_result_t<Fn, gfapi::Volume&> onVolume(const std::vector<std::string>& servers, const std::string& volume,
                                                    Fn&& fn) {
    volfileServers_.check(servers);
    return services_.volumes.with(servers, volume, std::forward<Fn>(fn));
  }

  // This host's FUSE mount of the volume; to write through, a read-write
  // one (a DR site mounts its secondary read-only, and read-write too
  // once a failover promoted it).
  enum class Access { Read, Write };
  static std::filesystem::path mountOf(const std::string& volume, Access access) {
    bool readOnlySeen = false;
    for (const auto& m : virt::readGlusterMounts()) {
      if (m.volume != volume) continue;
      if (access == Access::Write && m.readOnly) {
        readOnlySeen = true;
        continue;
      }
      return m.mountPoint;
    }
    Json::Value data;
    data["volume"] = volume;
    throw AgentError(Code::VolumeNotMounted,
                     "this host does not mount volume " + volume + (readOnlySeen ? " read-write" : ""), data);
  }

  // Is a VM's disk volume (of the same name) the volume at hand? Compared
  // by volume UUID; when either is unknown, it is taken to be the same.
  bool sameVolume(gfapi::Volume& target, const api::GlusterLocation& disk) {
    const std::string targetId = target.volumeId();
    if (targetId.empty()) return true;
    try {
      const std::string diskId =
          services_.volumes.with({disk.server}, disk.volume, [](gfapi::Volume& v) { return v.volumeId(); });
      return diskId.empty() || diskId == targetId;
    } catch (const AgentError& e) {
      spdlog::warn("overlayDelete: cannot identify volume {} of a running VM via {}: {}", disk.volume, disk.server,
                   e.what());
      return true;
    }
  }

  std::unique_ptr<DrillJob> makeDrillRunner(bool resumed) {
    if (!services_.guests) throw AgentError(Code::GeneralException, "drills are not available on this agent");
    return std::make_unique<DrillJob>(DrillTools{drillPoint_, *services_.guests, makeOverlay}, resumed);
  }

  std::unique_ptr<FailoverJob> makeFailoverRunner() {
    if (!services_.guests) throw AgentError(Code::GeneralException, "failovers are not available on this agent");
    return std::make_unique<FailoverJob>(FailoverTools{failoverSite_, *services_.guests, makeOverlay});
  }

  std::unique_ptr<gluster::GeoRepSyncJob> makeSyncRunner() {
    return std::make_unique<gluster::GeoRepSyncJob>(
        cli_, touch_, readFileTail,
        [changelogs = gluster::LocalChangelogs()](const gluster::GeoRepWorker& w) { return changelogs.lastRolled(w); });
  }

  AgentServices& services_;
  gluster::GlusterCli& cli_;
  gluster::RootToucher touch_;
  VolfileServers volfileServers_;
  DrillPointOnVolume drillPoint_{services_.volumes};
  FailoverSiteHere failoverSite_{services_};
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
  registry.add<api::RecoveryPointSave>([v](const auto& p, const CallContext&) { return v->recoveryPointSave(p); });
  registry.add<api::RecoveryPointPrune>([v](const auto& p, const CallContext&) { return v->recoveryPointPrune(p); });
  registry.add<api::RecoveryPointList>([v](const auto& p, const CallContext&) { return v->recoveryPointList(p); });
  registry.add<api::RecoveryPointCheck>([v](const auto& p, const CallContext&) { return v->recoveryPointCheck(p); });
  registry.add<api::RecoveryPointSeal>([v](const auto& p, const CallContext&) { return v->recoveryPointSeal(p); });
  registry.add<api::RecoveryPointDrill>([v](const auto& p, const CallContext&) { return v->recoveryPointDrill(p); });
  registry.add<api::RecoveryPointFailover>(
      [v](const auto& p, const CallContext&) { return v->recoveryPointFailover(p); });
  registry.add<api::GeoRepSessionList>([v](const auto& p, const CallContext&) { return v->geoRepSessionList(p); });
  registry.add<api::GeoRepSessionStatus>([v](const auto& p, const CallContext&) { return v->geoRepSessionStatus(p); });
  using gluster::GeoRepAction;
  registry.add<api::GeoRepSessionCreate>([v](const auto& p, const CallContext&) { return v->geoRepSessionCreate(p); });
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
  registry.add<api::VolumeSet>([v](const auto& p, const CallContext&) { return v->volumeSet(p); });
  registry.add<api::GeoRepConfigSet>([v](const auto& p, const CallContext&) { return v->geoRepConfigSet(p); });
  registry.add<api::GeoRepConfigReset>([v](const auto& p, const CallContext&) { return v->geoRepConfigReset(p); });
  registry.add<api::GeoRepCheckpointSet>([v](const auto& p, const CallContext&) { return v->geoRepCheckpointSet(p); });
  registry.add<api::GeoRepSync>([v](const auto& p, const CallContext&) { return v->geoRepSync(p); });
}

}  // namespace gdr
