#include "virt/definition.h"

#include <tinyxml2.h>

#include <filesystem>
#include <regex>

#include "core/errors.h"
#include "gfapi/volume_path.h"

namespace gdr::virt {

namespace {

using tinyxml2::XMLElement;

[[noreturn]] void refuse(const std::string& message, const std::string& drive = "") {
  Json::Value data;
  if (!drive.empty()) data["drive"] = drive;
  throw AgentError(Code::DefinitionFailed, message, data);
}

bool isOverlay(const std::string& path) {
  return std::filesystem::path(path).parent_path().filename() == volpath::kSnapshotDirName;
}

// The disk's base: the first image of its chain outside .gdr-snapshots.
std::optional<size_t> baseIndex(const DiskInfo& disk) {
  for (size_t i = 0; i < disk.chain.size(); ++i) {
    if (!isOverlay(disk.chain[i])) return i;
  }
  return std::nullopt;
}

void pointAtBase(XMLElement* disk, const DefinitionDisk& base) {
  while (XMLElement* b = disk->FirstChildElement("backingStore")) disk->DeleteChild(b);
  XMLElement* source = disk->FirstChildElement("source");
  if (!source) source = disk->InsertNewChildElement("source");
  source->DeleteAttribute("index");
  source->SetAttribute("file", base.base.c_str());
  XMLElement* driver = disk->FirstChildElement("driver");
  if (!driver) {
    driver = disk->InsertNewChildElement("driver");
    driver->SetAttribute("name", "qemu");
  }
  if (!base.format.empty()) driver->SetAttribute("type", base.format.c_str());
}

// <metadata><gdr:recovery xmlns:gdr=...><gdr:disk target= volume= path=/></gdr:recovery></metadata>,
// replacing one an earlier definition left.
void describeDisks(tinyxml2::XMLDocument& doc, XMLElement* domain, const std::vector<DefinitionDisk>& disks) {
  XMLElement* metadata = domain->FirstChildElement("metadata");
  if (!metadata) {
    metadata = doc.NewElement("metadata");
    XMLElement* after = domain->FirstChildElement("description");
    if (!after) after = domain->FirstChildElement("title");
    if (!after) after = domain->FirstChildElement("uuid");
    if (!after) after = domain->FirstChildElement("name");
    if (after)
      domain->InsertAfterChild(after, metadata);
    else
      domain->InsertFirstChild(metadata);
  }
  for (XMLElement* e = metadata->FirstChildElement(); e;) {
    XMLElement* next = e->NextSiblingElement();
    const char* ns = nullptr;
    for (const tinyxml2::XMLAttribute* a = e->FirstAttribute(); a; a = a->Next()) {
      if (std::string_view(a->Name()).substr(0, 6) == "xmlns:" || std::string_view(a->Name()) == "xmlns")
        ns = a->Value();
    }
    if (ns && std::string_view(ns) == kDefinitionNamespace) metadata->DeleteChild(e);
    e = next;
  }
  XMLElement* recovery = metadata->InsertNewChildElement("gdr:recovery");
  recovery->SetAttribute("xmlns:gdr", kDefinitionNamespace);
  for (const auto& d : disks) {
    XMLElement* disk = recovery->InsertNewChildElement("gdr:disk");
    disk->SetAttribute("target", d.target.c_str());
    disk->SetAttribute("volume", d.location.volume.c_str());
    disk->SetAttribute("path", d.location.path.c_str());
    if (!d.format.empty()) disk->SetAttribute("format", d.format.c_str());
  }
}

}  // namespace

RecoveryDefinition recoveryDefinition(std::string_view inactiveXml, const DomainInfo& live, const LocateFn& locate) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(inactiveXml.data(), inactiveXml.size()) != tinyxml2::XML_SUCCESS || !doc.FirstChildElement("domain")) {
    refuse("libvirt returned an inactive definition of " + live.name + " that does not parse");
  }
  XMLElement* domain = doc.FirstChildElement("domain");
  domain->DeleteAttribute("id");  // a live id means nothing at another site
  RecoveryDefinition out;
  XMLElement* devices = domain->FirstChildElement("devices");
  for (XMLElement* d = devices ? devices->FirstChildElement("disk") : nullptr; d; d = d->NextSiblingElement("disk")) {
    const char* device = d->Attribute("device");
    if (device && std::string_view(device) != "disk") continue;  // a cdrom travels as it is
    const XMLElement* targetElement = d->FirstChildElement("target");
    const std::string target = targetElement && targetElement->Attribute("dev") ? targetElement->Attribute("dev") : "";
    const char* type = d->Attribute("type");
    if (!type || std::string_view(type) != "file") {
      refuse("disk " + target + " of " + live.name + " is not a file: only file-backed disks on gluster can travel",
             target);
    }
    const DiskInfo* running = live.disk(target);
    if (!running) refuse("disk " + target + " of " + live.name + " is defined but not in the running VM", target);
    const auto index = baseIndex(*running);
    if (!index)
      refuse("disk " + target + " of " + live.name + " has no base image outside " + volpath::kSnapshotDirName, target);
    DefinitionDisk disk;
    disk.target = target;
    disk.base = running->chain[*index];
    disk.format = *index < running->chainFormats.size() ? running->chainFormats[*index] : "";
    const auto location = locate(disk.base);
    if (!location)
      refuse("disk " + target + " of " + live.name + " (" + disk.base + ") is not on a gluster volume", target);
    disk.location = *location;
    pointAtBase(d, disk);
    out.disks.push_back(disk);
  }
  if (out.disks.empty()) refuse(live.name + " has no file-backed disk to travel with");
  describeDisks(doc, domain, out.disks);
  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  out.xml = printer.CStr();
  return out;
}

std::string definitionPath(const std::string& uuid, const std::string& sha256) {
  return std::string(kDefinitionDir) + "/" + uuid + "-" + sha256.substr(0, 16) + ".xml";
}

bool isDefinitionPath(const std::string& path) {
  static const std::regex pattern(
      "^\\.gdr/vms/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}-[0-9a-f]{16}\\.xml$");
  return path.size() < 100 && std::regex_match(path, pattern);
}

}  // namespace gdr::virt
