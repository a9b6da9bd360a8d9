#pragma once
// When a brick's changelog last rolled over, and whether a sync may start
// its stopped session yet.
//
// A worker started before every brick rolled past the checkpoint needs its
// live changelog consumer to complete the checkpoint, and a brick can
// leave a new consumer off the list it sends rollover events to (a race in
// gluster's changelog xlator; README, "A geo-rep worker can stall"): the
// worker then stalls. Started after, its history crawl alone reaches the
// checkpoint. Each brick records the changelogs it rolled in its HTIME
// index (<brick>/.glusterfs/changelogs/htime/HTIME.<ts>: the changelogs'
// paths, each ending "CHANGELOG.<rollover time>", NUL-separated); a brick
// of another host is waited for by the rollover interval instead.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gluster/georep_xml.h"

namespace gdr::gluster {

// The rollover time of the last changelog an HTIME index names (its tail
// is enough); nullopt when it names none. Pure.
std::optional<std::int64_t> lastRolledChangelog(std::string_view htimeTail);

// This glusterd's UUID, from its glusterd.info ("UUID=..."). Pure.
std::optional<std::string> glusterdUuid(std::string_view glusterdInfo);

// The volume's changelog.rollover-time (gluster's default 15 s when unset
// or unreadable). Pure.
std::int64_t changelogRolloverSeconds(const std::map<std::string, std::string>& volumeOptions);

struct BrickRollover {
  std::string brick;                       // "node:path"
  std::optional<std::int64_t> lastRolled;  // nullopt: not readable from this host
};

struct RolloverWait {
  bool ready = false;
  std::string why;  // how the wait ended, or what it waits on
};

// Whether every brick rolled a changelog past the checkpoint. A changelog
// named T holds what was written up to T (and a part of the second T), so
// past means after checkpoint + 1. A brick whose index cannot be read, or
// that rolls nothing (no write reached it), is waited for until the
// rollover interval has passed since the checkpoint, with a margin: by then
// it has rolled, if it had anything to roll. An interval over a minute is
// not waited for in full. Pure: the time is passed in.
RolloverWait assessRollover(std::int64_t checkpoint, std::int64_t rolloverSeconds,
                            const std::vector<BrickRollover>& bricks, std::int64_t now);
// The second after which assessRollover no longer waits.
std::int64_t rolloverBound(std::int64_t checkpoint, std::int64_t rolloverSeconds);

// Reads the HTIME index of the bricks this host serves (the worker's node
// UUID is this glusterd's); a brick of another host is nullopt.
class LocalChangelogs {
 public:
  explicit LocalChangelogs(std::string glusterdDir = "/var/lib/glusterd");
  std::optional<std::int64_t> lastRolled(const GeoRepWorker& worker) const;

 private:
  std::optional<std::string> uuid_;
};

}  // namespace gdr::gluster
