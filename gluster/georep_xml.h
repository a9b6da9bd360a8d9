#pragma once
// Parsers for the gluster CLI's --xml output about geo-replication: pure
// functions from text to plain structs, tested on recorded output. Both
// gluster 10's tags (primary_*, secondary_*) and the older ones (master_*,
// slave_*) are accepted. Gluster prints times in UTC.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gdr::gluster {

// The envelope every --xml answer has.
struct CliStatus {
  int opRet = 0;
  int opErrno = 0;
  std::string opErrstr;
};

struct GeoRepWorker {
  std::string primaryNode, primaryNodeUuid, primaryBrick;
  std::string secondaryUser, secondary, secondaryNode;
  std::string status;       // Active, Passive, Faulty, Created, Stopped, Initializing..., Offline, Paused
  std::string crawlStatus;  // Changelog Crawl, History Crawl, Hybrid Crawl, N/A
  std::optional<std::int64_t> entry, data, meta, failures;  // nullopt for N/A
  std::string checkpointCompleted;                          // Yes, No, N/A
  std::optional<std::int64_t> lastSynced;                   // seconds since the epoch (UTC)
  std::optional<std::int64_t> checkpointTime;
  std::optional<std::int64_t> checkpointCompletionTime;
};

struct GeoRepSession {
  std::string primaryVolume;
  std::string sessionKey;     // PRIMARY_UUID:ssh://HOST::VOLUME:SECONDARY_UUID
  std::string secondaryHost;  // from the key or the workers
  std::string secondaryVolume;
  std::string secondaryUser;
  std::vector<GeoRepWorker> workers;
};

// geoRepSessionList's filters (VDSM's): each one given must match.
struct SessionFilter {
  std::optional<std::string> primaryVolume, secondaryHost, secondaryVolume, secondaryUser;
};
std::vector<GeoRepSession> filterSessions(std::vector<GeoRepSession> sessions, const SessionFilter& filter);

// Throws AgentError(GlusterCliBadOutput) when `xml` is not a cliOutput document.
CliStatus parseCliStatus(std::string_view xml);
// The sessions of a "volume geo-replication [...] status [detail] --xml".
std::vector<GeoRepSession> parseGeoRepStatus(std::string_view xml);
// The options of "volume geo-replication P S config --xml".
std::map<std::string, std::string> parseGeoRepConfig(std::string_view xml);

// The reconfigured options of the first volume of "volume info VOL --xml"
// (options left at their defaults are not listed).
std::map<std::string, std::string> parseVolumeOptions(std::string_view xml);

// The hosts of every brick of every volume in "volume info --xml", once
// each, in order of appearance ("host" of "host:/brick/path").
std::vector<std::string> parseBrickHosts(std::string_view xml);

// What a primary volume's options put at risk in geo-replication, one
// sentence each; empty when nothing. Pure.
std::vector<std::string> geoRepOptionWarnings(const std::map<std::string, std::string>& primaryOptions);

// "2026-11-23 02:33:06" (UTC) -> seconds since the epoch; nullopt for N/A.
std::optional<std::int64_t> parseGlusterTime(const std::string& text);

// A worker's status, normalized: "Initializing..." -> "Initializing".
std::string normalizeStatus(const std::string& status);

}  // namespace gdr::gluster
