#include "client/metrics.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace gdr::sync {

namespace {

// One metric family: its HELP and TYPE lines once, then its samples.
class Family {
 public:
  Family(std::ostringstream& out, const std::string& name, const std::string& help) : out_(out), name_(name) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n";
  }
  void sample(const std::string& labels, double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out_ << name_ << '{' << labels << "} " << number << '\n';
  }

 private:
  std::ostringstream& out_;
  std::string name_;
};

double number(const Json::Value& v) { return v.isNumeric() ? v.asDouble() : 0; }

}  // namespace

std::string escapeLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string cycleMetrics(const Json::Value& report, const Json::Value& history, std::int64_t now,
                         std::chrono::seconds targetRpo) {
  std::ostringstream out;
  const std::string volume = "volume=\"" + escapeLabel(report["volume"].asString()) + "\"";
  const bool success = report["status"] == "success";

  Family(out, "gdr_cycle_last_run_timestamp_seconds", "When the last DR cycle started (Unix time).")
      .sample(volume, number(report["startTime"]));
  const Json::Value* lastSuccess = success ? &report : nullptr;
  for (Json::ArrayIndex i = history.isArray() ? history.size() : 0; !lastSuccess && i-- > 0;) {
    if (history[i]["status"] == "success") lastSuccess = &history[i];
  }
  if (lastSuccess) {
    Family(out, "gdr_cycle_last_success_timestamp_seconds", "When the last successful DR cycle started (Unix time).")
        .sample(volume, number((*lastSuccess)["startTime"]));
  }
  Family(out, "gdr_cycle_success", "1 when the last DR cycle succeeded, 0 when it failed.")
      .sample(volume, success ? 1 : 0);
  Family(out, "gdr_cycle_outcome",
         "gdr-sync's exit code for the last DR cycle: 0 success, 1 failed and merged back, 3 failed before any "
         "snapshot, 4 VMs left on overlays, 5 some host did not answer (its VMs unprotected).")
      .sample(volume, number(report["outcome"]));
  Family(out, "gdr_cycle_duration_seconds", "How long the last DR cycle took.")
      .sample(volume, number(report["duration"]));
  Family steps(out, "gdr_cycle_step_duration_seconds", "How long each step of the last DR cycle took.");
  for (const auto& s : report["steps"]) {
    steps.sample(volume + ",step=\"" + escapeLabel(s["step"].asString()) + "\"", number(s["duration"]));
  }

  // The recovery point: this cycle's when it succeeded, else the newest
  // successful one kept.
  if (lastSuccess && (*lastSuccess)["recoveryPoint"].isIntegral()) {
    const std::int64_t point = (*lastSuccess)["recoveryPoint"].asInt64();
    Family(out, "gdr_recovery_point_timestamp_seconds",
           "The newest recovery point: the snapshot time of the last successful DR cycle (Unix time).")
        .sample(volume, double(point));
    Family(out, "gdr_recovery_point_age_seconds",
           "How old the newest recovery point was when these metrics were written (time() minus "
           "gdr_recovery_point_timestamp_seconds is its age now).")
        .sample(volume, double(std::max<std::int64_t>(now - point, 0)));
  }

  Family(out, "gdr_rpo_target_seconds", "The target RPO: how old the newest recovery point may grow.")
      .sample(volume, double(targetRpo.count()));

  double verified = 0, repaired = 0, protectedVms = 0, unprotectedVms = 0;
  for (const auto& vm : report["vms"]) {
    for (const auto& drive : vm["secondary"]) {
      for (const auto& image : drive) verified += number(image["verifiedBytes"]);
    }
    const bool snapshotted = vm["snapshot"]["status"] == "ok";
    // Protected: every disk in the cycle and frozen; a VM with disks
    // elsewhere, or whose snapshot failed, is not.
    (snapshotted && !vm.isMember("note") ? protectedVms : unprotectedVms) += 1;
  }
  unprotectedVms += report["unprotected"].size();  // on hosts that did not answer
  for (const auto& s : report["steps"]) {
    if (s["step"] != "verify") continue;
    for (const auto& marked : s["resync"]) repaired += number(marked);
  }
  Family(out, "gdr_verified_bytes", "Bytes compared on both sites by the last DR cycle's verification.")
      .sample(volume, verified);
  Family(out, "gdr_repaired_pieces",
         "Pieces (shards) the last DR cycle found missing or held under another gluster id on the secondary, "
         "and had geo-replication send again.")
      .sample(volume, repaired);
  Family vms(out, "gdr_vms", "VMs in the last DR cycle, protected (every disk frozen) or not (also those of hosts that did not answer).");
  vms.sample(volume + ",state=\"protected\"", protectedVms);
  vms.sample(volume + ",state=\"unprotected\"", unprotectedVms);
  return out.str();
}

}  // namespace gdr::sync
