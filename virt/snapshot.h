#pragma once
// VM.snapshot: an external, disk-only, atomic snapshot of some or all of a
// running VM's disks; new writes go to qcow2 overlays.
#include <json/value.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/vm.h"
#include "virt/domain.h"
#include "virt/domain_xml.h"

namespace gdr::virt {

// The host's view of the files next to the disks (a gluster FUSE mount on
// a real host; a fake in unit tests).
struct LocalFiles {
  std::function<bool(const std::string& path)> exists;
  std::function<void(const std::string& dir)> makeDirectory;
  std::function<void(const std::string& path)> remove;
  // A new, empty qcow2 overlay of `virtualSize` bytes whose header names
  // `backing` (relative to the overlay's directory) of `backingFormat`.
  std::function<void(const std::string& overlay, const std::string& backing, const std::string& backingFormat,
                     std::uint64_t virtualSize)>
      createOverlay;
  // The virtual size of the image at `path` (format as libvirt names it),
  // read from the image itself; nullopt when it cannot be (libvirt is
  // asked then).
  std::function<std::optional<std::uint64_t>(const std::string& path, const std::string& format)> virtualSize;
  // `scratchDir`: where new overlays are first written (default: /dev/shm,
  // else the temporary directory).
  static LocalFiles real(const std::string& scratchDir = {});
};

struct SnapshotRequest {
  std::optional<std::vector<SnapshotDisk>> drives;  // all disks when absent
  bool quiesce = true;
  bool requireQuiesce = false;
};

// The overlay VM.snapshot picks for `diskPath` when none is given:
// DIR/.gdr-snapshots/NAME.YYYYMMDDTHHMMSSZ.RANDOM.qcow2
std::string defaultOverlayPath(const std::string& diskPath, std::int64_t when);

// The overlays now in use, each over its frozen base. Each overlay is
// created first and names its backing file relative to itself, so a copy
// of the chain (on the secondary, under another mount) opens as it is. On any
// failure the domain XML is read again: the error's data holds each disk's
// true state, and an overlay file libvirt did not start using is removed.
api::SnapshotResult takeSnapshot(Domain& domain, const SnapshotRequest& request, const LocalFiles& files);

}  // namespace gdr::virt
