#include "client/rpo_check.h"

#include <algorithm>
#include <sstream>

#include "client/cycle.h"

namespace gdr::sync {

namespace {

const char* statusName(CheckStatus s) {
  switch (s) {
    case kCheckOk:
      return "OK";
    case kCheckWarning:
      return "WARNING";
    case kCheckCritical:
      return "CRITICAL";
    default:
      return "UNKNOWN";
  }
}

RpoCheck finish(CheckStatus status, const std::string& subject, const std::string& text, const std::string& perf) {
  RpoCheck out;
  out.status = status;
  out.text = text;
  out.perfdata = perf;
  out.line =
      std::string("GDR ") + statusName(status) + " - " + subject + ": " + text + (perf.empty() ? "" : " | " + perf);
  return out;
}

// Worse first: CRITICAL, WARNING, UNKNOWN, OK.
int severity(CheckStatus s) {
  switch (s) {
    case kCheckCritical:
      return 3;
    case kCheckWarning:
      return 2;
    case kCheckUnknown:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

std::string describeAge(std::int64_t seconds) {
  seconds = std::max<std::int64_t>(seconds, 0);
  if (seconds < 120) return std::to_string(seconds) + " s";
  const std::int64_t minutes = seconds / 60;
  if (minutes < 120) return std::to_string(minutes) + " min";
  const std::int64_t hours = minutes / 60;
  if (hours < 48) return std::to_string(hours) + " h " + std::to_string(minutes % 60) + " min";
  return std::to_string(hours / 24) + " d " + std::to_string(hours % 24) + " h";
}

RpoCheck checkRpo(const Json::Value& history, std::int64_t now, const RpoThresholds& thresholds,
                  const std::string& where) {
  if (!history.isArray() || history.empty())
    return finish(kCheckUnknown, where, "no DR cycle has run (no report kept)", "");
  const Json::Value& last = history[history.size() - 1];
  int failedSince = 0;
  const Json::Value* success = nullptr;
  for (Json::ArrayIndex i = history.size(); i-- > 0;) {
    if (history[i]["status"] == "success") {
      success = &history[i];
      break;
    }
    ++failedSince;
  }
  const std::string warn = std::to_string(thresholds.warning.count());
  const std::string crit = std::to_string(thresholds.critical.count());
  const std::string failedPerf = "failed_cycles=" + std::to_string(failedSince) + ";;;0";
  std::string text;
  if (!success || !(*success)["recoveryPoint"].isIntegral()) {
    text = "no recovery point: no kept report is of a successful DR cycle";
    if (last.isMember("alert")) text += " (last: " + last["alert"].asString() + ")";
    return finish(kCheckCritical, where, text, failedPerf);
  }
  const std::int64_t age = now - (*success)["recoveryPoint"].asInt64();
  CheckStatus status = age >= thresholds.critical.count()  ? kCheckCritical
                       : age >= thresholds.warning.count() ? kCheckWarning
                                                           : kCheckOk;
  text = "recovery point " + describeAge(age) + " old";
  if (failedSince > 0) {
    text +=
        "; the last " + (failedSince == 1 ? std::string("cycle") : std::to_string(failedSince) + " cycles") + " failed";
    if (last.isMember("alert")) text += ": " + last["alert"].asString();
    const bool vmsLeftOnOverlays = last["outcome"].isIntegral() && last["outcome"].asInt() == kMergeBackFailed;
    status = std::max(status, vmsLeftOnOverlays ? kCheckCritical : kCheckWarning);
  }
  return finish(
      status, where, text,
      "rpo=" + std::to_string(std::max<std::int64_t>(age, 0)) + "s;" + warn + ";" + crit + ";0 " + failedPerf);
}

RpoCheck unknownCheck(const std::string& where, const std::string& why) {
  return finish(kCheckUnknown, where, why, "");
}

RpoCheck combineChecks(const std::vector<std::pair<std::string, RpoCheck>>& checks) {
  if (checks.empty()) return finish(kCheckUnknown, "no domain", "none is configured", "");
  CheckStatus worst = checks.front().second.status;
  std::string text, perf;
  for (const auto& [domain, check] : checks) {
    if (severity(check.status) > severity(worst)) worst = check.status;
    text += (text.empty() ? "" : "; ") + domain + " " + statusName(check.status) + " (" + check.text + ")";
    std::string item;
    std::istringstream items(check.perfdata);
    while (items >> item) perf += (perf.empty() ? "" : " ") + domain + "_" + item;
  }
  return finish(worst, std::to_string(checks.size()) + " domains", text, perf);
}

Json::Value rpoStatus(const Json::Value& report, const Json::Value& history, std::int64_t now,
                      std::chrono::seconds target) {
  Json::Value point;
  if (report["status"] == "success" && report["recoveryPoint"].isIntegral()) {
    point = report["recoveryPoint"];
  } else if (history.isArray()) {
    for (Json::ArrayIndex i = history.size(); i-- > 0;) {
      if (history[i]["status"] == "success" && history[i]["recoveryPoint"].isIntegral()) {
        point = history[i]["recoveryPoint"];
        break;
      }
    }
  }
  Json::Value out(Json::objectValue);
  out["target"] = Json::Int64(target.count());
  out["point"] = point;
  out["age"] =
      point.isNull() ? Json::Value() : Json::Value(Json::Int64(std::max<std::int64_t>(now - point.asInt64(), 0)));
  out["breached"] = point.isNull() || out["age"].asInt64() > target.count();
  return out;
}

}  // namespace gdr::sync
