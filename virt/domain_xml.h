#pragma once
// Reading libvirt domain XML and writing snapshot XML. Pure: unit-tested
// on XML recorded from the lab's QEMU guests.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gdr::virt {

struct Mirror {
  std::string job;    // "active-commit", "copy", ...
  bool ready = false; // ready='yes': the job can be pivoted
  std::string file;
};

struct DiskInfo {
  std::string target;   // vda
  std::string device;   // disk, cdrom, ...
  std::string type;     // file, block, network
  std::string path;     // the active layer
  std::string format;   // qcow2, raw
  std::vector<std::string> chain;  // active layer first, then each backing file down to the base
  std::vector<std::string> chainFormats;  // the format of each image in chain ("" when libvirt names none)
  std::optional<Mirror> mirror;

  // The image under the active layer, if any.
  std::optional<std::string> backing() const {
    return chain.size() > 1 ? std::optional<std::string>(chain[1]) : std::nullopt;
  }
};

// The guest agent's virtio channel (org.qemu.guest_agent.0), which a
// quiesced snapshot needs.
enum class GuestAgentChannel {
  None,          // the domain has no such channel: libvirt refuses to quiesce
  Disconnected,  // nothing in the guest opened it: libvirt refuses too
  Connected,     // an agent listens (it may still not answer)
  Unknown,       // a channel whose state libvirt does not report
};

struct DomainInfo {
  std::string uuid;
  std::string name;
  std::vector<DiskInfo> disks;
  GuestAgentChannel guestAgent = GuestAgentChannel::None;

  const DiskInfo* disk(const std::string& target) const;
};

// Throws AgentError(GeneralException) when the XML is not a domain.
DomainInfo parseDomainXml(std::string_view xml);

struct SnapshotDisk {
  std::string target;
  std::string overlayPath;
};

// A <domainsnapshot> taking an external qcow2 overlay of each of `disks`
// and none of the domain's other disks (`allTargets`).
std::string snapshotXml(const std::vector<SnapshotDisk>& disks, const std::vector<std::string>& allTargets);

}  // namespace gdr::virt
