#pragma once
// Recovery points as the secondary holds them: each point's manifest
// (.gdr/points/ID.json, shipped by geo-replication with the data) and the
// files it names, read through a Volume and checked against it. A point is
// complete when the cycle that made it sealed it on this volume (once its
// sync had finished: see api::PointSeal) and every file is as its manifest
// says: the definition's bytes, each image's format, sizes and sampled
// checksums.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/recovery_point.h"
#include "gfapi/volume.h"

namespace gdr::gfapi {

// Where manifests live, relative to the volume root.
inline constexpr const char* kPointDir = ".gdr/points";
// A manifest larger than this is not one (thousands of VMs fit).
inline constexpr size_t kMaxManifestBytes = 16 << 20;
inline constexpr size_t kMaxDefinitionBytes = 1 << 20;

// Whether `id` is a point id (YYYYMMDDTHHMMSSZ-XXXXXXXX): the only names
// a manifest may have, so no id can reach outside the points directory.
bool isPointId(const std::string& id);

// The point whose manifest a file of the points directory is (ID.json).
std::optional<std::string> pointIdOfFile(const std::string& name);

// The ids of the manifests on the volume, newest first.
std::vector<std::string> pointIds(Volume& volume);

// Throws AgentError(PointManifestInvalid) when it is absent, too large, not
// JSON or not a manifest of that id.
api::PointManifest readManifest(Volume& volume, const std::string& id);

// A manifest with the SHA-256 of its bytes, which a seal names.
struct LoadedManifest {
  api::PointManifest manifest;
  std::string sha256;
};
LoadedManifest loadManifest(Volume& volume, const std::string& id);

// Where the seal of point `id` lives (.gdr/points/ID.seal).
volpath::Components sealPath(const std::string& id);

// Why the point is not sealed for this very manifest, or nothing.
std::optional<std::string> sealProblem(Volume& volume, const LoadedManifest& loaded);

// Seals point `id` on the volume once every file matches its manifest
// exactly (no base underway): the sync that ships it has finished. Throws
// AgentError(PointIncomplete) with the problems otherwise, writing nothing.
// Seals older than `id` whose manifest is gone (pruned) are removed.
api::PointSealResult sealPoint(Volume& volume, const std::string& id, std::int64_t now);

// Every file of the point against its manifest (not the seal). A base that
// differs under intact deltas counts as complete only when
// `basesMayBeUnderway`: on the newest point that can be complete, the
// difference is the commit of its oldest delta travelling (that delta
// covers every range the commit rewrites).
api::PointCheckResult checkPoint(Volume& volume, const api::PointManifest& manifest, bool basesMayBeUnderway);

// The VM ids the points newer than one name, whatever their state; none
// when a newer manifest cannot be read (it may name any VM).
using NewerPointVms = std::optional<std::set<std::string>>;

// An earlier point checked under `newest`, the newest complete point: each
// disk whose delta is in the newest point's chain (recorded the same) is
// the newest point's base read through that chain up to it, and needs no
// reading of its own. A delta-layout disk of a VM that no newer point
// names (its host did not answer those cycles) is read on its own: no
// cycle since has committed into its base, and the VM writes above its
// delta. Any other disk makes the point superseded: a later commit or
// merge may have reached its base, and sampled checksums cannot prove a
// base untouched. The definitions are read.
api::PointCheckResult checkPointUnder(Volume& volume, const api::PointManifest& manifest,
                                      const api::PointManifest& newest, const NewerPointVms& newerVms);

// Point `id` checked as listPoints would, its seal included: bases
// underway allowed unless a newer point is complete. Its files are checked
// even when it is not sealed (the operator asked about this one).
api::PointCheckResult checkPointInPlace(Volume& volume, const std::string& id);

// The state of each point, newest first, from whether each is sealed and
// checked out (the newest complete one with bases underway allowed, the
// earlier ones under it): complete; incomplete until the first complete
// one; superseded after it.
std::vector<std::string> pointStates(const std::vector<bool>& completeNewestFirst);

// Every point, newest first, each checked; the files of an unsealed point
// are not read (it cannot be complete).
api::PointListResult listPoints(Volume& volume);

}  // namespace gdr::gfapi
