#pragma once
// The narrow view of a gluster volume that overlay deletion and the image
// verbs need. GlfsVolume (glfs_volume.h) implements it on libgfapi; unit
// tests use a fake. Paths are component lists from the volume root; no
// operation ever follows a symlink.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gfapi/volume_path.h"

namespace gdr::gfapi {

struct EntryInfo {
  enum class Type { Regular, Directory, Symlink, Other } type = Type::Other;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;  // seconds since the epoch
  std::uint32_t mode = 0;  // permission bits
  std::string gfid;        // gluster's file id, when known
  // Changes whenever the file's content may have (inode, size, mtime and
  // ctime); empty when unknown. Lets callers cache what they read.
  std::string version;
};

const char* typeName(EntryInfo::Type type);

// Whether an operation that failed with this errno failed for the
// connection (the volume pool retries it on a fresh one), not for the file.
bool connectionErrno(int err);

// How a file is split into shards: gluster's block size (0 when the file
// is not sharded) and the gluster id of each piece that exists, by index:
// 0 is the file itself (its first block), n > 0 the shard .shard/GFID.n.
// A missing index is a hole.
struct PieceInfo {
  std::string gfid;
  std::uint64_t mtimeNs = 0;  // gluster's modification time of the piece
};
struct ShardLayout {
  std::string gfid;
  std::uint64_t size = 0;  // the logical size
  std::uint64_t blockSize = 0;
  std::map<std::uint64_t, PieceInfo> pieces;
};

// The most one read asks of gluster: four 4 MiB pieces, which the shard
// translator reads in parallel (one 1 MiB request after another waited
// for each piece in turn).
constexpr std::uint64_t kLargestRead = 16 << 20;

class Volume {
 public:
  virtual ~Volume() = default;

  // Walks `path` one component at a time without following symlinks.
  // nullopt when any component is absent. Throws AgentError(NotRegularFile)
  // naming the component when a parent is not a directory, and
  // AgentError(GfapiIOError) for other failures.
  virtual std::optional<EntryInfo> lookup(const volpath::Components& path) = 0;

  // Up to `length` bytes from the start of the regular file at `path`.
  virtual std::string readPrefix(const volpath::Components& path, size_t length) = 0;

  // Feeds `length` bytes from `offset` (fewer at the end of the file) to
  // `sink` in chunks of at most kLargestRead; returns how many were read.
  virtual std::uint64_t readRange(const volpath::Components& path, std::uint64_t offset, std::uint64_t length,
                                  const std::function<void(const char*, size_t)>& sink) = 0;

  // The entries of a directory (not "." and "..").
  virtual std::vector<std::pair<std::string, EntryInfo>> list(const volpath::Components& dir) = 0;

  // Removes the file at `path`, as gluster's own internal clients do, so
  // it works on a geo-replication secondary (features.read-only on).
  // Returns whether its data was split into shards (which gluster then
  // reclaims in the background).
  virtual bool unlink(const volpath::Components& path) = 0;

  // The volume's UUID as gluster names it ("8f3c...-..."), empty when
  // unknown. Two volumes of one name at two sites differ in it.
  virtual std::string volumeId() { return {}; }

  // Puts `content` at `path` whole or not at all (a temporary file beside
  // it, synced, renamed over it), as an internal client like unlink, so it
  // works on a read-only secondary too. The directory must exist.
  virtual void writeFile(const volpath::Components& path, const std::string& content) = 0;

  // Sets the modification time of `path` (the root when empty) to now.
  virtual void touch(const volpath::Components& path) = 0;

  // Marks the file at `path`, and on a sharded volume each of its shards,
  // for geo-replication to send again (gluster's
  // glusterfs.geo-rep.trigger-sync). With `offsets`, only the pieces
  // holding those bytes (the shards, or the file itself for its first
  // block). Returns how many objects were marked.
  virtual size_t markForGeoRepResync(const volpath::Components& path,
                                     const std::vector<std::uint64_t>& offsets = {}) = 0;

  // The file's shard layout. Each shard is looked up by name, so the answer
  // is what the bricks hold now.
  virtual ShardLayout shardLayout(const volpath::Components& path) = 0;

  // While a Scope lives, the calling thread's walks may reuse what earlier
  // walks of the same scope resolved: one request's checks and its unlink
  // then act on the very objects that were checked, in fewer round trips.
  // A path that is unlinked is forgotten. Scopes nest; a scope is one
  // request, never longer.
  class Scope {
   public:
    explicit Scope(Volume& volume) : volume_(volume) { volume_.enterScope(); }
    ~Scope() { volume_.leaveScope(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Volume& volume_;
  };

 protected:
  virtual void enterScope() {}
  virtual void leaveScope() {}
};

}  // namespace gdr::gfapi
