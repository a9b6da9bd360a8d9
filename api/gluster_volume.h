#pragma once
// The contract of the GlusterVolume namespace: geo-replication (VDSM's
// names and shapes) and files on a volume through libgfapi.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/vm.h"

namespace gdr::api {

// A volume reached through libgfapi.
struct VolumeRef {
  std::vector<std::string> volfileServers;
  std::string volumeName;
  template <class V> void visit(V& v) { v("volfileServers", volfileServers)("volumeName", volumeName); }
};

struct FileParams {
  std::vector<std::string> volfileServers;
  std::string volumeName, path;
  template <class V> void visit(V& v) { v("volfileServers", volfileServers)("volumeName", volumeName)("path", path); }
};

struct OverlayDeleteParams {
  std::vector<std::string> volfileServers;
  std::string volumeName;
  std::vector<std::string> paths;
  std::optional<std::string> expectedBacking;
  bool dryRun = false;
  template <class V> void visit(V& v) {
    v("volfileServers", volfileServers)("volumeName", volumeName)("paths", paths)
        .omitIfEmpty("expectedBacking", expectedBacking)("dryRun", dryRun);
  }
};

struct OverlayDeleteEntry {
  std::string path;
  bool deleted = false;
  std::string reason;             // deleted, absent, dry run: all guards passed
  std::uint64_t bytes = 0;
  std::optional<bool> sharded;    // for deleted files
  template <class V> void visit(V& v) {
    v("path", path)("deleted", deleted)("reason", reason)("bytes", bytes).omitIfEmpty("sharded", sharded);
  }
};

struct OverlayDeleteResult {
  std::vector<OverlayDeleteEntry> results;
  bool dryRun = false;
  bool sharded = false;
  std::optional<std::string> note;
  template <class V> void visit(V& v) {
    v("results", results)("dryRun", dryRun)("sharded", sharded).omitIfEmpty("note", note);
  }
};

struct FileStatResult {
  std::string path, type;  // file, directory, symlink, other
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::uint64_t mode = 0;
  std::string gfid;
  template <class V> void visit(V& v) {
    v("path", path)("type", type)("size", size)("mtime", mtime)("mode", mode)("gfid", gfid);
  }
};

struct ResyncParams {
  std::vector<std::string> volfileServers;
  std::string volumeName, path;
  std::vector<std::uint64_t> offsets;  // empty: the whole file
  template <class V> void visit(V& v) {
    v("volfileServers", volfileServers)("volumeName", volumeName)("path", path).orDefault("offsets", offsets);
  }
};
struct ResyncResult {
  std::string path;
  std::uint64_t marked = 0;
  template <class V> void visit(V& v) { v("path", path)("marked", marked); }
};

struct ChecksumParams {
  std::vector<std::string> volfileServers;
  std::string volumeName, path;
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;
  std::optional<std::uint64_t> sampleStride;
  std::uint64_t sampleLength = 65536;
  template <class V> void visit(V& v) {
    v("volfileServers", volfileServers)("volumeName", volumeName)("path", path)("offset", offset)
        .omitIfEmpty("length", length)
        .omitIfEmpty("sampleStride", sampleStride)("sampleLength", sampleLength);
  }
};
struct ChecksumResult {
  std::string path;
  std::optional<std::uint64_t> offset;  // ranges only
  std::uint64_t bytes = 0;
  std::optional<std::uint64_t> ranges, sampleStride, sampleLength;
  std::optional<std::vector<std::string>> rangeSums;  // 16 hex digits of each range's SHA-256
  std::string sha256;
  template <class V> void visit(V& v) {
    v("path", path).omitIfEmpty("offset", offset)("bytes", bytes)
        .omitIfEmpty("ranges", ranges)
        .omitIfEmpty("sampleStride", sampleStride)
        .omitIfEmpty("sampleLength", sampleLength)
        .omitIfEmpty("rangeSums", rangeSums)("sha256", sha256);
  }
};

struct ImageInfoResult {
  std::string path, format;  // qcow2 or raw
  std::uint64_t virtualSize = 0, actualSize = 0;
  std::optional<std::uint64_t> clusterSize;
  std::optional<std::uint64_t> qcow2Version;
  std::optional<std::string> backingFile;  // null when none
  template <class V> void visit(V& v) {
    v("path", path)("format", format)("virtualSize", virtualSize)("actualSize", actualSize)
        .omitIfEmpty("clusterSize", clusterSize)
        .omitIfEmpty("qcow2Version", qcow2Version)("backingFile", backingFile);
  }
};

struct ShardPiece {
  std::uint64_t index = 0, offset = 0;
  std::string gfid;  // empty when the piece is missing
  // Its modification time as gluster keeps it (nanoseconds since the
  // epoch). Geo-replication's rsync sets it on the secondary with the data,
  // so a piece whose time differs between the sites was not resent after
  // its last change. Absent for a missing piece.
  std::optional<std::uint64_t> mtimeNs;
  template <class V> void visit(V& v) {
    v("index", index)("offset", offset)("gfid", gfid);
    v.omitIfEmpty("mtimeNs", mtimeNs);
  }
};
struct ShardLayoutResult {
  std::string path, gfid;
  std::uint64_t size = 0, shardBlockSize = 0;  // 0 when not sharded
  std::vector<ShardPiece> pieces;
  template <class V> void visit(V& v) {
    v("path", path)("gfid", gfid)("size", size)("shardBlockSize", shardBlockSize)("pieces", pieces);
  }
};

struct EmptyCheckResult {
  bool volumeEmptyCheck = false;
  std::vector<std::string> entries;  // the first names found at the root
  template <class V> void visit(V& v) { v("volumeEmptyCheck", volumeEmptyCheck)("entries", entries); }
};

// A geo-replication session, named as VDSM names it.
struct SessionParams {
  std::string volumeName, remoteHost, remoteVolumeName, remoteUserName = "root";
  template <class V> void visit(V& v) {
    v("volumeName", volumeName)("remoteHost", remoteHost)("remoteVolumeName", remoteVolumeName)(
        "remoteUserName", remoteUserName);
  }
};
struct SessionActionParams : SessionParams {
  bool force = false;
  template <class V> void visit(V& v) {
    SessionParams::visit(v);
    v("force", force);
  }
};
struct SessionCreateParams : SessionActionParams {
  bool noVerify = false;
  template <class V> void visit(V& v) {
    SessionActionParams::visit(v);
    v("noVerify", noVerify);
  }
};
struct VolumeSetParams {
  std::string volumeName, option, value;
  template <class V> void visit(V& v) { v("volumeName", volumeName)("option", option)("value", value); }
};

struct ConfigSetParams : SessionParams {
  std::string optionName, optionValue;
  template <class V> void visit(V& v) {
    SessionParams::visit(v);
    v("optionName", optionName)("optionValue", optionValue);
  }
};
struct ConfigResetParams : SessionParams {
  std::string optionName;
  template <class V> void visit(V& v) {
    SessionParams::visit(v);
    v("optionName", optionName);
  }
};

struct GeoRepWorkerInfo {
  std::string masterNode, masterNodeUuid, masterBrick, remoteUserName, slave, slaveNode;
  std::string status, crawlStatus, checkpointCompleted;
  std::optional<std::int64_t> entry, data, meta, failures;  // null for N/A
  std::optional<std::int64_t> lastSynced, checkpointTime, checkpointCompletionTime;
  template <class V> void visit(V& v) {
    v("masterNode", masterNode)("masterNodeUuid", masterNodeUuid)("masterBrick", masterBrick)(
        "remoteUserName", remoteUserName)("slave", slave)("slaveNode", slaveNode)("status", status)(
        "crawlStatus", crawlStatus)("entry", entry)("data", data)("meta", meta)("failures", failures)(
        "checkpointCompleted", checkpointCompleted)("lastSynced", lastSynced)("checkpointTime", checkpointTime)(
        "checkpointCompletionTime", checkpointCompletionTime);
  }
};

struct SessionListParams {
  std::optional<std::string> volumeName, remoteHost, remoteVolumeName, remoteUserName;
  template <class V> void visit(V& v) {
    v.omitIfEmpty("volumeName", volumeName)
        .omitIfEmpty("remoteHost", remoteHost)
        .omitIfEmpty("remoteVolumeName", remoteVolumeName)
        .omitIfEmpty("remoteUserName", remoteUserName);
  }
};
struct SessionInfo {
  std::string sessionKey, volumeName, remoteHost, remoteVolumeName, remoteUserName;
  std::vector<GeoRepWorkerInfo> bricks;
  template <class V> void visit(V& v) {
    v("sessionKey", sessionKey)("volumeName", volumeName)("remoteHost", remoteHost)(
        "remoteVolumeName", remoteVolumeName)("remoteUserName", remoteUserName)("bricks", bricks);
  }
};
struct SessionListResult {
  std::vector<SessionInfo> sessions;
  template <class V> void visit(V& v) { v("sessions", sessions); }
};
struct SessionStatusResult {
  std::vector<GeoRepWorkerInfo> sessionStatus;
  template <class V> void visit(V& v) { v("sessionStatus", sessionStatus); }
};
struct ConfigListResult {
  std::map<std::string, std::string> sessionConfig;
  template <class V> void visit(V& v) { v("sessionConfig", sessionConfig); }
};
struct CheckpointResult {
  std::int64_t checkpointTime = 0;
  template <class V> void visit(V& v) { v("checkpointTime", checkpointTime); }
};

struct GeoRepSyncParams : SessionParams {
  std::int64_t timeout = 600;
  bool stopAfter = true;
  std::int64_t stallTimeout = 120;
  std::optional<double> pollInterval;  // seconds; 1, or 10 when gluster's events reach the agent
  bool startAfterRollover = true;
  std::optional<std::string> jobUUID;
  template <class V> void visit(V& v) {
    SessionParams::visit(v);
    v("timeout", timeout)("stopAfter", stopAfter)("stallTimeout", stallTimeout)
        .orDefault("startAfterRollover", startAfterRollover)
        .omitIfEmpty("pollInterval", pollInterval)
        .omitIfEmpty("jobUUID", jobUUID);
  }
};

GDR_VERB(OverlayDelete, "GlusterVolume.overlayDelete", OverlayDeleteParams, OverlayDeleteResult);
GDR_VERB(FileStat, "GlusterVolume.fileStat", FileParams, FileStatResult);
GDR_VERB(GeoRepResyncFile, "GlusterVolume.geoRepResyncFile", ResyncParams, ResyncResult);
GDR_VERB(FileChecksum, "GlusterVolume.fileChecksum", ChecksumParams, ChecksumResult);
GDR_VERB(ImageInfo, "GlusterVolume.imageInfo", FileParams, ImageInfoResult);
GDR_VERB(ShardLayout, "GlusterVolume.shardLayout", FileParams, ShardLayoutResult);
GDR_VERB(VolumeEmptyCheck, "GlusterVolume.volumeEmptyCheck", VolumeRef, EmptyCheckResult);
GDR_VERB(VolumeSet, "GlusterVolume.set", VolumeSetParams, Empty);
GDR_VERB(GeoRepSessionList, "GlusterVolume.geoRepSessionList", SessionListParams, SessionListResult);
GDR_VERB(GeoRepSessionStatus, "GlusterVolume.geoRepSessionStatus", SessionParams, SessionStatusResult);
GDR_VERB(GeoRepSessionCreate, "GlusterVolume.geoRepSessionCreate", SessionCreateParams, Empty);
GDR_VERB(GeoRepSessionStart, "GlusterVolume.geoRepSessionStart", SessionActionParams, Empty);
GDR_VERB(GeoRepSessionStop, "GlusterVolume.geoRepSessionStop", SessionActionParams, Empty);
GDR_VERB(GeoRepSessionPause, "GlusterVolume.geoRepSessionPause", SessionActionParams, Empty);
GDR_VERB(GeoRepSessionResume, "GlusterVolume.geoRepSessionResume", SessionActionParams, Empty);
GDR_VERB(GeoRepSessionDelete, "GlusterVolume.geoRepSessionDelete", SessionParams, Empty);
GDR_VERB(GeoRepConfigList, "GlusterVolume.geoRepConfigList", SessionParams, ConfigListResult);
GDR_VERB(GeoRepConfigSet, "GlusterVolume.geoRepConfigSet", ConfigSetParams, Empty);
GDR_VERB(GeoRepConfigReset, "GlusterVolume.geoRepConfigReset", ConfigResetParams, Empty);
GDR_VERB(GeoRepCheckpointSet, "GlusterVolume.geoRepCheckpointSet", SessionParams, CheckpointResult);
GDR_VERB(GeoRepSync, "GlusterVolume.geoRepSync", GeoRepSyncParams, JobStarted);

}  // namespace gdr::api
