#pragma once
// A VM's definition, from a recovery point, turned into a drill's
// throwaway copy. Pure: unit-tested on recorded definitions.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gdr::virt {

struct ChainImage {
  std::string path;    // on this host
  std::string format;  // qcow2, raw
};

struct DrillDisk {
  std::string target;           // vda
  std::string overlay;          // the throwaway qcow2 the guest writes to
  std::vector<ChainImage> chain;  // under the overlay, top first, down to the base
};

struct DrillDomainSpec {
  std::string name, uuid;
  std::vector<DrillDisk> disks;
  std::string consoleDir;  // file-backed serial ports and consoles write here
};

// The definition under the drill's name and UUID; each disk of `spec`
// on its overlay with the whole chain under it given as <backingStore>
// (libvirt and QEMU then ignore the backing names the images' headers
// carry, which name the primary site's paths); no network interface, host
// device, shared directory, emulator or QEMU command line of the
// definition's own (a drill must not reach the production network, take a
// device, or run what a file on the volume names as root); file-backed serial ports and consoles into consoleDir/NAME.console. Disks
// of the definition that `spec` does not name are left out (an ISO, say)
// and listed in `leftOut`. Throws AgentError(DrillFailed) when the XML is
// not a domain, or a disk of `spec` is not in it.
std::string drillDomainXml(std::string_view definitionXml, const DrillDomainSpec& spec,
                           std::vector<std::string>* leftOut = nullptr);

struct FailoverDomainSpec {
  std::vector<DrillDisk> disks;  // each on its overlay, as for a drill
  std::map<std::string, std::string> networks, bridges, paths;  // see api::FailoverMapping
};

// The definition as the VM itself at the secondary site: its own name and
// UUID; each disk of `spec` on its overlay over the point's chain; network
// and bridge names translated by the mapping (others kept); every other
// host path (kernel, initrd, loader, nvram, file-backed ports, disks that
// are not in the point) translated by the longest matching prefix of
// `paths`, and such a disk left out (listed in `leftOut`) when no prefix
// matches; the <emulator> dropped (the secondary's libvirt picks its own).
// Throws AgentError(FailoverFailed) when the XML is not a domain, or a
// disk of `spec` is not in it.
std::string failoverDomainXml(std::string_view definitionXml, const FailoverDomainSpec& spec,
                              std::vector<std::string>* leftOut = nullptr);

// `path` with the longest prefix of `paths` it starts with replaced;
// nullopt when none matches.
std::optional<std::string> mapPath(const std::map<std::string, std::string>& paths, const std::string& path);

}  // namespace gdr::virt
