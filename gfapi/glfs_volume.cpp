#include "gfapi/glfs_volume.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <glusterfs/api/glfs-handles.h>
#include <glusterfs/api/glfs.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "core/errors.h"

namespace gdr::gfapi {

namespace {

struct ObjectClose {
  // A shared_ptr calls its deleter even on a null pointer.
  void operator()(glfs_object_t* object) const {
    if (object) glfs_h_close(object);
  }
};
struct FdClose {
  void operator()(glfs_fd_t* fd) const { glfs_close(fd); }
};
struct DirClose {
  void operator()(glfs_fd_t* fd) const { glfs_closedir(fd); }
};
using ObjectPtr = std::unique_ptr<glfs_object_t, ObjectClose>;
using SharedObject = std::shared_ptr<glfs_object_t>;  // a walk's result, possibly kept by a scope
using FdPtr = std::unique_ptr<glfs_fd_t, FdClose>;
using DirPtr = std::unique_ptr<glfs_fd_t, DirClose>;

[[noreturn]] void ioError(const std::string& what, const std::string& path, int err) {
  Json::Value data;
  data["path"] = path;
  data["errno"] = err;
  // Absent (perhaps removed meanwhile) is not a fault of the connection.
  const Code code = err == ENOENT || err == ESTALE ? Code::FileNotFound : Code::GfapiIOError;
  throw AgentError(code, what + " '" + path + "': " + std::strerror(err), data);
}

// A read of a file that is open failed. ENOENT/ESTALE here means a shard
// this client remembers was replaced (geo-replication resends a shard as a
// new file): an I/O error, so the pool retries on a fresh connection.
[[noreturn]] void readError(const std::string& path, std::uint64_t offset, int err) {
  Json::Value data;
  data["path"] = path;
  data["offset"] = Json::UInt64(offset);
  data["errno"] = err;
  throw AgentError(Code::GfapiIOError,
                   "cannot read '" + path + "' at byte " + std::to_string(offset) + ": " + std::strerror(err), data);
}

EntryInfo toEntry(const struct stat& st) {
  EntryInfo e;
  if (S_ISREG(st.st_mode)) {
    e.type = EntryInfo::Type::Regular;
  } else if (S_ISDIR(st.st_mode)) {
    e.type = EntryInfo::Type::Directory;
  } else if (S_ISLNK(st.st_mode)) {
    e.type = EntryInfo::Type::Symlink;
  }
  e.size = static_cast<std::uint64_t>(st.st_size);
  e.mtime = st.st_mtime;
  e.mode = st.st_mode & 07777;
  e.version = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
              "." + std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ctim.tv_sec) + "." +
              std::to_string(st.st_ctim.tv_nsec);
  return e;
}

// glfs_setfspid is exported as GFAPI_PRIVATE_6.1 but not declared in the
// public header: found at run time, so a libgfapi without it gives a clear
// error rather than a link failure.
using SetFsPid = int (*)(glfs_t*, pid_t);
SetFsPid findSetFsPid() {
  static const SetFsPid fn = [] {
    void* symbol = dlvsym(RTLD_DEFAULT, "glfs_setfspid", "GFAPI_PRIVATE_6.1");
    if (!symbol) symbol = dlsym(RTLD_DEFAULT, "glfs_setfspid");
    return reinterpret_cast<SetFsPid>(symbol);
  }();
  return fn;
}

// While alive, this thread acts on `fs` as one of gluster's internal
// clients (a negative pid): the read-only translator of a geo-replication
// secondary lets any of those through. Which one matters to the shard
// translator: to geo-replication's own worker (the default) it shows the
// shards and their xattrs as they are and keeps no file size for its
// writes (the worker copies the size xattr itself); to the others it is the
// sharded volume ordinary clients see. The identity is per thread; it is
// dropped however the scope ends.
class InternalClient {
 public:
  static constexpr int kGeoRepWorker = -1;  // GF_CLIENT_PID_GSYNCD
  static constexpr int kNoRootSquash = -4;  // GF_CLIENT_PID_NO_ROOT_SQUASH
  // `purpose` completes the error when libgfapi cannot do this.
  InternalClient(glfs_t* fs, const char* purpose, int pid = kGeoRepWorker) : fs_(fs), setFsPid_(findSetFsPid()) {
    if (!setFsPid_) {
      throw AgentError(Code::ReadOnlyBypassUnavailable,
                       std::string("this libgfapi has no glfs_setfspid (GFAPI_PRIVATE_6.1): cannot ") + purpose);
    }
    setFsPid_(fs_, pid);
  }
  ~InternalClient() { setFsPid_(fs_, 0); }
  InternalClient(const InternalClient&) = delete;
  InternalClient& operator=(const InternalClient&) = delete;

 private:
  glfs_t* fs_;
  SetFsPid setFsPid_;
};

}  // namespace

class Connection : public Volume {
 public:
  // `retire` receives the handle when the last user lets go of it.
  Connection(glfs_t* fs, std::string key, std::function<void(glfs_t*)> retire)
      : fs_(fs), key_(std::move(key)), retire_(std::move(retire)) {}
  ~Connection() override { retire_(fs_); }
  glfs_t* fs() const { return fs_; }
  const std::string& key() const { return key_; }
  std::chrono::steady_clock::time_point lastUsed;

  std::optional<EntryInfo> lookup(const volpath::Components& path) override {
    SharedObject object;
    struct stat st {};
    if (!walk(path, object, st)) return std::nullopt;
    EntryInfo info = toEntry(st);
    info.gfid = gfidOf(object.get());
    return info;
  }

  std::string readPrefix(const volpath::Components& path, size_t length) override {
    SharedObject object;
    struct stat st {};
    if (!walk(path, object, st)) ioError("cannot open", volpath::join(path), ENOENT);
    if (!S_ISREG(st.st_mode)) ioError("cannot read", volpath::join(path), EINVAL);
    FdPtr fd(glfs_h_open(fs_, object.get(), O_RDONLY));
    if (!fd) ioError("cannot open", volpath::join(path), errno);
    std::string buffer(length, '\0');
    size_t got = 0;
    while (got < length) {
      const ssize_t n = glfs_pread(fd.get(), buffer.data() + got, length - got, static_cast<off_t>(got), 0, nullptr);
      if (n < 0) readError(volpath::join(path), got, errno);
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    buffer.resize(got);
    return buffer;
  }

  std::uint64_t readRange(const volpath::Components& path, std::uint64_t offset, std::uint64_t length,
                          const std::function<void(const char*, size_t)>& sink) override {
    SharedObject object;
    struct stat st {};
    if (!walk(path, object, st)) ioError("cannot open", volpath::join(path), ENOENT);
    if (!S_ISREG(st.st_mode)) ioError("cannot read", volpath::join(path), EINVAL);
    FdPtr fd(glfs_h_open(fs_, object.get(), O_RDONLY));
    if (!fd) ioError("cannot open", volpath::join(path), errno);
    std::vector<char> buffer(static_cast<size_t>(std::min(length, kLargestRead)));
    std::uint64_t done = 0;
    while (done < length) {
      const size_t want = static_cast<size_t>(std::min<std::uint64_t>(buffer.size(), length - done));
      const ssize_t n = glfs_pread(fd.get(), buffer.data(), want, static_cast<off_t>(offset + done), 0, nullptr);
      if (n < 0) readError(volpath::join(path), offset + done, errno);
      if (n == 0) break;
      sink(buffer.data(), static_cast<size_t>(n));
      done += static_cast<std::uint64_t>(n);
    }
    return done;
  }

  std::vector<std::pair<std::string, EntryInfo>> list(const volpath::Components& dir) override {
    SharedObject object;
    struct stat st {};
    if (!walk(dir, object, st)) ioError("cannot list", volpath::join(dir), ENOENT);
    DirPtr handle(glfs_h_opendir(fs_, object.get()));
    if (!handle) ioError("cannot list", volpath::join(dir), errno);
    std::vector<std::pair<std::string, EntryInfo>> out;
    for (;;) {
      struct stat entryStat {};
      struct dirent entry {};
      struct dirent* result = nullptr;
      if (glfs_readdirplus_r(handle.get(), &entryStat, &entry, &result) != 0) {
        ioError("cannot list", volpath::join(dir), errno);
      }
      if (!result) break;
      const std::string name = result->d_name;
      if (name == "." || name == "..") continue;
      EntryInfo info = toEntry(entryStat);
      // readdirplus may leave the stat empty; d_type still tells the kind.
      if (entryStat.st_mode == 0) {
        info.type = result->d_type == DT_REG   ? EntryInfo::Type::Regular
                    : result->d_type == DT_DIR ? EntryInfo::Type::Directory
                    : result->d_type == DT_LNK ? EntryInfo::Type::Symlink
                                               : EntryInfo::Type::Other;
      }
      out.emplace_back(name, info);
    }
    return out;
  }

  bool unlink(const volpath::Components& path) override {
    volpath::Components dir(path.begin(), path.end() - 1);
    SharedObject parent;
    struct stat st {};
    if (!dir.empty() && !walk(dir, parent, st)) ioError("cannot unlink", volpath::join(path), ENOENT);
    bool sharded = false;
    int rc = 0, err = 0;
    {
      // The secondary is read-only (features.read-only on) to ordinary
      // clients: internal for these calls only.
      InternalClient internal(fs_, "delete on a read-only geo-replication secondary");
      ObjectPtr target(glfs_h_lookupat(fs_, parent.get(), path.back().c_str(), &st, 0));
      if (target) {
        // What this request checked must be what goes: a name that now
        // points to another file (replaced since the guards ran) is left.
        if (const std::string checked = checkedGfid(path); !checked.empty() && checked != gfidOf(target.get())) {
          Json::Value data;
          data["path"] = volpath::join(path);
          throw AgentError(
              Code::FileChanged,
              "'" + volpath::join(path) + "' was replaced by another file after it was checked; not deleted", data);
        }
        char value[64];
        sharded = glfs_h_getxattrs(fs_, target.get(), "trusted.glusterfs.shard.block-size", value, sizeof value) > 0;
      }
      rc = glfs_h_unlink(fs_, parent.get(), path.back().c_str());
      err = errno;
    }
    forget(path);
    if (rc != 0 && err != ENOENT) ioError("cannot unlink", volpath::join(path), err);
    // Gone meanwhile is fine, but "deleted" is only reported when it is.
    if (rc != 0) {
      ObjectPtr still(glfs_h_lookupat(fs_, parent.get(), path.back().c_str(), &st, 0));
      if (still) ioError("unlink said absent, but it is still there:", volpath::join(path), EIO);
    }
    return sharded;
  }

  size_t markForGeoRepResync(const volpath::Components& path, const std::vector<std::uint64_t>& offsets) override {
    size_t marked = 0;
    forEachPiece(path, offsets, [&](std::uint64_t, glfs_object* piece, const struct stat&, const std::string& what) {
      if (glfs_h_setxattrs(fs_, piece, "glusterfs.geo-rep.trigger-sync", "1", 1, 0) != 0) {
        ioError("cannot mark for geo-replication", what, errno);
      }
      ++marked;
    });
    return marked;
  }

  ShardLayout shardLayout(const volpath::Components& path) override {
    std::map<std::uint64_t, PieceInfo> pieces;
    ShardLayout layout =
        forEachPiece(path, {}, [&](std::uint64_t index, glfs_object* piece, const struct stat& st, const std::string&) {
          pieces[index] = {gfidOf(piece),
                           std::uint64_t(st.st_mtim.tv_sec) * 1000000000u + std::uint64_t(st.st_mtim.tv_nsec)};
        });
    layout.pieces = std::move(pieces);
    return layout;
  }

  std::string volumeId() override {
    unsigned char id[16];
    if (glfs_get_volumeid(fs_, reinterpret_cast<char*>(id), sizeof id) != sizeof id) return {};
    char text[37];
    std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", id[0],
                  id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12], id[13], id[14],
                  id[15]);
    return text;
  }

  void writeFile(const volpath::Components& path, const std::string& content) override {
    const std::string target = "/" + volpath::join(path);
    volpath::Components temporary = path;
    temporary.back() = "." + temporary.back() + ".part";
    const std::string staged = "/" + volpath::join(temporary);
    // Not as geo-replication's worker: the file's size must be kept, as
    // for any file written through the volume.
    InternalClient internal(fs_, "write on a read-only geo-replication secondary", InternalClient::kNoRootSquash);
    {
      FdPtr fd(glfs_creat(fs_, staged.c_str(), O_WRONLY | O_TRUNC, 0600));
      if (!fd) ioError("cannot create", staged, errno);
      for (size_t done = 0; done < content.size();) {
        const ssize_t n = glfs_write(fd.get(), content.data() + done, content.size() - done, 0);
        if (n <= 0) ioError("cannot write", staged, n < 0 ? errno : EIO);
        done += size_t(n);
      }
      if (glfs_fsync(fd.get(), nullptr, nullptr) != 0) ioError("cannot sync", staged, errno);
    }
    forget(path);
    if (glfs_rename(fs_, staged.c_str(), target.c_str()) != 0) {
      const int err = errno;
      glfs_unlink(fs_, staged.c_str());
      ioError("cannot rename into place", target, err);
    }
  }

  void touch(const volpath::Components& path) override {
    const std::string text = "/" + volpath::join(path);
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[1] = times[0];
    if (glfs_utimens(fs_, text.c_str(), times) != 0) ioError("cannot touch", text, errno);
  }

 private:
  // The object's gluster id as text ("" when it cannot be read).
  static std::string gfidOf(glfs_object* object) {
    unsigned char handle[GFAPI_HANDLE_LENGTH];
    if (glfs_h_extract_handle(object, handle, sizeof handle) != GFAPI_HANDLE_LENGTH) return "";
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < GFAPI_HANDLE_LENGTH; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
      out += hex[handle[i] >> 4];
      out += hex[handle[i] & 15];
    }
    return out;
  }

  // Calls `visit` for each piece of the regular file at `path` that exists:
  // index 0 is the file itself (its first block), n > 0 the shard
  // .shard/GFID.n; an absent shard is a hole and is skipped. With
  // `offsets`, only the pieces holding those bytes; otherwise all of them.
  // Returns the file's layout, without its pieces.
  ShardLayout forEachPiece(
      const volpath::Components& path, const std::vector<std::uint64_t>& offsets,
      const std::function<void(std::uint64_t, glfs_object*, const struct stat&, const std::string&)>& visit) {
    const std::string text = volpath::join(path);
    SharedObject object;
    struct stat st {};
    if (!walk(path, object, st)) ioError("cannot open", text, ENOENT);
    if (!S_ISREG(st.st_mode)) ioError("not a regular file:", text, EINVAL);
    ShardLayout layout;
    layout.size = static_cast<std::uint64_t>(st.st_size);  // the logical size, through the shard layer
    layout.gfid = gfidOf(object.get());
    // The shards live in .shard, which only gluster's internal clients see.
    InternalClient internal(fs_, "reach a file's shards");
    unsigned char value[8];
    if (glfs_h_getxattrs(fs_, object.get(), "trusted.glusterfs.shard.block-size", value, sizeof value) == 8) {
      for (unsigned char byte : value) layout.blockSize = layout.blockSize << 8 | byte;  // network byte order
    }
    std::set<std::uint64_t> indices;
    if (layout.blockSize == 0) {
      indices.insert(0);
    } else if (offsets.empty()) {
      for (std::uint64_t index = 0; index == 0 || index * layout.blockSize < layout.size; ++index)
        indices.insert(index);
    } else {
      for (std::uint64_t offset : offsets) indices.insert(offset / layout.blockSize);
    }
    ObjectPtr shards;
    for (std::uint64_t index : indices) {
      if (index == 0) {
        visit(0, object.get(), st, text);
        continue;
      }
      if (!shards) {
        struct stat dirStat {};
        shards.reset(glfs_h_lookupat(fs_, nullptr, ".shard", &dirStat, 0));
        if (!shards) ioError("cannot open", ".shard", errno);
      }
      // A named lookup every time: it also replaces what this connection
      // remembered of a shard that another client has since re-created.
      const std::string name = layout.gfid + "." + std::to_string(index);
      struct stat shardStat {};
      errno = 0;
      ObjectPtr shard(glfs_h_lookupat(fs_, shards.get(), name.c_str(), &shardStat, 0));
      if (!shard) {
        if (errno == ENOENT) continue;  // a hole: never written
        ioError("cannot look up", ".shard/" + name, errno ? errno : EIO);
      }
      visit(index, shard.get(), shardStat, ".shard/" + name);
    }
    return layout;
  }

  // What a scope's walks resolved, by joined path: the object and its stat
  // as seen then. One per thread (a scope is one request on one thread).
  struct Resolved {
    SharedObject object;
    struct stat st;
  };
  struct ScopeState {
    const Connection* owner = nullptr;
    int depth = 0;
    std::map<std::string, Resolved> resolved;
  };
  static ScopeState& scopeState() {
    thread_local ScopeState state;
    return state;
  }
  ScopeState* activeScope() const {
    ScopeState& state = scopeState();
    return state.depth > 0 && state.owner == this ? &state : nullptr;
  }
  void enterScope() override {
    ScopeState& state = scopeState();
    if (state.depth > 0 && state.owner != this) return;  // another volume's scope: not ours to share
    state.owner = this;
    ++state.depth;
  }
  void leaveScope() override {
    ScopeState& state = scopeState();
    if (state.owner != this || state.depth == 0) return;
    if (--state.depth == 0) {
      state.resolved.clear();
      state.owner = nullptr;
    }
  }
  // The gfid of `path` as this scope resolved it ("" when it did not).
  std::string checkedGfid(const volpath::Components& path) {
    ScopeState* scope = activeScope();
    if (!scope) return "";
    auto it = scope->resolved.find(volpath::join(path));
    return it == scope->resolved.end() ? "" : gfidOf(it->second.object.get());
  }

  // Drops `path` and everything under it from the scope.
  void forget(const volpath::Components& path) {
    ScopeState* scope = activeScope();
    if (!scope) return;
    const std::string key = volpath::join(path);
    for (auto it = scope->resolved.lower_bound(key); it != scope->resolved.end();) {
      if (it->first != key && it->first.compare(0, key.size() + 1, key + "/") != 0) break;
      it = scope->resolved.erase(it);
    }
  }

  // Looks up each component under the previous one with follow = 0. False
  // when a component is absent. Inside a scope, starts from the deepest
  // component this scope already resolved.
  bool walk(const volpath::Components& path, SharedObject& object, struct stat& st) {
    ScopeState* scope = activeScope();
    SharedObject current;  // null: the volume root
    std::string walked;
    size_t i = 0;
    for (size_t n = scope ? path.size() : 0; n > 0; --n) {
      auto it = scope->resolved.find(volpath::join(volpath::Components(path.begin(), path.begin() + n)));
      if (it == scope->resolved.end()) continue;
      current = it->second.object;
      st = it->second.st;
      walked = it->first;
      i = n;
      break;
    }
    if (i > 0 && i < path.size()) requireDirectory(path, walked, st);
    for (; i < path.size(); ++i) {
      walked += (walked.empty() ? "" : "/") + path[i];
      errno = 0;
      SharedObject next(glfs_h_lookupat(fs_, current.get(), path[i].c_str(), &st, 0), ObjectClose{});
      if (!next) {
        if (errno == ENOENT || errno == ESTALE) return false;
        ioError("cannot look up", walked, errno ? errno : EIO);
      }
      if (scope) scope->resolved[walked] = {next, st};
      if (i + 1 < path.size()) requireDirectory(path, walked, st);
      current = std::move(next);
    }
    if (path.empty()) {
      // The root itself: gfapi's handle calls take no null object for it.
      errno = 0;
      current = SharedObject(glfs_h_lookupat(fs_, nullptr, "/", &st, 0), ObjectClose{});
      if (!current) ioError("cannot look up", "/", errno ? errno : EIO);
    }
    object = std::move(current);
    return true;
  }

  static void requireDirectory(const volpath::Components& path, const std::string& walked, const struct stat& st) {
    if (S_ISDIR(st.st_mode)) return;
    Json::Value data;
    data["path"] = volpath::join(path);
    data["component"] = walked;
    throw AgentError(
        Code::NotRegularFile,
        "'" + walked + "' is a " + typeName(toEntry(st).type) + ", not a directory (symlinks are never followed)",
        data);
  }

  glfs_t* fs_;
  std::string key_;
  std::function<void(glfs_t*)> retire_;
};

VolumePool::VolumePool(Options options) : options_(std::move(options)) {
  reaper_ = std::thread([this] { reap(); });
}

VolumePool::~VolumePool() { shutdown(std::chrono::seconds(2)); }

Volume* VolumePool::connectionVolume(const std::shared_ptr<Connection>& connection) { return connection.get(); }

bool VolumePool::retryable(const std::exception& e) {
  const auto* agentError = dynamic_cast<const AgentError*>(&e);
  if (!agentError) return false;
  if (agentError->code() == Code::GfapiConnectFailed) return true;
  if (agentError->code() != Code::GfapiIOError) return false;
  return connectionErrno(agentError->data().get("errno", 0).asInt());
}

std::shared_ptr<Connection> VolumePool::acquire(const std::vector<std::string>& servers, const std::string& volume) {
  std::string key = volume + "@";
  for (const auto& s : servers) key += s + ",";
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<Connection>> idle;  // released after the lock
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) throw AgentError(Code::ShuttingDown, "agent is shutting down");
    // Close connections nobody used for a while (not the one asked for).
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (it->first != key && now - it->second->lastUsed > options_.idleTimeout) {
        spdlog::info("gfapi: closing idle connection {}", it->first);
        idle.push_back(std::move(it->second));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    auto it = connections_.find(key);
    if (it != connections_.end()) {
      it->second->lastUsed = now;
      return it->second;
    }
    makeRoom(idle);
  }
  // Connect outside the lock: other volumes stay usable meanwhile.
  glfs_t* fs = glfs_new(volume.c_str());
  if (!fs) throw AgentError(Code::GfapiConnectFailed, "glfs_new(" + volume + ") failed: " + std::strerror(errno));
  for (const auto& server : servers) glfs_set_volfile_server(fs, "tcp", server.c_str(), 24007);
  glfs_set_logging(fs, options_.logFile.c_str(), options_.logLevel);
  // The guards decide on what is on the bricks now: a cached stat or
  // header (up to a second old, and racing other clients' changes) could
  // show a deleted file as present or miss a new backing reference. The
  // agent's reads are a few KiB of metadata; no client-side caching.
  for (const char* xlator :
       {"*-md-cache", "*-quick-read", "*-io-cache", "*-read-ahead", "*-readdir-ahead", "*-open-behind", "*-nl-cache"}) {
    glfs_set_xlator_option(fs, xlator, "pass-through", "true");
  }
  const auto started = std::chrono::steady_clock::now();
  if (glfs_init(fs) != 0) {
    const int err = errno;
    retire(fs);
    Json::Value data;
    data["volume"] = volume;
    for (const auto& s : servers) data["volfileServers"].append(s);
    throw AgentError(Code::GfapiConnectFailed,
                     "cannot connect to volume " + volume + " (tried " + std::to_string(servers.size()) +
                         " volfile servers): " + std::strerror(err ? err : EIO),
                     data);
  }
  spdlog::info(
      "gfapi: connected to {} in {} ms", key,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
  auto connection = std::make_shared<Connection>(fs, key, [this](glfs_t* handle) { retire(handle); });
  connection->lastUsed = now;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!connections_.count(key)) makeRoom(idle);  // others may have connected meanwhile
  auto [it, inserted] = connections_.emplace(key, connection);
  // When another request connected first, keep theirs; ours is retired as
  // `connection` goes out of scope (after the lock is released).
  return inserted ? connection : it->second;
}

void VolumePool::makeRoom(std::vector<std::shared_ptr<Connection>>& released) {
  if (connections_.size() < options_.maxConnections) return;
  // The least recently used connection no request holds (the map's is the
  // only reference).
  auto victim = connections_.end();
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->second.use_count() == 1 &&
        (victim == connections_.end() || it->second->lastUsed < victim->second->lastUsed)) {
      victim = it;
    }
  }
  if (victim == connections_.end()) {
    throw AgentError(Code::Busy, "gfapi: all " + std::to_string(connections_.size()) +
                                     " volume connections (gfapi_pool_max) are in use; retry later");
  }
  spdlog::info("gfapi: closing {} to make room (gfapi_pool_max {})", victim->first, options_.maxConnections);
  released.push_back(std::move(victim->second));
  connections_.erase(victim);
}

void VolumePool::drop(const std::shared_ptr<Connection>& connection) {
  std::shared_ptr<Connection> dropped;  // released after the lock
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = connections_.find(connection->key());
  if (it != connections_.end() && it->second == connection) {
    spdlog::warn("gfapi: dropping connection {} after an error", connection->key());
    // Requests still using it finish first: its handle is finished when
    // the last of them lets go.
    dropped = std::move(it->second);
    connections_.erase(it);
  }
}

void VolumePool::retire(glfs_t* fs) {
  std::lock_guard<std::mutex> lock(mutex_);
  toFinish_.push_back(fs);
  reaperWake_.notify_one();
}

void VolumePool::reap() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    reaperWake_.wait(lock, [this] { return stopping_ || !toFinish_.empty(); });
    if (toFinish_.empty()) {
      if (stopping_) break;
      continue;
    }
    glfs_t* fs = toFinish_.front();
    toFinish_.pop_front();
    ++finishing_;
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    glfs_fini(fs);
    spdlog::debug(
        "gfapi: glfs_fini took {} ms",
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
    lock.lock();
    --finishing_;
    reaperIdle_.notify_all();
  }
}

bool VolumePool::shutdown(std::chrono::milliseconds timeout) {
  std::map<std::string, std::shared_ptr<Connection>> open;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!reaper_.joinable()) return true;
    open.swap(connections_);
  }
  open.clear();  // retires every handle no request still holds
  std::unique_lock<std::mutex> lock(mutex_);
  stopping_ = true;
  reaperWake_.notify_all();
  const bool done = reaperIdle_.wait_for(lock, timeout, [this] { return toFinish_.empty() && finishing_ == 0; });
  lock.unlock();
  if (done) {
    reaper_.join();
  } else {
    spdlog::warn("gfapi: glfs_fini still running after {} ms; not waiting for it", timeout.count());
    reaper_.detach();
  }
  return done;
}

size_t VolumePool::openConnections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return connections_.size();
}

}  // namespace gdr::gfapi
