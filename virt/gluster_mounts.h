#pragma once
// Which gluster volume a host path lives on, from /proc/mounts: VM disks
// sit on FUSE mounts of the primary volume. Pure.
#include <optional>
#include <string>
#include <vector>

namespace gdr::virt {

struct GlusterMount {
  std::string server;      // 127.0.0.2
  std::string volume;      // gdr-primary
  std::string mountPoint;  // /var/lib/gdr-lab/mnt/primary
  bool readOnly = false;   // mounted "ro"
};

// The fuse.glusterfs entries of a /proc/mounts text ("\040" unescaped).
std::vector<GlusterMount> parseGlusterMounts(const std::string& procMounts);

struct VolumeLocation {
  std::string server, volume;
  std::string path;        // relative to the volume root
  std::string mountPoint;  // where this host mounts the volume
};

// The fuse.glusterfs mounts of this host (reads `procMounts`).
std::vector<GlusterMount> readGlusterMounts(const std::string& procMounts = "/proc/mounts");

// The mount holding `path` (the longest matching mount point).
std::optional<VolumeLocation> locateOnVolume(const std::vector<GlusterMount>& mounts, const std::string& path);

}  // namespace gdr::virt
