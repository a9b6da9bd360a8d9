#include "client/merge_pace.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>

namespace gdr::sync {

std::optional<std::int64_t> overlayStamp(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  // The last part between dots shaped YYYYMMDDTHHMMSSZ, the first part (the
  // disk's own name) aside.
  std::optional<std::int64_t> found;
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
    const size_t end = name.find('.', dot + 1);
    const std::string part = name.substr(dot + 1, end == std::string::npos ? std::string::npos : end - dot - 1);
    if (part.size() != 16 || part[8] != 'T' || part[15] != 'Z') continue;
    if (!std::all_of(part.begin(), part.begin() + 8, ::isdigit) ||
        !std::all_of(part.begin() + 9, part.begin() + 15, ::isdigit)) {
      continue;
    }
    std::tm tm{};
    tm.tm_year = std::stoi(part.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(part.substr(4, 2)) - 1;
    tm.tm_mday = std::stoi(part.substr(6, 2));
    tm.tm_hour = std::stoi(part.substr(9, 2));
    tm.tm_min = std::stoi(part.substr(11, 2));
    tm.tm_sec = std::stoi(part.substr(13, 2));
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
      continue;
    }
    found = static_cast<std::int64_t>(timegm(&tm));
  }
  return found;
}

unsigned pacedMergeBandwidth(std::uint64_t bytes, double writingSeconds) {
  const double rateMiB = double(bytes) / double(1 << 20) / std::max(1.0, writingSeconds);
  const double paced = std::ceil(rateMiB * kMergePaceFactor);
  return paced < kMergePaceMinMiB ? kMergePaceMinMiB : paced > 999999 ? 999999u : unsigned(paced);
}

}  // namespace gdr::sync
