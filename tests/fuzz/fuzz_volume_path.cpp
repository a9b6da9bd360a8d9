// Volume-relative paths from callers and backing names from images. A path
// that splits joins back to itself, has no "." or ".." component, and the
// prefix and backing checks never throw on what split accepted.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/errors.h"
#include "gfapi/volume_path.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  // The input is "path\nbacking": both halves come from outside.
  const size_t cut = input.find('\n');
  const std::string path = input.substr(0, cut);
  const std::string backing = cut == std::string::npos ? std::string() : input.substr(cut + 1);
  using namespace gdr::volpath;
  try {
    const Components parts = split(path);
    if (join(parts) != path) std::abort();
    for (const auto& part : parts) {
      if (part.empty() || part == "." || part == ".." || part.find('/') != std::string::npos) std::abort();
    }
    insideAllowedPrefix(parts, {});
    insideAllowedPrefix(parts, {"images", "a/b"});
    const Components dir(parts.begin(), parts.end() - 1);
    backingDesignates(backing, dir, parts);
  } catch (const gdr::AgentError& e) {
    if (e.code() != gdr::Code::PathRejected) std::abort();
  }
  return 0;
}
