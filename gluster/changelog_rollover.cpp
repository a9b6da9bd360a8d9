#include "gluster/changelog_rollover.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <sstream>

#include "core/text.h"

namespace gdr::gluster {

namespace {

constexpr std::int64_t kDefaultRolloverSeconds = 15;  // gluster's changelog.rollover-time
constexpr std::int64_t kLongestRolloverWaited = 60;
// The brick's rollover thread wakes every interval; give it this much
// more before a brick that rolled nothing is taken as having nothing.
constexpr std::int64_t kRolloverMargin = 2;

std::optional<std::int64_t> parseSeconds(std::string_view digits) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::int64_t> lastRolledChangelog(std::string_view htimeTail) {
  // Each entry ends with a NUL: what follows the last one is an entry
  // still being written. The tail may begin inside an entry.
  const size_t last = htimeTail.rfind('\0');
  if (last == std::string_view::npos) return std::nullopt;
  size_t end = last;
  while (end > 0) {
    const size_t nul = htimeTail.rfind('\0', end - 1);
    const size_t from = nul == std::string_view::npos ? 0 : nul + 1;
    const std::string_view entry = htimeTail.substr(from, end - from);
    const size_t name = entry.rfind("/CHANGELOG.");
    if (name != std::string_view::npos) {
      if (const auto t = parseSeconds(entry.substr(name + 11))) return t;
    }
    if (nul == std::string_view::npos) break;
    end = nul;
  }
  return std::nullopt;
}

std::optional<std::string> glusterdUuid(std::string_view glusterdInfo) {
  std::istringstream in{std::string(glusterdInfo)};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("UUID=", 0) != 0) continue;
    const std::string uuid = trim(line.substr(5));
    if (!uuid.empty()) return uuid;
  }
  return std::nullopt;
}

std::int64_t changelogRolloverSeconds(const std::map<std::string, std::string>& volumeOptions) {
  const auto it = volumeOptions.find("changelog.rollover-time");
  if (it == volumeOptions.end()) return kDefaultRolloverSeconds;
  const auto value = parseSeconds(trim(it->second));
  return value && *value > 0 ? *value : kDefaultRolloverSeconds;
}

std::int64_t rolloverBound(std::int64_t checkpoint, std::int64_t rolloverSeconds) {
  return checkpoint + std::min(rolloverSeconds, kLongestRolloverWaited) + kRolloverMargin;
}

RolloverWait assessRollover(std::int64_t checkpoint, std::int64_t rolloverSeconds,
                            const std::vector<BrickRollover>& bricks, std::int64_t now) {
  std::string unread, behind;
  for (const auto& b : bricks) {
    if (!b.lastRolled) {
      unread += (unread.empty() ? "" : ", ") + b.brick;
    } else if (*b.lastRolled <= checkpoint + 1) {
      behind += (behind.empty() ? "" : ", ") + b.brick;
    }
  }
  if (bricks.empty()) return {true, "no brick to wait for"};
  if (unread.empty() && behind.empty()) return {true, "every brick rolled a changelog past the checkpoint"};
  const std::int64_t bound = rolloverBound(checkpoint, rolloverSeconds);
  std::string waiting;
  if (!behind.empty()) waiting = "not rolled past the checkpoint yet: " + behind;
  if (!unread.empty()) waiting += (waiting.empty() ? "" : "; ") + std::string("not readable here: ") + unread;
  if (now >= bound) {
    return {true, "the rollover interval (" + std::to_string(rolloverSeconds) + " s) passed; " + waiting};
  }
  return {false, waiting};
}

LocalChangelogs::LocalChangelogs(std::string glusterdDir) {
  uuid_ = glusterdUuid(readFileTail(glusterdDir + "/glusterd.info", 4096));
}

std::optional<std::int64_t> LocalChangelogs::lastRolled(const GeoRepWorker& worker) const {
  if (!uuid_ || worker.primaryNodeUuid != *uuid_ || worker.primaryBrick.empty()) return std::nullopt;
  // A brick keeps one index per time changelogs were enabled: the newest.
  std::error_code ec;
  std::optional<std::int64_t> newest;
  std::filesystem::path index;
  for (const auto& entry :
       std::filesystem::directory_iterator(worker.primaryBrick + "/.glusterfs/changelogs/htime", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("HTIME.", 0) != 0) continue;
    const auto started = parseSeconds(std::string_view(name).substr(6));
    if (started && (!newest || *started > *newest)) {
      newest = started;
      index = entry.path();
    }
  }
  if (!newest) return std::nullopt;
  return lastRolledChangelog(readFileTail(index.string(), 4096));
}

}  // namespace gdr::gluster
