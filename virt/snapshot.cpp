#include "virt/snapshot.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "core/durable_file.h"
#include "core/errors.h"
#include "core/job_store.h"
#include "core/process.h"
#include "gfapi/qcow2.h"
#include "gfapi/volume_path.h"

namespace gdr::virt {

namespace fs = std::filesystem;

namespace {

// tmpfs where there is one: the scratch image is written, read back and
// removed within milliseconds, and syncs there cost nothing.
fs::path scratchDirectory() {
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

struct ScratchFile {
  fs::path path;
  ~ScratchFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

[[noreturn]] void overlayFailure(const std::string& overlay, const std::string& why) {
  Json::Value data;
  data["overlayPath"] = overlay;
  throw AgentError(Code::SnapshotFailed, "creating overlay " + overlay + ": " + why, data);
}

// `from`'s bytes and mode in a file created at `to`, which must not exist
// (O_EXCL: a file someone else made there is never overwritten), synced
// once. A partial copy is removed.
void copyToNewFile(const fs::path& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  struct stat st {};
  if (!in.is_open() || in.bad()) overlayFailure(to, "cannot read " + from.string());
  if (::stat(from.c_str(), &st) != 0) overlayFailure(to, "cannot stat " + from.string() + ": " + std::strerror(errno));
  const int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
  if (fd < 0) overlayFailure(to, std::strerror(errno));
  const auto failed = [&](const char* what) {
    const std::string why = std::string(what) + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(to.c_str());
    overlayFailure(to, why);
  };
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) failed("write");
    done += size_t(n);
  }
  if (::fsync(fd) != 0) failed("fsync");
  if (::close(fd) != 0) {
    const std::string why = std::string("close: ") + std::strerror(errno);
    ::unlink(to.c_str());
    overlayFailure(to, why);
  }
}

}  // namespace

LocalFiles LocalFiles::real(const std::string& scratchDir) {
  LocalFiles f;
  f.exists = [](const std::string& p) {
    std::error_code ec;
    return fs::exists(fs::symlink_status(p, ec));
  };
  f.makeDirectory = [](const std::string& d) { makeDirectories(d); };  // hosts snapshot at once
  f.remove = [](const std::string& p) {
    std::error_code ec;
    if (fs::is_regular_file(fs::symlink_status(p, ec))) fs::remove(p, ec);
  };
  f.createOverlay = [scratchDir](const std::string& overlay, const std::string& backing,
                                 const std::string& backingFormat, std::uint64_t virtualSize) {
    // -u: the backing file is the VM's active layer, locked by QEMU; its
    // size is given instead.
    const auto create = [&](const std::string& path) {
      return runCommand({"qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", backingFormat, path,
                         std::to_string(virtualSize)},
                        std::chrono::seconds(60));
    };
    // qemu-img syncs a new image five times while it writes it, and on a
    // gluster mount each sync is a round trip to the bricks. It writes the
    // image in local scratch space instead (the image names its backing
    // file relative to itself, so it does not depend on where it is
    // written), and the bytes go to the volume with one sync.
    static std::atomic<unsigned> made{0};
    const fs::path scratch = (scratchDir.empty() ? scratchDirectory() : fs::path(scratchDir)) /
                             ("gdr-overlay-" + std::to_string(::getpid()) + "-" + std::to_string(++made) + ".qcow2");
    ScratchFile removeScratch{scratch};
    if (create(scratch.string()).exitCode == 0) return copyToNewFile(scratch, overlay);
    // Scratch space full or missing: qemu-img writes on the volume itself,
    // into a file made here first (it would truncate one that exists).
    const int fd = ::open(overlay.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) overlayFailure(overlay, std::strerror(errno));
    ::close(fd);
    const CommandResult r = create(overlay);
    if (r.exitCode != 0) {
      ::unlink(overlay.c_str());
      overlayFailure(overlay, r.timedOut ? "qemu-img timed out" : r.err);
    }
  };
  f.virtualSize = [](const std::string& path, const std::string& format) -> std::optional<std::uint64_t> {
    std::error_code ec;
    if (format == "raw") {
      const auto size = fs::file_size(path, ec);
      return ec ? std::nullopt : std::optional<std::uint64_t>(size);
    }
    if (format != "qcow2") return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    std::string bytes(qcow2::kHeaderReadSize, '\0');
    in.read(bytes.data(), std::streamsize(bytes.size()));
    bytes.resize(size_t(in.gcount()));
    try {
      const auto header = qcow2::parseHeader(bytes);
      return header ? std::optional<std::uint64_t>(header->virtualSize) : std::nullopt;
    } catch (const AgentError&) {
      return std::nullopt;
    }
  };
  return f;
}

std::string defaultOverlayPath(const std::string& diskPath, std::int64_t when) {
  const fs::path disk(diskPath);
  char stamp[32];
  std::tm tm{};
  const std::time_t t = when;
  gmtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  thread_local std::mt19937 rng{std::random_device{}()};
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06x", unsigned(rng() & 0xffffff));
  return (disk.parent_path() / volpath::kSnapshotDirName /
          (disk.stem().string() + "." + stamp + "." + suffix + ".qcow2"))
      .string();
}

namespace {

// Milliseconds since `since`, and `since` moved to now: one phase's length.
double lap(std::chrono::steady_clock::time_point& since) {
  const auto now = std::chrono::steady_clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - since).count();
  since = now;
  return ms;
}

[[noreturn]] void invalid(const std::string& message, Json::Value data = {}) {
  throw AgentError(Code::InvalidParameter, message, data);
}

// The image at the bottom of the disk's chain: its overlays, however many,
// sit beside it.
const std::string& bottomOf(const DiskInfo& disk) { return disk.chain.empty() ? disk.path : disk.chain.back(); }

// The overlay must be a new file next to the disk's base image, or in the
// snapshot directory next to it: the VM's own storage, on the same volume.
void checkOverlay(const DiskInfo& disk, const std::string& overlay, const LocalFiles& files) {
  Json::Value data;
  data["drive"] = disk.target;
  data["overlayPath"] = overlay;
  const fs::path p(overlay);
  if (!p.is_absolute() || p.lexically_normal() != p || overlay.find("/../") != std::string::npos) {
    invalid("overlay path '" + overlay + "' must be absolute and normalized", data);
  }
  const fs::path diskDir = fs::path(bottomOf(disk)).parent_path();
  if (p.parent_path() != diskDir && p.parent_path() != diskDir / volpath::kSnapshotDirName) {
    invalid("overlay '" + overlay + "' is outside the VM's storage: it must lie in " + diskDir.string() + " or " +
                (diskDir / volpath::kSnapshotDirName).string(),
            data);
  }
  if (files.exists(overlay)) invalid("overlay '" + overlay + "' already exists", data);
}

// The disks to snapshot, each with its overlay: those asked for (or every
// file-backed disk), checked before anything is created.
std::vector<SnapshotDisk> chooseDisks(Domain& domain, const DomainInfo& before, const SnapshotRequest& request,
                                      std::int64_t when, const LocalFiles& files) {
  std::vector<SnapshotDisk> disks;
  if (request.drives) {
    for (const auto& wanted : *request.drives) {
      const DiskInfo* disk = before.disk(wanted.target);
      if (!disk || disk->device != "disk") {
        Json::Value data;
        data["drive"] = wanted.target;
        invalid("VM " + domain.name() + " has no disk '" + wanted.target + "'", data);
      }
      for (const auto& d : disks) {
        if (d.target == wanted.target) invalid("drive '" + wanted.target + "' listed twice");
      }
      disks.push_back(
          {wanted.target, wanted.overlayPath.empty() ? defaultOverlayPath(bottomOf(*disk), when) : wanted.overlayPath});
    }
  } else {
    for (const auto& d : before.disks) {
      if (d.device == "disk" && d.type == "file") disks.push_back({d.target, defaultOverlayPath(bottomOf(d), when)});
    }
  }
  if (disks.empty()) invalid("VM " + domain.name() + " has no file-backed disk to snapshot");
  for (const auto& d : disks) {
    const DiskInfo& disk = *before.disk(d.target);
    if (disk.type != "file") invalid("drive '" + d.target + "' is not a file-backed disk");
    if (disk.mirror) {
      Json::Value data;
      data["drive"] = d.target;
      throw AgentError(Code::VMBusy, "drive '" + d.target + "' has a block job running", data);
    }
    checkOverlay(disk, d.overlayPath, files);
  }
  return disks;
}

// Each overlay created first, naming its backing file relative to itself.
void createOverlays(const DomainInfo& before, const std::vector<SnapshotDisk>& disks,
                    const std::vector<std::uint64_t>& capacities, const LocalFiles& files) {
  for (size_t i = 0; i < disks.size(); ++i) {
    const SnapshotDisk& d = disks[i];
    const DiskInfo& disk = *before.disk(d.target);
    const fs::path dir = fs::path(d.overlayPath).parent_path();
    files.makeDirectory(dir.string());
    const std::string format = disk.format.empty() ? "qcow2" : disk.format;
    files.createOverlay(d.overlayPath, fs::path(disk.path).lexically_relative(dir).string(), format, capacities[i]);
  }
}

// A failed snapshot: the true state of each disk, and no stray overlay
// left behind.
AgentError snapshotFailure(Domain& domain, const std::vector<SnapshotDisk>& disks, const LocalFiles& files,
                           const AgentError& e) {
  Json::Value data = e.data().isObject() ? e.data() : Json::Value(Json::objectValue);
  data["disks"] = Json::Value(Json::arrayValue);
  try {
    const DomainInfo after = parseDomainXml(domain.xml());
    for (const auto& d : disks) {
      const DiskInfo* disk = after.disk(d.target);
      Json::Value item;
      item["name"] = d.target;
      item["path"] = disk ? disk->path : "";
      if (disk && !disk->chain.empty() &&
          std::find(disk->chain.begin(), disk->chain.end(), d.overlayPath) == disk->chain.end()) {
        files.remove(d.overlayPath);
        item["overlayRemoved"] = true;
      }
      data["disks"].append(item);
    }
  } catch (const AgentError& reread) {
    data["rereadError"] = reread.what();
  }
  return AgentError(Code::SnapshotFailed, e.what(), data);
}

}  // namespace

api::SnapshotResult takeSnapshot(Domain& domain, const SnapshotRequest& request, const LocalFiles& files) {
  if (!domain.running()) {
    Json::Value data;
    data["vmID"] = domain.uuid();
    throw AgentError(Code::SnapshotFailed, "VM " + domain.name() + " is not running", data);
  }
  auto phase = std::chrono::steady_clock::now();
  const DomainInfo before = parseDomainXml(domain.xml());
  const double readMs = lap(phase);
  std::vector<std::string> allTargets;
  for (const auto& d : before.disks) allTargets.push_back(d.target);

  const std::int64_t when = nowSeconds();
  const std::vector<SnapshotDisk> disks = chooseDisks(domain, before, request, when, files);
  const std::string xml = snapshotXml(disks, allTargets);
  // A paused guest cannot be frozen (libvirt refuses), and writes nothing
  // meanwhile: its snapshot is taken as it stands. Nor is a guest whose
  // agent channel is missing or closed: libvirt would refuse the attempt,
  // a round trip that lengthens every VM's snapshot under load.
  const bool agentMayAnswer =
      before.guestAgent != GuestAgentChannel::None && before.guestAgent != GuestAgentChannel::Disconnected;
  const bool quiesce = request.quiesce && (request.requireQuiesce || (agentMayAnswer && !domain.paused()));
  bool quiesced = quiesce;
  double sizeMs = 0, overlaysMs = 0, quiesceMs = 0, snapshotMs = 0;
  try {
    lap(phase);
    // The active layer's own header holds the size (QEMU rewrites it on a
    // resize); libvirt's answer costs a round trip to QEMU, which waits
    // behind busy vCPUs.
    std::vector<std::uint64_t> capacities;
    for (const auto& d : disks) {
      const DiskInfo& disk = *before.disk(d.target);
      const auto fromImage = files.virtualSize ? files.virtualSize(disk.path, disk.format) : std::nullopt;
      capacities.push_back(fromImage ? *fromImage : domain.capacity(d.target));
    }
    sizeMs = lap(phase);
    createOverlays(before, disks, capacities, files);
    overlaysMs = lap(phase);
    try {
      domain.snapshot(xml, quiesce);
      snapshotMs = lap(phase);
    } catch (const AgentError& e) {
      // No guest agent answering: crash-consistent, unless that is not enough.
      if (!quiesce || request.requireQuiesce || !e.data().get("agentUnavailable", false).asBool()) throw;
      quiesceMs = lap(phase);
      quiesced = false;
      domain.snapshot(xml, false);
      snapshotMs = lap(phase);
    }
  } catch (const AgentError& e) {
    throw snapshotFailure(domain, disks, files, e);
  }

  const DomainInfo after = parseDomainXml(domain.xml());
  spdlog::debug(
      "snapshot of {}: read {:.1f} ms, size {:.1f} ms, overlays {:.1f} ms, refused quiesce {:.1f} ms, "
      "snapshot {:.1f} ms, reread {:.1f} ms",
      domain.name(), readMs, sizeMs, overlaysMs, quiesceMs, snapshotMs, lap(phase));
  api::SnapshotResult out;
  out.quiesced = quiesced;
  out.snapshotTime = when;
  for (const auto& d : disks) {
    const DiskInfo* disk = after.disk(d.target);
    if (!disk || disk->path != d.overlayPath) {
      throw AgentError(Code::SnapshotFailed, "libvirt reported success but drive " + d.target + " is on " +
                                                 (disk ? disk->path : std::string("nothing")));
    }
    out.disks.push_back({d.target, d.overlayPath, before.disk(d.target)->path, std::nullopt});
  }
  return out;
}

}  // namespace gdr::virt
