#include "virt/domain_xml.h"

#include <tinyxml2.h>

#include "core/errors.h"

namespace gdr::virt {

namespace {

using tinyxml2::XMLElement;

std::string attr(const XMLElement* e, const char* name) {
  const char* v = e ? e->Attribute(name) : nullptr;
  return v ? v : "";
}

// <source file=...> / <source dev=...> / <source name=...> (network)
std::string sourcePath(const XMLElement* disk) {
  const XMLElement* source = disk->FirstChildElement("source");
  if (!source) return "";
  for (const char* a : {"file", "dev", "name"}) {
    if (source->Attribute(a)) return source->Attribute(a);
  }
  return "";
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

const DiskInfo* DomainInfo::disk(const std::string& target) const {
  for (const auto& d : disks) {
    if (d.target == target) return &d;
  }
  return nullptr;
}

DomainInfo parseDomainXml(std::string_view xml) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS || !doc.FirstChildElement("domain")) {
    throw AgentError(Code::GeneralException, "libvirt returned domain XML that does not parse");
  }
  const XMLElement* domain = doc.FirstChildElement("domain");
  DomainInfo info;
  if (const XMLElement* e = domain->FirstChildElement("uuid"); e && e->GetText()) info.uuid = e->GetText();
  if (const XMLElement* e = domain->FirstChildElement("name"); e && e->GetText()) info.name = e->GetText();
  const XMLElement* devices = domain->FirstChildElement("devices");
  for (const XMLElement* d = devices ? devices->FirstChildElement("disk") : nullptr; d;
       d = d->NextSiblingElement("disk")) {
    DiskInfo disk;
    disk.type = attr(d, "type");
    disk.device = attr(d, "device");
    disk.target = attr(d->FirstChildElement("target"), "dev");
    disk.format = attr(d->FirstChildElement("driver"), "type");
    disk.path = sourcePath(d);
    if (!disk.path.empty()) {
      disk.chain.push_back(disk.path);
      disk.chainFormats.push_back(disk.format);
    }
    // <backingStore type='file'><format/><source file=.../><backingStore/></backingStore>
    for (const XMLElement* b = d->FirstChildElement("backingStore"); b; b = b->FirstChildElement("backingStore")) {
      const std::string path = sourcePath(b);
      if (path.empty()) break;
      disk.chain.push_back(path);
      disk.chainFormats.push_back(attr(b->FirstChildElement("format"), "type"));
    }
    if (const XMLElement* m = d->FirstChildElement("mirror")) {
      Mirror mirror;
      mirror.job = attr(m, "job");
      mirror.ready = attr(m, "ready") == "yes";
      mirror.file = attr(m, "file");
      if (mirror.file.empty()) mirror.file = sourcePath(m);
      disk.mirror = mirror;
    }
    info.disks.push_back(std::move(disk));
  }
  // <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>
  for (const XMLElement* c = devices ? devices->FirstChildElement("channel") : nullptr; c;
       c = c->NextSiblingElement("channel")) {
    const XMLElement* target = c->FirstChildElement("target");
    if (attr(target, "name") != "org.qemu.guest_agent.0") continue;
    const std::string state = attr(target, "state");
    info.guestAgent = state == "connected"      ? GuestAgentChannel::Connected
                      : state == "disconnected" ? GuestAgentChannel::Disconnected
                                                : GuestAgentChannel::Unknown;
  }
  return info;
}

std::string snapshotXml(const std::vector<SnapshotDisk>& disks, const std::vector<std::string>& allTargets) {
  std::string xml = "<domainsnapshot>\n  <disks>\n";
  for (const auto& target : allTargets) {
    const SnapshotDisk* wanted = nullptr;
    for (const auto& d : disks) {
      if (d.target == target) wanted = &d;
    }
    if (wanted) {
      xml += "    <disk name='" + escape(target) + "' snapshot='external' type='file'>\n      <driver type='qcow2'/>\n"
             "      <source file='" + escape(wanted->overlayPath) + "'/>\n    </disk>\n";
    } else {
      xml += "    <disk name='" + escape(target) + "' snapshot='no'/>\n";
    }
  }
  xml += "  </disks>\n</domainsnapshot>\n";
  return xml;
}

}  // namespace gdr::virt
