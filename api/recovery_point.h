#pragma once
// The contract of recovery points: what a point is (its manifest, written
// on the primary volume at .gdr/points/ID.json before the sync that ships
// it), and the verbs that save, list, check and prune them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/gluster_volume.h"

namespace gdr::api {

// Sampled checksums of a file: `length` bytes of every `stride` from
// `offset` (0 when absent), the whole digest and a short digest of each
// range (so a difference is located). A delta's sums start after its
// header cluster: committing the delta under it rewrites its backing file
// name there, and nothing else of it.
struct SampleSums {
  std::uint64_t stride = 0, length = 0;
  std::optional<std::uint64_t> offset;
  std::string sha256;
  std::vector<std::string> rangeSums;
  template <class V>
  void visit(V& v) {
    v("stride", stride)("length", length).omitIfEmpty("offset", offset)("sha256", sha256)("rangeSums", rangeSums);
  }
};

// One image file of a point, as the primary held it at the snapshot.
struct PointImage {
  std::string path, format;  // path: volume-relative
  std::uint64_t virtualSize = 0, actualSize = 0;
  SampleSums sample;
  template <class V>
  void visit(V& v) {
    v("path", path)("format", format)("virtualSize", virtualSize)("actualSize", actualSize)("sample", sample);
  }
};

// A disk of a point: its base image and, in the delta layout, the frozen
// overlays over it, oldest first: `olderDeltas` (earlier points' deltas,
// not yet committed into the base), then `delta`, this point's own (the
// writes since the previous point). The point is the base read through
// them all, in that order, whatever their headers name as backing: a
// cycle commits the oldest delta into the base once a later point no
// longer needs it apart, which rewrites the backing name of the delta
// above it, and while that commit travels to the secondary the committed
// delta still covers every range it changes.
struct PointDisk : PointImage {
  std::string drive;
  std::optional<PointImage> delta;
  std::vector<PointImage> olderDeltas;
  template <class V>
  void visit(V& v) {
    v("drive", drive);
    PointImage::visit(v);
    v.omitIfEmpty("delta", delta).orDefault("olderDeltas", olderDeltas);
  }
  // The images read over the base, oldest first.
  std::vector<const PointImage*> deltas() const {
    std::vector<const PointImage*> out;
    for (const auto& d : olderDeltas) out.push_back(&d);
    if (delta) out.push_back(&*delta);
    return out;
  }
};

struct PointDefinition {
  std::string path, sha256;  // .gdr/vms/UUID.xml
  std::uint64_t size = 0;
  template <class V>
  void visit(V& v) {
    v("path", path)("sha256", sha256)("size", size);
  }
};

struct PointVm {
  std::string vmId, name;
  PointDefinition definition;
  std::vector<PointDisk> disks;
  template <class V>
  void visit(V& v) {
    v("vmId", vmId)("name", name)("definition", definition)("disks", disks);
  }
};

// A VM the cycle knew of (the cycle before saw it on a host) but could not
// capture: its host did not answer. It is not in this point; a recovery
// takes it from the newest complete point that holds it.
struct PointMissingVm {
  std::string vmId, name, why;
  template <class V>
  void visit(V& v) {
    v("vmId", vmId)("name", name).orDefault("why", why);
  }
};

inline constexpr int kPointFormat = 1;

struct PointManifest {
  int format = kPointFormat;
  std::string id;         // YYYYMMDDTHHMMSSZ-XXXXXXXX: sorts by time
  std::int64_t time = 0;  // the snapshot time: what the point recovers to
  std::string volume, flowId;
  std::vector<PointVm> vms;
  std::vector<PointMissingVm> unprotected;
  // "delta" (each base frozen under gdr's deltas: nothing but a later
  // cycle's commit writes it) or "flat" (the VM writes its base between
  // cycles); none in manifests that did not say.
  std::optional<std::string> layout;
  template <class V>
  void visit(V& v) {
    v("format", format)("id", id)("time", time)("volume", volume)("flowId", flowId)("vms", vms);
    v.orDefault("unprotected", unprotected).omitIfEmpty("layout", layout);
  }
};

struct PointSaveParams {
  std::string volumeName;
  PointManifest manifest;
  template <class V>
  void visit(V& v) {
    v("volumeName", volumeName)("manifest", manifest);
  }
};
struct PointSaveResult {
  VolumePath manifest;
  template <class V>
  void visit(V& v) {
    v("manifest", manifest);
  }
};

struct PointPruneParams {
  std::string volumeName;
  std::int64_t keep = 3;
  // Also remove the delta images older points name and the newest does
  // not: they were committed into their bases before the newest point's
  // snapshot, and its seal on the secondary verified those bases. Called
  // after a point is sealed, never before.
  bool removeDeltas = false;
  template <class V>
  void visit(V& v) {
    v("volumeName", volumeName)("keep", keep).orDefault("removeDeltas", removeDeltas);
  }
};
struct PointPruneResult {
  std::vector<std::string> removed, kept;
  std::vector<std::string> removedDeltas;       // volume-relative paths
  std::vector<std::string> removedDefinitions;  // versions of definitions no kept point names
  template <class V>
  void visit(V& v) {
    v("removed", removed)("kept", kept)("removedDeltas", removedDeltas)("removedDefinitions", removedDefinitions);
  }
};

// What a check found wrong with one piece of a point.
struct PointProblem {
  std::string vm, what, why;  // what: the definition, a disk's drive, or the manifest
  template <class V>
  void visit(V& v) {
    v("vm", vm)("what", what)("why", why);
  }
};

struct PointSummary {
  std::string id;
  std::int64_t time = 0;
  // complete: every file as the manifest says (a recovery may use it);
  // incomplete: newer than the newest complete point, its files not (or
  // not all) there yet, or damaged; superseded: older than a complete
  // point, its files since rewritten by a later one.
  std::string state;
  std::vector<std::string> vms;  // names
  std::uint64_t bytes = 0;       // the bases' sizes, added up
  bool sealed = false;           // as PointCheckResult's
  std::vector<PointProblem> problems;
  std::vector<PointProblem> basesUnderway;  // as PointCheckResult's
  template <class V>
  void visit(V& v) {
    v("id", id)("time", time)("state", state)("vms", vms)("bytes", bytes)("sealed", sealed)("problems", problems)(
        "basesUnderway", basesUnderway);
  }
};

struct PointListResult {
  std::vector<PointSummary> points;  // newest first
  template <class V>
  void visit(V& v) {
    v("points", points);
  }
};

struct PointCheckParams {
  std::vector<std::string> volfileServers;
  std::string volumeName, pointId;
  template <class V>
  void visit(V& v) {
    v("volfileServers", volfileServers)("volumeName", volumeName)("pointId", pointId);
  }
};
struct PointCheckResult {
  std::string id;
  bool complete = false;
  // Whether the cycle that made the point sealed it on this volume (see
  // PointSeal); an unsealed point is never complete.
  bool sealed = false;
  std::uint64_t bytesRead = 0;
  std::vector<PointProblem> problems;
  // Bases that differ from the manifest under an intact delta: the commit
  // of that delta travelling (see PointDisk). Allowed on the newest point
  // that can be complete only.
  std::vector<PointProblem> basesUnderway;
  template <class V>
  void visit(V& v) {
    v("id", id)("complete", complete)("sealed", sealed)("bytesRead", bytesRead)("problems", problems)("basesUnderway",
                                                                                                      basesUnderway);
  }
};

// The secondary's word that a point arrived whole: written there
// (.gdr/points/ID.seal, never on the primary) by the cycle once the
// geo-replication checkpoint after the snapshot completed and the copies
// were verified, before anything of the next point can reach the volume.
// Sampled checksums cannot tell a file still being rewritten in place from
// a finished one; the seal can. It names the manifest it vouches for.
inline constexpr int kSealFormat = 1;
struct PointSeal {
  int format = kSealFormat;
  std::string id;
  std::string manifestSha256;  // of the manifest's bytes on the volume
  std::int64_t time = 0;       // when it was sealed
  template <class V>
  void visit(V& v) {
    v("format", format)("id", id)("manifestSha256", manifestSha256)("time", time);
  }
};

struct PointSealResult {
  VolumePath seal;
  PointCheckResult check;            // the point as it was sealed
  std::vector<std::string> removed;  // seals whose manifest is gone (pruned)
  template <class V>
  void visit(V& v) {
    v("seal", seal)("check", check)("removed", removed);
  }
};

GDR_VERB(RecoveryPointSave, "GlusterVolume.recoveryPointSave", PointSaveParams, PointSaveResult);
GDR_VERB(RecoveryPointPrune, "GlusterVolume.recoveryPointPrune", PointPruneParams, PointPruneResult);
GDR_VERB(RecoveryPointList, "GlusterVolume.recoveryPointList", VolumeRef, PointListResult);
GDR_VERB(RecoveryPointCheck, "GlusterVolume.recoveryPointCheck", PointCheckParams, PointCheckResult);
GDR_VERB(RecoveryPointSeal, "GlusterVolume.recoveryPointSeal", PointCheckParams, PointSealResult);

}  // namespace gdr::api
