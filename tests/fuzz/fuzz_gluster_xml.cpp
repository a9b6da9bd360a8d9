// The gluster CLI's --xml output, as the agent parses it: the envelope,
// geo-replication status and config, volume options. Malformed output is
// an AgentError (GlusterCliBadOutput); anything else escaping is a defect.
#include <cstdint>
#include <string_view>

#include "core/errors.h"
#include "gluster/georep_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  using namespace gdr::gluster;
  try {
    parseCliStatus(xml);
  } catch (const gdr::AgentError&) {
  }
  try {
    for (const auto& session : parseGeoRepStatus(xml)) {
      for (const auto& worker : session.workers) normalizeStatus(worker.status);
    }
  } catch (const gdr::AgentError&) {
  }
  try {
    parseGeoRepConfig(xml);
  } catch (const gdr::AgentError&) {
  }
  try {
    geoRepOptionWarnings(parseVolumeOptions(xml));
  } catch (const gdr::AgentError&) {
  }
  parseGlusterTime(std::string(xml.substr(0, 64)));
  return 0;
}
