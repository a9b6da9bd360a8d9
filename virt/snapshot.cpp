#include "virt/snapshot.h"

#include <filesystem>
#include <random>

#include "core/durable_file.h"
#include "core/errors.h"
#include "core/job_store.h"
#include "core/process.h"
#include "gfapi/volume_path.h"

namespace gdr::virt {

namespace fs = std::filesystem;

LocalFiles LocalFiles::real() {
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
  f.createOverlay = [](const std::string& overlay, const std::string& backing, const std::string& backingFormat,
                       std::uint64_t virtualSize) {
    // -u: the backing file is the VM's active layer, locked by QEMU; its
    // size comes from libvirt instead.
    const CommandResult r = runCommand({"qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F",
                                        backingFormat, overlay, std::to_string(virtualSize)},
                                       std::chrono::seconds(60));
    if (r.exitCode != 0) {
      Json::Value data;
      data["overlayPath"] = overlay;
      throw AgentError(Code::SnapshotFailed,
                       "creating overlay " + overlay + ": " + (r.timedOut ? "qemu-img timed out" : r.err), data);
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
void createOverlays(Domain& domain, const DomainInfo& before, const std::vector<SnapshotDisk>& disks,
                    const LocalFiles& files) {
  for (const auto& d : disks) {
    const DiskInfo& disk = *before.disk(d.target);
    const fs::path dir = fs::path(d.overlayPath).parent_path();
    files.makeDirectory(dir.string());
    const std::string format = disk.format.empty() ? "qcow2" : disk.format;
    files.createOverlay(d.overlayPath, fs::path(disk.path).lexically_relative(dir).string(), format,
                        domain.capacity(d.target));
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
  const DomainInfo before = parseDomainXml(domain.xml());
  std::vector<std::string> allTargets;
  for (const auto& d : before.disks) allTargets.push_back(d.target);

  const std::int64_t when = nowSeconds();
  const std::vector<SnapshotDisk> disks = chooseDisks(domain, before, request, when, files);
  const std::string xml = snapshotXml(disks, allTargets);
  // A paused guest cannot be frozen (libvirt refuses), and writes nothing
  // meanwhile: its snapshot is taken as it stands.
  const bool quiesce = request.quiesce && (request.requireQuiesce || !domain.paused());
  bool quiesced = quiesce;
  try {
    createOverlays(domain, before, disks, files);
    try {
      domain.snapshot(xml, quiesce);
    } catch (const AgentError& e) {
      // No guest agent answering: crash-consistent, unless that is not enough.
      if (!quiesce || request.requireQuiesce || !e.data().get("agentUnavailable", false).asBool()) throw;
      quiesced = false;
      domain.snapshot(xml, false);
    }
  } catch (const AgentError& e) {
    throw snapshotFailure(domain, disks, files, e);
  }

  const DomainInfo after = parseDomainXml(domain.xml());
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
