#include "client/merge_pace.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>

namespace gdr::sync {

std::optional<std::int64_t> overlayStamp(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  // The last part between dots that is a whole YYYYMMDDTHHMMSSZ (the format
  // the agent names overlays with), the first part (the disk's own name)
  // aside.
  std::optional<std::int64_t> found;
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
    const std::string part = name.substr(dot + 1, name.find('.', dot + 1) - dot - 1);
    std::tm tm{};
    const char* end = part.size() == 16 && std::isdigit(static_cast<unsigned char>(part[0]))
                          ? strptime(part.c_str(), "%Y%m%dT%H%M%SZ", &tm)
                          : nullptr;
    if (end == part.c_str() + part.size()) found = static_cast<std::int64_t>(timegm(&tm));
  }
  return found;
}

std::optional<unsigned> pacedMergeBandwidth(std::uint64_t bytes, double writingSeconds) {
  if (bytes == 0) return std::nullopt;
  const double paced = std::ceil(double(bytes) / double(1 << 20) / std::max(1.0, writingSeconds) * kMergePaceFactor);
  return paced < kMergePaceMinMiB ? kMergePaceMinMiB : paced > 999999 ? 999999u : unsigned(paced);
}

}  // namespace gdr::sync
