#pragma once
// gdr-sync's metrics in Prometheus' text format, for node_exporter's
// textfile collector (written whole after each cycle: temp file, rename).
// Pure: made from the cycle's report and the kept history.
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace gdr::sync {

// The metrics after the cycle `report` (gdr-sync's report), given the kept
// history (reportHistory()'s rows, oldest first) as
// of `now`. Every series carries volume="PRIMARY".
//   gdr_cycle_last_run_timestamp_seconds, gdr_cycle_last_success_timestamp_seconds,
//   gdr_cycle_outcome (gdr-sync's exit code), gdr_cycle_success (1 or 0),
//   gdr_cycle_duration_seconds and gdr_cycle_step_duration_seconds{step},
//   gdr_recovery_point_timestamp_seconds and gdr_recovery_point_age_seconds
//     (the newest successful cycle's point; absent when there is none),
//   gdr_rpo_target_seconds (the target RPO),
//   gdr_verified_bytes, gdr_repaired_pieces (marked for resync),
//   gdr_vms{state="protected"|"unprotected"}.
std::string cycleMetrics(const Json::Value& report, const Json::Value& history, std::int64_t now,
                         std::chrono::seconds targetRpo);

// A label value as the text format wants it: backslash, double quote and
// newline escaped.
std::string escapeLabel(const std::string& value);

}  // namespace gdr::sync
