#pragma once
// The reports gdr-sync keeps of its cycles (DIR/reports/START-FLOW.json,
// written whole: temp file, then rename), and the history read back.
#include <json/value.h>

#include <cstdint>
#include <string>
#include <vector>

#include "client/cycle.h"

namespace gdr::sync {

// Keeps one cycle's report; returns its path. Throws std::runtime_error.
std::string saveReport(const std::string& stateDir, const Json::Value& report);

// The last `last` cycles' reports, oldest first, one row each: {kind
// ("cycle"), startTime, duration, status, outcome, volume, recoveryPoint,
// vms, alert, report (the file)}. Files that do not parse are skipped.
// The RPO check, the metrics and --if-due read these: a drill or a
// failover is not a cycle.
Json::Value reportHistory(const std::string& stateDir, size_t last);

// The last `last` of everything gdr-sync kept in stateDir, oldest first:
// the cycles', the drills' (stateDir/drills) and the failovers'
// (stateDir/failovers) reports, each row as above with kind "cycle",
// "drill" or "failover" (volume: the secondary for the last two;
// recoveryPoint: the time of the point they used).
Json::Value fullHistory(const std::string& stateDir, size_t last);

// The VMs the newest kept report names, with their hosts: those its cycle
// ran ("vms") and those it could not reach ("unprotected"). Empty without
// a report.
std::vector<SeenVm> lastSeenVms(const std::string& stateDir);

// Whether a cycle is due as of `now`: `interval` has passed since the last
// kept cycle started (less 30 s, the packaged timer's granularity), or none
// has run. `history`: reportHistory()'s rows.
bool cycleDue(const Json::Value& history, std::int64_t now, std::int64_t interval);

// "2026-12-01 21:30:00" (UTC), or another strftime format.
std::string utcStamp(std::int64_t epoch, const char* format = "%Y-%m-%d %H:%M:%S");

}  // namespace gdr::sync
