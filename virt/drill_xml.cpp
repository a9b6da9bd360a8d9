#include "virt/drill_xml.h"

#include <tinyxml2.h>

#include <algorithm>

#include "core/errors.h"

namespace gdr::virt {

namespace {

using tinyxml2::XMLElement;

[[noreturn]] void refuse(const std::string& message, Code code = Code::DrillFailed) { throw AgentError(code, message); }

tinyxml2::XMLElement* parseDomain(tinyxml2::XMLDocument& doc, std::string_view xml, Code code) {
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS || !doc.FirstChildElement("domain")) {
    refuse("the definition is not a libvirt domain", code);
  }
  tinyxml2::XMLElement* domain = doc.FirstChildElement("domain");
  if (!domain->FirstChildElement("devices")) refuse("the definition has no devices", code);
  return domain;
}

std::string printed(tinyxml2::XMLDocument& doc) {
  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  return printer.CStr();
}

void setText(tinyxml2::XMLDocument& doc, XMLElement* domain, const char* element, const std::string& text) {
  XMLElement* e = domain->FirstChildElement(element);
  if (!e) e = domain->InsertNewChildElement(element);
  e->DeleteChildren();
  e->InsertEndChild(doc.NewText(text.c_str()));
}

void removeAll(XMLElement* parent, const char* name) {
  while (XMLElement* e = parent->FirstChildElement(name)) parent->DeleteChild(e);
}

// <backingStore type='file'><format type=F/><source file=P/> ... <backingStore/></backingStore>:
// the chain spelled out, ending with the empty element that tells libvirt
// there is nothing under the base.
void describeChain(tinyxml2::XMLDocument& doc, XMLElement* disk, const std::vector<ChainImage>& chain) {
  XMLElement* parent = disk;
  for (const auto& image : chain) {
    XMLElement* store = doc.NewElement("backingStore");
    store->SetAttribute("type", "file");
    XMLElement* format = store->InsertNewChildElement("format");
    format->SetAttribute("type", image.format.c_str());
    XMLElement* source = store->InsertNewChildElement("source");
    source->SetAttribute("file", image.path.c_str());
    parent->InsertEndChild(store);
    parent = store;
  }
  parent->InsertEndChild(doc.NewElement("backingStore"));
}

void onOverlay(tinyxml2::XMLDocument& doc, XMLElement* disk, const DrillDisk& spec) {
  removeAll(disk, "backingStore");
  XMLElement* source = disk->FirstChildElement("source");
  if (!source) source = disk->InsertNewChildElement("source");
  source->DeleteAttribute("index");
  source->SetAttribute("file", spec.overlay.c_str());
  disk->SetAttribute("type", "file");
  XMLElement* driver = disk->FirstChildElement("driver");
  if (!driver) {
    driver = disk->InsertNewChildElement("driver");
    driver->SetAttribute("name", "qemu");
  }
  driver->SetAttribute("type", "qcow2");
  describeChain(doc, disk, spec.chain);
}

std::string targetOf(XMLElement* disk) {
  XMLElement* target = disk->FirstChildElement("target");
  const char* dev = target ? target->Attribute("dev") : nullptr;
  return dev ? dev : "";
}

}  // namespace

std::string drillDomainXml(std::string_view definitionXml, const DrillDomainSpec& spec,
                           std::vector<std::string>* leftOut) {
  tinyxml2::XMLDocument doc;
  XMLElement* domain = parseDomain(doc, definitionXml, Code::DrillFailed);
  domain->DeleteAttribute("id");
  setText(doc, domain, "name", spec.name);
  setText(doc, domain, "uuid", spec.uuid);
  XMLElement* devices = domain->FirstChildElement("devices");
  // Nothing of the host's beyond the images: no NIC, no passed-through or
  // redirected device, no shared host directory or memory, no emulator or
  // command line of the definition's choosing (libvirt's own emulator runs).
  for (const char* device : {"interface", "hostdev", "redirdev", "filesystem", "shmem", "smartcard", "emulator"}) {
    removeAll(devices, device);
  }
  for (const char* qemuOwn : {"qemu:commandline", "qemu:capabilities", "qemu:override", "qemu:deprecation"}) {
    removeAll(domain, qemuOwn);
  }

  std::vector<std::string> found;
  for (XMLElement* disk = devices->FirstChildElement("disk"); disk;) {
    XMLElement* next = disk->NextSiblingElement("disk");
    const std::string target = targetOf(disk);
    const auto it = std::find_if(spec.disks.begin(), spec.disks.end(),
                                 [&](const DrillDisk& d) { return d.target == target; });
    if (it == spec.disks.end()) {
      if (leftOut) leftOut->push_back(target);
      devices->DeleteChild(disk);
    } else {
      onOverlay(doc, disk, *it);
      found.push_back(target);
    }
    disk = next;
  }
  for (const auto& d : spec.disks) {
    if (std::find(found.begin(), found.end(), d.target) == found.end()) {
      refuse("the definition has no disk " + d.target);
    }
  }

  for (const char* kind : {"serial", "console"}) {
    for (XMLElement* port = devices->FirstChildElement(kind); port; port = port->NextSiblingElement(kind)) {
      const char* type = port->Attribute("type");
      XMLElement* source = port->FirstChildElement("source");
      if (!type || std::string_view(type) != "file" || !source) continue;
      // One file for both: a console on the first serial port is that port.
      source->SetAttribute("path", (spec.consoleDir + "/" + spec.name + ".console").c_str());
    }
  }

  return printed(doc);
}

std::optional<std::string> mapPath(const std::map<std::string, std::string>& paths, const std::string& path) {
  const std::pair<const std::string, std::string>* best = nullptr;
  for (const auto& entry : paths) {
    if (path.compare(0, entry.first.size(), entry.first) == 0 && (!best || entry.first.size() > best->first.size())) {
      best = &entry;
    }
  }
  if (!best) return std::nullopt;
  return best->second + path.substr(best->first.size());
}

namespace {

void mapAttribute(XMLElement* e, const char* attribute, const std::map<std::string, std::string>& paths) {
  if (!e) return;
  const char* value = e->Attribute(attribute);
  if (!value) return;
  if (auto mapped = mapPath(paths, value)) e->SetAttribute(attribute, mapped->c_str());
}

void mapText(tinyxml2::XMLDocument& doc, XMLElement* e, const std::map<std::string, std::string>& paths) {
  if (!e || !e->GetText()) return;
  if (auto mapped = mapPath(paths, e->GetText())) {
    e->DeleteChildren();
    e->InsertEndChild(doc.NewText(mapped->c_str()));
  }
}

}  // namespace

std::string failoverDomainXml(std::string_view definitionXml, const FailoverDomainSpec& spec,
                              std::vector<std::string>* leftOut) {
  tinyxml2::XMLDocument doc;
  XMLElement* domain = parseDomain(doc, definitionXml, Code::FailoverFailed);
  domain->DeleteAttribute("id");
  XMLElement* devices = domain->FirstChildElement("devices");
  removeAll(devices, "emulator");

  if (XMLElement* os = domain->FirstChildElement("os")) {
    for (const char* file : {"kernel", "initrd", "dtb", "loader"}) mapText(doc, os->FirstChildElement(file), spec.paths);
    XMLElement* nvram = os->FirstChildElement("nvram");
    mapText(doc, nvram, spec.paths);
    mapAttribute(nvram, "template", spec.paths);
  }

  std::vector<std::string> found;
  for (XMLElement* disk = devices->FirstChildElement("disk"); disk;) {
    XMLElement* next = disk->NextSiblingElement("disk");
    const std::string target = targetOf(disk);
    const auto it = std::find_if(spec.disks.begin(), spec.disks.end(),
                                 [&](const DrillDisk& d) { return d.target == target; });
    if (it != spec.disks.end()) {
      onOverlay(doc, disk, *it);
      found.push_back(target);
    } else {
      // Not in the point: kept only when its file maps to the secondary's
      // (an ISO library, say); an empty CD-ROM drive stays as it is.
      XMLElement* source = disk->FirstChildElement("source");
      const char* file = source ? source->Attribute("file") : nullptr;
      const std::optional<std::string> mapped = file ? mapPath(spec.paths, file) : std::nullopt;
      if (source && !mapped) {
        if (leftOut) leftOut->push_back(target);
        devices->DeleteChild(disk);
      } else if (mapped) {
        removeAll(disk, "backingStore");
        source->SetAttribute("file", mapped->c_str());
      }
    }
    disk = next;
  }
  for (const auto& d : spec.disks) {
    if (std::find(found.begin(), found.end(), d.target) == found.end()) {
      refuse("the definition has no disk " + d.target, Code::FailoverFailed);
    }
  }

  for (XMLElement* nic = devices->FirstChildElement("interface"); nic; nic = nic->NextSiblingElement("interface")) {
    XMLElement* source = nic->FirstChildElement("source");
    if (!source) continue;
    for (const auto& [attribute, names] : {std::pair<const char*, const std::map<std::string, std::string>*>{
                                               "network", &spec.networks},
                                           {"bridge", &spec.bridges}}) {
      const char* name = source->Attribute(attribute);
      if (!name) continue;
      const auto mapped = names->find(name);
      if (mapped != names->end()) source->SetAttribute(attribute, mapped->second.c_str());
    }
  }
  for (const char* kind : {"serial", "console", "parallel", "channel"}) {
    for (XMLElement* port = devices->FirstChildElement(kind); port; port = port->NextSiblingElement(kind)) {
      const char* type = port->Attribute("type");
      if (type && std::string_view(type) == "file") mapAttribute(port->FirstChildElement("source"), "path", spec.paths);
    }
  }
  return printed(doc);
}

}  // namespace gdr::virt
