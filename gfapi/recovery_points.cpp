#include "gfapi/recovery_points.h"

#include <algorithm>
#include <cerrno>
#include <regex>

#include "core/errors.h"
#include "core/json_util.h"
#include "core/sha256.h"
#include "gfapi/overlay_delete.h"
#include "gfapi/qcow2.h"
#include "gfapi/volume_path.h"

namespace gdr::gfapi {

namespace {

constexpr size_t kMaxSealBytes = 4096;

[[noreturn]] void invalid(const std::string& id, const std::string& why) {
  Json::Value data;
  data["pointId"] = id;
  throw AgentError(Code::PointManifestInvalid, "recovery point " + id + ": " + why, data);
}

volpath::Components manifestPath(const std::string& id) {
  return volpath::split(std::string(kPointDir) + "/" + id + ".json");
}

// The problem with one file, or nothing; what the file cost to read.
std::optional<std::string> checkDefinition(Volume& volume, const api::PointDefinition& d, std::uint64_t& bytes) {
  const auto entry = volume.lookup(volpath::split(d.path));
  if (!entry) return "missing";
  if (entry->type != EntryInfo::Type::Regular) return std::string("a ") + typeName(entry->type);
  if (entry->size != d.size) return std::to_string(entry->size) + " bytes, not " + std::to_string(d.size);
  if (d.size > kMaxDefinitionBytes) return "larger than a definition can be (" + std::to_string(d.size) + " bytes)";
  const std::string text = volume.readPrefix(volpath::split(d.path), d.size);
  bytes += text.size();
  if (sha256Hex(text) != d.sha256) return "its bytes differ from those saved (SHA-256)";
  return std::nullopt;
}

std::optional<std::string> checkImage(Volume& volume, const api::PointImage& d, std::uint64_t& bytes) {
  if (!volume.lookup(volpath::split(d.path))) return d.path + " is missing";
  const api::ImageInfoResult info = imageInfo(volume, d.path);
  if (info.format != d.format) return d.path + " is " + info.format + ", not " + d.format;
  if (info.virtualSize != d.virtualSize) {
    return d.path + " has a virtual size of " + std::to_string(info.virtualSize) + ", not " +
           std::to_string(d.virtualSize);
  }
  if (info.actualSize != d.actualSize) {
    return d.path + " is " + std::to_string(info.actualSize) + " bytes long, not " + std::to_string(d.actualSize);
  }
  const std::uint64_t offset = d.sample.offset.value_or(0);
  const api::ChecksumResult sums =
      fileChecksum(volume, d.path, offset, std::nullopt, Sampling{d.sample.stride, d.sample.length});
  bytes += sums.bytes;
  if (sums.sha256 == d.sample.sha256) return std::nullopt;
  size_t differing = 0, first = SIZE_MAX;
  const auto& mine = sums.rangeSums.value_or(std::vector<std::string>{});
  for (size_t i = 0; i < std::max(mine.size(), d.sample.rangeSums.size()); ++i) {
    if (i >= mine.size() || i >= d.sample.rangeSums.size() || mine[i] != d.sample.rangeSums[i]) {
      ++differing;
      first = std::min(first, i);
    }
  }
  return d.path + " differs from the point in " + std::to_string(differing) + " of " +
         std::to_string(d.sample.rangeSums.size()) + " sampled ranges" +
         (first == SIZE_MAX ? std::string()
                            : ", the first at byte " + std::to_string(offset + first * d.sample.stride));
}

// Delta `at` of a disk must name as its backing file an image under it in
// the point: the delta right under it, or, once that was committed, an
// older one or the base. The point is read through the manifest's chain,
// never through these names; a name outside the chain is a foreign file.
std::optional<std::string> checkDeltaBacking(Volume& volume, const api::PointDisk& d, size_t at) {
  const auto deltas = d.deltas();
  const std::string& path = deltas[at]->path;
  const auto header = qcow2::parseHeader(volume.readPrefix(volpath::split(path), qcow2::kHeaderReadSize));
  if (!header || !header->backingFile) return path + " names no backing file";
  auto dir = volpath::split(path);
  dir.pop_back();
  if (volpath::backingDesignates(*header->backingFile, dir, volpath::split(d.path))) return std::nullopt;
  for (size_t i = 0; i < at; ++i) {
    if (volpath::backingDesignates(*header->backingFile, dir, volpath::split(deltas[i]->path))) return std::nullopt;
  }
  return path + " is backed by '" + *header->backingFile + "', not by " + d.path + " or a delta under it";
}

// A disk of a point: its base, or its base under its deltas. A base that
// differs from the manifest under intact deltas is reported apart
// (`underway`): it is the oldest delta's commit travelling, and the caller
// decides whether that may be so.
void checkDiskImages(Volume& volume, const std::string& vm, const api::PointDisk& d, api::PointCheckResult& out) {
  const auto deltas = d.deltas();
  for (size_t i = 0; i < deltas.size(); ++i) {
    if (!volume.lookup(volpath::split(deltas[i]->path)))
      return out.problems.push_back({vm, d.drive, deltas[i]->path + " is missing"});
    if (auto why = checkDeltaBacking(volume, d, i)) return out.problems.push_back({vm, d.drive, *why});
    if (auto why = checkImage(volume, *deltas[i], out.bytesRead)) return out.problems.push_back({vm, d.drive, *why});
  }
  auto why = checkImage(volume, d, out.bytesRead);
  if (!why) return;
  // The base's header must still be the base's: only its contents move.
  const bool headerIntact = volume.lookup(volpath::split(d.path)).has_value() && [&] {
    const api::ImageInfoResult info = imageInfo(volume, d.path);
    return info.format == d.format && info.virtualSize == d.virtualSize;
  }();
  if (!deltas.empty() && headerIntact) return out.basesUnderway.push_back({vm, d.drive, *why});
  out.problems.push_back({vm, d.drive, *why});
}

// A piece the volume cannot serve is a broken disk of the point, named: a
// shard gone from a read-only secondary reads as EROFS (the shard
// translator would make it anew). What says the connection failed goes on
// up, for the volume pool to retry on a fresh one, and so do ENOENT and
// ESTALE: a shard geo-replication replaced under this client.
void checkDisk(Volume& volume, const std::string& vm, const api::PointDisk& d, api::PointCheckResult& out) {
  try {
    checkDiskImages(volume, vm, d, out);
  } catch (const AgentError& e) {
    const int err = e.data().isObject() && e.data()["errno"].isInt() ? e.data()["errno"].asInt() : 0;
    if (e.code() != Code::GfapiIOError || err == 0 || err == ENOENT || err == ESTALE || connectionErrno(err)) throw;
    out.problems.push_back({vm, d.drive, e.what()});
  }
}

bool sameImage(const api::PointImage& a, const api::PointImage& b) {
  return a.path == b.path && a.format == b.format && a.virtualSize == b.virtualSize && a.actualSize == b.actualSize &&
         a.sample.stride == b.sample.stride && a.sample.length == b.sample.length &&
         a.sample.offset == b.sample.offset && a.sample.sha256 == b.sample.sha256;
}

// Whether disk `older` of an earlier point is the base of `newer` (a disk
// of the newest complete point) read through the first deltas of its
// chain: the earlier point's own delta is among them, and every delta of
// the newer chain up to it ends the earlier chain, recorded the same.
// Those deltas and that base were checked with the newer point, so the
// earlier one needs no reading of its own.
bool coveredBy(const api::PointDisk& older, const api::PointDisk& newer) {
  if (!older.delta || older.path != newer.path || older.drive != newer.drive) return false;
  const auto mine = older.deltas(), theirs = newer.deltas();
  size_t k = 0;
  while (k < theirs.size() && theirs[k]->path != older.delta->path) ++k;
  if (k == theirs.size() || k + 1 > mine.size()) return false;
  const size_t shift = mine.size() - (k + 1);
  for (size_t i = 0; i <= k; ++i) {
    if (!sameImage(*mine[shift + i], *theirs[i])) return false;
  }
  return true;
}

}  // namespace

bool isPointId(const std::string& id) {
  static const std::regex pattern("^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$");
  return id.size() == 25 && std::regex_match(id, pattern);
}

std::optional<std::string> pointIdOfFile(const std::string& name) {
  constexpr std::string_view kSuffix = ".json";
  if (name.size() <= kSuffix.size() || name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return std::nullopt;
  }
  std::string id = name.substr(0, name.size() - kSuffix.size());
  return isPointId(id) ? std::optional<std::string>(std::move(id)) : std::nullopt;
}

std::vector<std::string> pointIds(Volume& volume) {
  std::vector<std::string> ids;
  const auto dir = volpath::split(kPointDir);
  const auto entry = volume.lookup(dir);
  if (!entry || entry->type != EntryInfo::Type::Directory) return ids;
  for (const auto& [name, info] : volume.list(dir)) {
    if (info.type != EntryInfo::Type::Regular) continue;
    if (auto id = pointIdOfFile(name)) ids.push_back(*id);
  }
  std::sort(ids.rbegin(), ids.rend());
  return ids;
}

LoadedManifest loadManifest(Volume& volume, const std::string& id) {
  if (!isPointId(id)) invalid(id, "not a recovery point id (YYYYMMDDTHHMMSSZ-XXXXXXXX)");
  const auto entry = volume.lookup(manifestPath(id));
  if (!entry) invalid(id, "no manifest at " + std::string(kPointDir) + "/" + id + ".json");
  if (entry->type != EntryInfo::Type::Regular) invalid(id, "its manifest is not a regular file");
  if (entry->size > kMaxManifestBytes)
    invalid(id, "its manifest is larger than " + std::to_string(kMaxManifestBytes) + " bytes");
  const std::string text = volume.readPrefix(manifestPath(id), entry->size);
  std::string error;
  const auto json = json::parse(text, &error);
  if (!json) invalid(id, "its manifest is not JSON (" + error + ")");
  LoadedManifest out;
  try {
    out.manifest = api::decode<api::PointManifest>(*json);
  } catch (const std::exception& e) {
    invalid(id, std::string("its manifest is not a manifest: ") + e.what());
  }
  if (out.manifest.format != api::kPointFormat)
    invalid(id, "manifest format " + std::to_string(out.manifest.format) + " is unknown");
  if (out.manifest.id != id) invalid(id, "its manifest names point " + out.manifest.id);
  out.sha256 = sha256Hex(text);
  return out;
}

api::PointManifest readManifest(Volume& volume, const std::string& id) { return loadManifest(volume, id).manifest; }

volpath::Components sealPath(const std::string& id) {
  return volpath::split(std::string(kPointDir) + "/" + id + ".seal");
}

std::optional<std::string> sealProblem(Volume& volume, const LoadedManifest& loaded) {
  const std::string& id = loaded.manifest.id;
  const auto entry = volume.lookup(sealPath(id));
  if (!entry) return "not sealed: the sync that ships it has not finished (or its cycle failed)";
  if (entry->type != EntryInfo::Type::Regular) return "its seal is not a regular file";
  if (entry->size > kMaxSealBytes) return "its seal is larger than a seal can be";
  const auto json = json::parse(volume.readPrefix(sealPath(id), entry->size));
  api::PointSeal seal;
  try {
    if (!json) throw std::runtime_error("not JSON");
    seal = api::decode<api::PointSeal>(*json);
  } catch (const std::exception& e) {
    return std::string("its seal is unreadable: ") + e.what();
  }
  if (seal.format != api::kSealFormat) return "its seal's format " + std::to_string(seal.format) + " is unknown";
  if (seal.id != id) return "its seal names point " + seal.id;
  if (seal.manifestSha256 != loaded.sha256) return "its seal vouches for another manifest (SHA-256 differs)";
  return std::nullopt;
}

api::PointCheckResult checkPoint(Volume& volume, const api::PointManifest& manifest, bool basesMayBeUnderway) {
  api::PointCheckResult out;
  out.id = manifest.id;
  for (const auto& vm : manifest.vms) {
    if (auto why = checkDefinition(volume, vm.definition, out.bytesRead)) {
      out.problems.push_back({vm.name, "definition", vm.definition.path + ": " + *why});
    }
    for (const auto& disk : vm.disks) checkDisk(volume, vm.name, disk, out);
  }
  if (manifest.vms.empty()) out.problems.push_back({"", "manifest", "names no VM"});
  if (!basesMayBeUnderway) {
    for (auto& p : out.basesUnderway) {
      p.why += " (a later point's commit has reached it)";
      out.problems.push_back(std::move(p));
    }
    out.basesUnderway.clear();
  }
  out.complete = out.problems.empty();
  return out;
}

api::PointCheckResult checkPointUnder(Volume& volume, const api::PointManifest& manifest,
                                      const api::PointManifest& newest, const NewerPointVms& newerVms) {
  api::PointCheckResult out;
  out.id = manifest.id;
  for (const auto& vm : manifest.vms) {
    if (auto why = checkDefinition(volume, vm.definition, out.bytesRead)) {
      out.problems.push_back({vm.name, "definition", vm.definition.path + ": " + *why});
    }
    const auto later =
        std::find_if(newest.vms.begin(), newest.vms.end(), [&](const api::PointVm& v) { return v.vmId == vm.vmId; });
    for (const auto& disk : vm.disks) {
      if (later != newest.vms.end() &&
          std::any_of(later->disks.begin(), later->disks.end(), [&](const auto& d) { return coveredBy(disk, d); })) {
        continue;
      }
      // No newer point names the VM: no later cycle has committed into its
      // base, and in the delta layout its guest writes above the point.
      // Only its own cycle's commit (after the seal) may have reached the
      // base: the oldest delta's, whose clusters that delta still holds (a
      // partial cycle prunes nothing). So it is read on its own like a
      // newest point: its deltas exactly, its base possibly underway under
      // them; a base alone (the VM's first point) must match exactly.
      if ((disk.delta || manifest.layout == "delta") && newerVms && !newerVms->count(vm.vmId)) {
        api::PointCheckResult own;
        checkDisk(volume, vm.name, disk, own);
        out.bytesRead += own.bytesRead;
        for (auto& p : own.basesUnderway) out.basesUnderway.push_back(std::move(p));
        for (auto& p : own.problems) out.problems.push_back(std::move(p));
        continue;
      }
      // Not read through the newer point's chain: a later point's commit
      // (or, in the flat layout, merge) may have reached its base, and
      // sampled checksums cannot tell a base rewritten outside the ranges
      // they read from one that was not. Superseded, unread.
      out.problems.push_back({vm.name, disk.drive,
                              disk.delta ? "its delta " + disk.delta->path +
                                               " is not in the chain of the newest complete point " + newest.id +
                                               ": a later point's commit has reached its base"
                                         : "its base " + disk.path + " read alone, under the newest complete point " +
                                               newest.id + ": a later point's commit or merge may have reached it"});
    }
  }
  if (manifest.vms.empty()) out.problems.push_back({"", "manifest", "names no VM"});
  out.complete = out.problems.empty();
  return out;
}

namespace {

// The seal's verdict added to a check of the files.
void addSeal(Volume& volume, const LoadedManifest& loaded, api::PointCheckResult& out) {
  const auto why = sealProblem(volume, loaded);
  out.sealed = !why;
  if (why) out.problems.insert(out.problems.begin(), {"", "seal", *why});
  out.complete = out.problems.empty();
}

void addVmIds(const api::PointManifest& manifest, std::set<std::string>& ids) {
  for (const auto& vm : manifest.vms) ids.insert(vm.vmId);
}

// The VMs newer points name, as far as `point`'s check may rely on it. A
// newer manifest that cannot be read (a cycle cut off while its manifest
// was being copied) may name any VM. In the delta layout that does not
// matter: a base changes only by a commit after a seal, and the cycle
// that committed sealed a manifest, readable, naming the VM. In the flat
// layout a cycle merges back whether or not its point was sealed, so an
// unreadable newer point leaves every VM's base in doubt.
NewerPointVms namedLater(const api::PointManifest& point, const std::set<std::string>& named, bool unreadableNewer) {
  if (unreadableNewer && point.layout != "delta") return std::nullopt;
  return named;
}

// Whether `loaded` is sealed and its files check out (bases underway allowed).
bool completeAsNewest(Volume& volume, const LoadedManifest& loaded) {
  if (sealProblem(volume, loaded)) return false;
  return checkPoint(volume, loaded.manifest, true).complete;
}

}  // namespace

api::PointCheckResult checkPointInPlace(Volume& volume, const std::string& id) {
  const LoadedManifest target = loadManifest(volume, id);  // refuses a bad id first
  std::optional<api::PointManifest> newerComplete;
  std::set<std::string> newerVms;
  bool unreadableNewer = false;
  for (const auto& newer : pointIds(volume)) {
    if (newer <= id) break;
    try {
      LoadedManifest loaded = loadManifest(volume, newer);
      addVmIds(loaded.manifest, newerVms);
      if (!newerComplete && completeAsNewest(volume, loaded)) newerComplete = std::move(loaded.manifest);
    } catch (const AgentError&) {
      unreadableNewer = true;  // not complete, and it may name any VM
    }
  }
  api::PointCheckResult out =
      newerComplete
          ? checkPointUnder(volume, target.manifest, *newerComplete, namedLater(target.manifest, newerVms, unreadableNewer))
          : checkPoint(volume, target.manifest, true);
  addSeal(volume, target, out);
  return out;
}

api::PointSealResult sealPoint(Volume& volume, const std::string& id, std::int64_t now) {
  const LoadedManifest loaded = loadManifest(volume, id);
  api::PointSealResult out;
  out.check = checkPoint(volume, loaded.manifest, false);
  if (!out.check.complete) {
    Json::Value data = api::encode(out.check);
    data["pointId"] = id;
    const api::PointProblem& first = out.check.problems.front();
    throw AgentError(Code::PointIncomplete,
                     "recovery point " + id + " is not sealed: " + std::to_string(out.check.problems.size()) +
                         " problem(s), the first: " + (first.vm.empty() ? "" : first.vm + " ") + first.what + ": " +
                         first.why,
                     data);
  }
  api::PointSeal seal;
  seal.id = id;
  seal.manifestSha256 = loaded.sha256;
  seal.time = now;
  volume.writeFile(sealPath(id), json::pretty(api::encode(seal)));
  out.check.sealed = true;
  out.seal = {"", volpath::join(sealPath(id))};
  // Seals outlive their manifests (geo-replication removes a pruned
  // manifest here; the seal is this volume's own): the older ones go.
  const auto dir = volpath::split(kPointDir);
  for (const auto& [name, info] : volume.list(dir)) {
    constexpr std::string_view kSuffix = ".seal";
    if (info.type != EntryInfo::Type::Regular || name.size() <= kSuffix.size() ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    const std::string other = name.substr(0, name.size() - kSuffix.size());
    if (!isPointId(other) || other >= id || volume.lookup(manifestPath(other))) continue;
    volume.unlink(sealPath(other));
    out.removed.push_back(other);
  }
  return out;
}

std::vector<std::string> pointStates(const std::vector<bool>& completeNewestFirst) {
  std::vector<std::string> states;
  bool completeSeen = false;
  for (bool complete : completeNewestFirst) {
    states.push_back(complete ? "complete" : completeSeen ? "superseded" : "incomplete");
    completeSeen = completeSeen || complete;
  }
  return states;
}

api::PointListResult listPoints(Volume& volume) {
  api::PointListResult out;
  std::vector<bool> complete;
  std::optional<api::PointManifest> newestComplete;
  std::set<std::string> newerVms;
  bool unreadableNewer = false;
  for (const auto& id : pointIds(volume)) {
    api::PointSummary s;
    s.id = id;
    try {
      const LoadedManifest loaded = loadManifest(volume, id);
      const api::PointManifest& manifest = loaded.manifest;
      s.time = manifest.time;
      for (const auto& vm : manifest.vms) {
        s.vms.push_back(vm.name);
        for (const auto& d : vm.disks) {
          s.bytes += d.actualSize;
          for (const auto* delta : d.deltas()) s.bytes += delta->actualSize;
        }
      }
      if (auto why = sealProblem(volume, loaded)) {
        s.problems.push_back({"", "seal", *why});  // its files are not read: it cannot be complete
      } else {
        s.sealed = true;
        const api::PointCheckResult checked =
            newestComplete
                ? checkPointUnder(volume, manifest, *newestComplete, namedLater(manifest, newerVms, unreadableNewer))
                : checkPoint(volume, manifest, true);
        s.problems = checked.problems;
        s.basesUnderway = checked.basesUnderway;
        if (checked.complete && !newestComplete) newestComplete = manifest;
      }
      addVmIds(manifest, newerVms);
    } catch (const AgentError& e) {
      if (e.code() != Code::PointManifestInvalid && e.code() != Code::FileNotFound &&
          e.code() != Code::NotRegularFile) {
        throw;
      }
      s.problems.push_back({"", "manifest", e.what()});
      unreadableNewer = true;  // it may name any VM
    }
    complete.push_back(s.problems.empty());
    out.points.push_back(std::move(s));
  }
  const auto states = pointStates(complete);
  for (size_t i = 0; i < out.points.size(); ++i) out.points[i].state = states[i];
  return out;
}

}  // namespace gdr::gfapi
