#include "gfapi/overlay_delete.h"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <memory>

#include "core/errors.h"
#include "core/sha256.h"

namespace gdr::gfapi {

using volpath::Components;

const char* typeName(EntryInfo::Type type) {
  switch (type) {
    case EntryInfo::Type::Regular: return "file";
    case EntryInfo::Type::Directory: return "directory";
    case EntryInfo::Type::Symlink: return "symlink";
    case EntryInfo::Type::Other: return "other";
  }
  return "other";
}

bool connectionErrno(int err) {
  switch (err) {
    case ENOTCONN:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ECONNRESET:
    case EIO:
    case ESHUTDOWN:
    case EPIPE:
    case EBADF:
      return true;
    default:
      return false;
  }
}

namespace {

[[noreturn]] void refuse(Code code, const std::string& path, const std::string& why, Json::Value data = {}) {
  data["path"] = path;
  throw AgentError(code, "refusing to delete '" + path + "': " + why + "; nothing was deleted", data);
}

// The header, reading 4 KiB first (enough for nearly every image) and the
// whole first-cluster window only when the backing name lies further in.
std::optional<qcow2::Header> readHeader(Volume& volume, const Components& path) {
  const std::string head = volume.readPrefix(path, 4096);
  try {
    return qcow2::parseHeader(head);
  } catch (const AgentError& e) {
    if (e.code() != Code::ImageCorrupt || head.size() < 4096) throw;
    return qcow2::parseHeader(volume.readPrefix(path, qcow2::kHeaderReadSize));
  }
}

}  // namespace

std::optional<std::optional<qcow2::Header>> HeaderCache::find(const std::string& key,
                                                              const std::string& version) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.first != version) return std::nullopt;
  return it->second.second;
}

void HeaderCache::store(const std::string& key, const std::string& version,
                        const std::optional<qcow2::Header>& header) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_[key] = {version, header};
}

size_t HeaderCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

namespace {

struct Checked {
  std::string path;
  Components components;
  std::optional<EntryInfo> entry;  // nullopt: absent
};

Checked checkOne(Volume& volume, const std::string& path, const OverlayDeleteRequest& request,
                 const std::optional<Components>& expected) {
  Checked checked{path, volpath::split(path), std::nullopt};
  const Components& parts = checked.components;
  if (!volpath::insideAllowedPrefix(parts, request.allowedPrefixes)) {
    refuse(Code::PathOutsidePrefix, path,
           request.allowedPrefixes.empty()
               ? std::string("overlays must lie directly in a '") + volpath::kSnapshotDirName + "' directory"
               : "outside the allowed prefixes");
  }
  const auto open = request.openByVms.find(volpath::join(parts));
  if (open != request.openByVms.end()) {
    Json::Value data;
    data["vm"] = open->second;
    refuse(Code::ImageOpenByVM, path, "the running VM " + open->second + " has it in its disk chain", data);
  }
  checked.entry = volume.lookup(parts);
  if (!checked.entry) return checked;  // absent: nothing to guard
  if (checked.entry->type != EntryInfo::Type::Regular) {
    refuse(Code::NotRegularFile, path, std::string("it is a ") + typeName(checked.entry->type));
  }
  const auto header = readHeader(volume, parts);
  if (!header) refuse(Code::NotQcow2, path, "not a qcow2 image");
  if (!header->backingFile) refuse(Code::ImageIsBase, path, "it has no backing file: a base image is never deleted");
  const Components dir(parts.begin(), parts.end() - 1);
  if (expected && !volpath::backingDesignates(*header->backingFile, dir, *expected)) {
    Json::Value data;
    data["backingFile"] = *header->backingFile;
    data["expectedBacking"] = *request.expectedBacking;
    refuse(Code::BackingMismatch, path,
           "its backing file is '" + *header->backingFile + "', not '" + *request.expectedBacking + "'", data);
  }
  // A sibling image built on top of this one would lose its data.
  for (const auto& [name, info] : volume.list(dir)) {
    if (name == parts.back() || info.type != EntryInfo::Type::Regular) continue;
    Components sibling = dir;
    sibling.push_back(name);
    std::optional<qcow2::Header> siblingHeader;
    const std::string cacheKey = request.cacheScope + "/" + volpath::join(sibling);
    std::optional<std::optional<qcow2::Header>> cached;
    if (request.cache && !info.version.empty()) cached = request.cache->find(cacheKey, info.version);
    if (cached) {
      siblingHeader = *cached;
    } else {
      try {
        siblingHeader = readHeader(volume, sibling);
      } catch (const AgentError& e) {
        // Not an image anything could be backed by, or gone meanwhile.
        if (e.code() != Code::ImageCorrupt && e.code() != Code::FileNotFound) throw;
        continue;
      }
      if (request.cache && !info.version.empty()) request.cache->store(cacheKey, info.version, siblingHeader);
    }
    if (siblingHeader && siblingHeader->backingFile &&
        volpath::backingDesignates(*siblingHeader->backingFile, dir, parts)) {
      Json::Value data;
      data["usedBy"] = volpath::join(sibling);
      refuse(Code::ImageInUse, path, "'" + volpath::join(sibling) + "' uses it as its backing file", data);
    }
  }
  return checked;
}

}  // namespace

api::OverlayDeleteResult deleteOverlays(Volume& volume, const OverlayDeleteRequest& request) {
  // The guards and the unlinks act on the objects resolved once.
  Volume::Scope scope(volume);
  std::optional<Components> expected;
  if (request.expectedBacking) expected = volpath::split(*request.expectedBacking);
  // Every guard for every path first: one refusal and nothing is deleted.
  std::vector<Checked> checked;
  for (const auto& path : request.paths) {
    try {
      checked.push_back(checkOne(volume, path, request, expected));
    } catch (const AgentError& e) {
      const std::string message = e.what();
      if (message.find("nothing was deleted") != std::string::npos) throw;
      Json::Value data = e.data().isObject() ? e.data() : Json::Value(Json::objectValue);
      data["path"] = path;
      throw AgentError(e.code(), message + "; nothing was deleted", data);
    }
  }

  api::OverlayDeleteResult out;
  for (const auto& c : checked) {
    api::OverlayDeleteEntry r;
    r.path = c.path;
    r.bytes = c.entry ? c.entry->size : 0;
    if (!c.entry) {
      r.reason = "absent";
    } else if (request.dryRun) {
      r.reason = "dry run: all guards passed";
    } else {
      r.sharded = volume.unlink(c.components);
      out.sharded = out.sharded || *r.sharded;
      r.deleted = true;
      r.reason = "deleted";
    }
    out.results.push_back(r);
  }
  out.dryRun = request.dryRun;
  if (out.sharded) out.note = "the volume is sharded: gluster reclaims the shards' space in the background";
  return out;
}

api::FileStatResult fileStat(Volume& volume, const std::string& path) {
  const auto entry = volume.lookup(volpath::split(path));
  if (!entry) {
    Json::Value data;
    data["path"] = path;
    throw AgentError(Code::FileNotFound, "no such file: " + path, data);
  }
  api::FileStatResult out;
  out.path = path;
  out.type = typeName(entry->type);
  out.size = entry->size;
  out.mtime = entry->mtime;
  out.mode = entry->mode;
  out.gfid = entry->gfid;
  return out;
}

namespace {

// The entry at `path`; throws FileNotFound when absent and NotRegularFile
// ("... is a directory, not `what`") when it is not a regular file.
EntryInfo regularFile(Volume& volume, const Components& parts, const std::string& path, const char* what) {
  const auto entry = volume.lookup(parts);
  if (!entry) {
    Json::Value data;
    data["path"] = path;
    throw AgentError(Code::FileNotFound, "no such file: " + path, data);
  }
  if (entry->type != EntryInfo::Type::Regular) {
    throw AgentError(Code::NotRegularFile, "'" + path + "' is a " + typeName(entry->type) + ", not " + what);
  }
  return *entry;
}

// Reads `n` bytes from `at`, which lie inside the file: a read that ends
// before them is an I/O error, not data. (Seen on a replicated primary
// right after one of its bricks came back: reads of a delta ended early,
// so its checksums covered a third of it and differed from the
// secondary's at every check.)
std::uint64_t readWithin(Volume& volume, const Components& parts, const std::string& path, std::uint64_t at,
                         std::uint64_t n, const std::function<void(const char*, size_t)>& sink) {
  const std::uint64_t got = volume.readRange(parts, at, n, sink);
  if (got < n) {
    Json::Value data;
    data["path"] = path;
    data["offset"] = Json::UInt64(at + got);
    data["errno"] = EIO;
    throw AgentError(Code::GfapiIOError,
                     "cannot read '" + path + "' at byte " + std::to_string(at + got) + ": the read ended " +
                         std::to_string(n - got) + " bytes short of the file's size",
                     data);
  }
  return got;
}

}  // namespace

std::vector<std::pair<std::uint64_t, std::uint64_t>> sampleRanges(std::uint64_t fileSize, const Sampling& sampling) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  const std::uint64_t length = std::min(sampling.length, sampling.stride);
  // 4 KiB-aligned positions inside a stride where a whole range fits.
  const std::uint64_t positions = (sampling.stride - length) / 4096 + 1;
  for (std::uint64_t i = 0, start = 0; start < fileSize; ++i, start += sampling.stride) {
    // A multiplicative hash spreads the positions over the stride.
    const std::uint64_t at = start + (i * 2654435761u) % positions * 4096;
    if (at >= fileSize) {
      ranges.emplace_back(start, std::min(length, fileSize - start));  // a short last stride
    } else {
      ranges.emplace_back(at, std::min(length, fileSize - at));
    }
  }
  return ranges;
}

api::ChecksumResult fileChecksum(Volume& volume, const std::string& path, std::uint64_t offset,
                         std::optional<std::uint64_t> length, std::optional<Sampling> sampling) {
  const Components parts = volpath::split(path);
  Volume::Scope scope(volume);  // every range from the one file resolved once
  const EntryInfo entry = regularFile(volume, parts, path, "a file");
  Sha256 whole;
  auto digest = [&](const char* data, size_t n) { whole.update(data, n); };
  std::uint64_t bytes = 0;
  api::ChecksumResult out;
  out.path = path;
  if (sampling) {
    // Also a short digest of each range, so a difference can be located
    // (and only that piece sent again).
    // From `offset` on: the ranges of the file's tail, as of a file of its own.
    const std::uint64_t from = std::min(offset, entry.size);
    const std::uint64_t count = (entry.size - from + sampling->stride - 1) / sampling->stride;
    if (count > sampling->maxRanges) {
      Json::Value data;
      data["ranges"] = Json::UInt64(count);
      data["maxRanges"] = Json::UInt64(sampling->maxRanges);
      throw AgentError(Code::InvalidParameter,
                       "sampleStride " + std::to_string(sampling->stride) + " makes " + std::to_string(count) +
                           " ranges of " + path + "; at most " + std::to_string(sampling->maxRanges) +
                           ": use a larger stride",
                       data);
    }
    const auto ranges = sampleRanges(entry.size - from, *sampling);
    out.rangeSums.emplace();
    // Ranges that follow one another (strides read whole: "full", and
    // every delta) are read in runs of up to kLargestRead bytes, one
    // request each.
    for (size_t first = 0; first < ranges.size();) {
      size_t end = first + 1;
      std::uint64_t run = ranges[first].second;
      while (end < ranges.size() && ranges[end].first == ranges[end - 1].first + ranges[end - 1].second &&
             run + ranges[end].second <= kLargestRead) {
        run += ranges[end++].second;
      }
      size_t current = first;
      std::uint64_t left = ranges[current].second;
      Sha256 range;
      bytes += readWithin(volume, parts, path, from + ranges[first].first, run, [&](const char* data, size_t length) {
        digest(data, length);
        while (length > 0 && current < end) {
          const size_t take = static_cast<size_t>(std::min<std::uint64_t>(length, left));
          range.update(data, take);
          data += take;
          length -= take;
          left -= take;
          if (left == 0) {
            out.rangeSums->push_back(range.hex().substr(0, 16));
            range = Sha256();
            if (++current < end) left = ranges[current].second;
          }
        }
      });
      first = end;
    }
    out.ranges = ranges.size();
    if (from) out.offset = from;
    out.sampleStride = sampling->stride;
    out.sampleLength = sampling->length;
  } else {
    const std::uint64_t inside = offset < entry.size ? entry.size - offset : 0;
    bytes = readWithin(volume, parts, path, offset, std::min(length.value_or(inside), inside), digest);
    out.offset = offset;
  }
  out.bytes = bytes;
  out.sha256 = whole.hex();
  return out;
}

api::ResyncResult markForGeoRepResync(Volume& volume, const std::string& path, const std::vector<std::uint64_t>& offsets) {
  const Components parts = volpath::split(path);
  Volume::Scope scope(volume);  // the check and the marking walk the path once
  const EntryInfo entry = regularFile(volume, parts, path, "a file");
  api::ResyncResult out;
  out.path = path;
  out.marked = volume.markForGeoRepResync(parts, offsets);
  return out;
}

api::ShardLayoutResult shardLayout(Volume& volume, const std::string& path) {
  const Components parts = volpath::split(path);
  Volume::Scope scope(volume);  // the check and the layout walk the path once
  regularFile(volume, parts, path, "a file");
  const ShardLayout layout = volume.shardLayout(parts);
  api::ShardLayoutResult out;
  out.path = path;
  out.gfid = layout.gfid;
  out.size = layout.size;
  out.shardBlockSize = layout.blockSize;
  for (const auto& [index, piece] : layout.pieces) {
    out.pieces.push_back({index, index * layout.blockSize, piece.gfid, piece.mtimeNs});
  }
  return out;
}

api::ImageInfoResult imageInfo(Volume& volume, const std::string& path) {
  const Components parts = volpath::split(path);
  const EntryInfo entry = regularFile(volume, parts, path, "an image");
  const auto header = readHeader(volume, parts);
  api::ImageInfoResult out;
  out.path = path;
  out.actualSize = entry.size;
  if (!header) {
    out.format = "raw";
    out.virtualSize = entry.size;
    return out;
  }
  out.format = "qcow2";
  out.qcow2Version = header->version;
  out.virtualSize = header->virtualSize;
  out.clusterSize = std::uint64_t(1) << header->clusterBits;
  out.backingFile = header->backingFile;
  return out;
}

api::EmptyCheckResult emptyCheck(Volume& volume) {
  constexpr size_t kShown = 10;
  api::EmptyCheckResult out;
  for (const auto& [name, entry] : volume.list({})) {
    if (name == ".trashcan" || name == ".shard") continue;
    if (out.entries.size() < kShown) out.entries.push_back(name);
  }
  out.volumeEmptyCheck = out.entries.empty();
  return out;
}

}  // namespace gdr::gfapi
