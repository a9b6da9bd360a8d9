#pragma once
// A VM's definition as it travels with its disks to the secondary site:
// libvirt's inactive domain XML whose disks name their base images (never
// a cycle's overlay), with where each base lies on its gluster volume in
// the domain's <metadata>, so a recovery can map the paths to its own
// mounts without guessing. Pure: unit-tested on recorded XML.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "virt/domain_xml.h"
#include "virt/gluster_mounts.h"

namespace gdr::virt {

// The namespace of gdr's element in a definition's <metadata>.
inline constexpr const char* kDefinitionNamespace = "urn:gdr:recovery:1";
// Where definitions live, relative to the volume root of the VM's disks.
inline constexpr const char* kDefinitionDir = ".gdr/vms";

// .gdr/vms/UUID-SHA.xml (SHA: the first 16 hex digits of the content's
// SHA-256): each version of a definition its own file, which no later
// cycle rewrites while a recovery point names it.
std::string definitionPath(const std::string& uuid, const std::string& sha256);
// Whether a volume-relative path is such a file (the only ones a prune
// removes as definitions).
bool isDefinitionPath(const std::string& path);

struct DefinitionDisk {
  std::string target;  // vda
  std::string base;    // the base image on this host (the path the definition names)
  std::string format;  // the base's format: qcow2, raw
  VolumeLocation location;
};

struct RecoveryDefinition {
  std::string xml;
  std::vector<DefinitionDisk> disks;
  // The volume the definition belongs on: that of the first disk.
  const VolumeLocation& home() const { return disks.front().location; }
};

using LocateFn = std::function<std::optional<VolumeLocation>(const std::string& path)>;

// The definition of the VM whose inactive XML is `inactiveXml`, each
// file-backed disk on the base of its chain in `live` (the first image that
// is not in a .gdr-snapshots directory). Throws
// AgentError(DefinitionFailed) naming the disk when a disk is not on a
// gluster volume or has no base, or when the XML does not parse.
RecoveryDefinition recoveryDefinition(std::string_view inactiveXml, const DomainInfo& live, const LocateFn& locate);

}  // namespace gdr::virt
