// qcow2 headers read from images on a volume (anyone who can write the
// volume writes them). A bad header is an AgentError (ImageCorrupt); a
// header that parses never yields a backing name holding a NUL.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/errors.h"
#include "gfapi/qcow2.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto header = gdr::qcow2::parseHeader(bytes);
    if (header && header->backingFile && header->backingFile->find('\0') != std::string::npos) std::abort();
  } catch (const gdr::AgentError&) {
  }
  return 0;
}
