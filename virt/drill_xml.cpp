#include "virt/drill_xml.h"

#include <tinyxml2.h>

#include <algorithm>

#include "core/errors.h"

namespace gdr::virt {

namespace {

using tinyxml2::XMLElement;

[[noreturn]] void refuse(const std::string& message) { throw AgentError(Code::DrillFailed, message); }

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
  if (doc.Parse(definitionXml.data(), definitionXml.size()) != tinyxml2::XML_SUCCESS ||
      !doc.FirstChildElement("domain")) {
    refuse("the definition is not a libvirt domain");
  }
  XMLElement* domain = doc.FirstChildElement("domain");
  domain->DeleteAttribute("id");
  setText(doc, domain, "name", spec.name);
  setText(doc, domain, "uuid", spec.uuid);
  XMLElement* devices = domain->FirstChildElement("devices");
  if (!devices) refuse("the definition has no devices");
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

  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  return printer.CStr();
}

}  // namespace gdr::virt
