#pragma once
// `gdr-sync check`: the age of the newest recovery point against the
// target RPO, in the monitoring-plugins convention (Nagios, Icinga,
// Sensu): one status line with perfdata, exit 0/1/2/3 for
// OK/WARNING/CRITICAL/UNKNOWN. It reads only the kept reports, so it
// answers while no cycle runs, and when gdr-sync has crashed. Pure.
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gdr::sync {

enum CheckStatus : int { kCheckOk = 0, kCheckWarning = 1, kCheckCritical = 2, kCheckUnknown = 3 };

struct RpoThresholds {
  std::chrono::seconds warning{3600}, critical{7200};
};

struct RpoCheck {
  CheckStatus status = kCheckUnknown;
  std::string line;      // "GDR OK - volume gdr-primary: recovery point 12 min old | rpo=720s;3600;7200;0 ..."
  std::string text;      // "recovery point 12 min old"
  std::string perfdata;  // "rpo=720s;3600;7200;0 failed_cycles=0;;;0"
};

// From reportHistory()'s rows (oldest first) as of `now`: the age of the
// newest successful cycle's recovery point decides (warning, critical at
// or past the thresholds); a last cycle that failed makes it at least a
// WARNING, and CRITICAL when it left VMs on overlays; no cycle at all is
// UNKNOWN, no successful one CRITICAL.
RpoCheck checkRpo(const Json::Value& history, std::int64_t now, const RpoThresholds& thresholds,
                  const std::string& where);

// UNKNOWN: the check itself could not be made ("GDR UNKNOWN - WHERE: WHY").
RpoCheck unknownCheck(const std::string& where, const std::string& why);

// Several domains' checks as one: the worst status (CRITICAL, WARNING,
// UNKNOWN, OK in that order), each domain's text, and its perfdata with
// the domain's name before each label ("vmstore_rpo=720s;...").
// `checks`: (domain, its check); none is UNKNOWN.
RpoCheck combineChecks(const std::vector<std::pair<std::string, RpoCheck>>& checks);

// What a cycle's report says of its RPO ("rpo": {target, age, breached}):
// the age as of `now` of the newest recovery point (this cycle's when it
// succeeded, else the newest success's in `history`, reportHistory()'s
// rows), null when there is none; breached when that is older than
// `target`, or there is none.
Json::Value rpoStatus(const Json::Value& report, const Json::Value& history, std::int64_t now,
                      std::chrono::seconds target);

// "45 s", "12 min", "5 h 3 min", "3 d 4 h".
std::string describeAge(std::int64_t seconds);

}  // namespace gdr::sync
