// Domain XML as libvirt returns it: the disks, their chains and jobs that
// gdr plans snapshots and merges from. Bad XML is an AgentError.
#include <cstdint>
#include <string_view>

#include "core/errors.h"
#include "virt/domain_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  try {
    gdr::virt::parseDomainXml(xml);
  } catch (const gdr::AgentError&) {
  }
  return 0;
}
