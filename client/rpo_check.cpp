#include "client/rpo_check.h"

#include <algorithm>

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

std::string line(CheckStatus status, const std::string& subject, const std::string& text, const std::string& perf) {
  return std::string("GDR ") + statusName(status) + " - " + subject + ": " + text + (perf.empty() ? "" : " | " + perf);
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
  RpoCheck out;
  if (!history.isArray() || history.empty()) {
    out.status = kCheckUnknown;
    out.line = line(out.status, where, "no DR cycle has run (no report kept)", "");
    return out;
  }
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
    out.status = kCheckCritical;
    text = "no recovery point: no kept report is of a successful DR cycle";
    if (last.isMember("alert")) text += " (last: " + last["alert"].asString() + ")";
    out.line = line(out.status, where, text, failedPerf);
    return out;
  }
  const std::int64_t age = now - (*success)["recoveryPoint"].asInt64();
  out.status = age >= thresholds.critical.count()  ? kCheckCritical
               : age >= thresholds.warning.count() ? kCheckWarning
                                                   : kCheckOk;
  text = "recovery point " + describeAge(age) + " old";
  if (failedSince > 0) {
    text +=
        "; the last " + (failedSince == 1 ? std::string("cycle") : std::to_string(failedSince) + " cycles") + " failed";
    if (last.isMember("alert")) text += ": " + last["alert"].asString();
    const bool vmsLeftOnOverlays = last["outcome"].isIntegral() && last["outcome"].asInt() == kMergeBackFailed;
    out.status = std::max(out.status, vmsLeftOnOverlays ? kCheckCritical : kCheckWarning);
  }
  out.line =
      line(out.status, where, text,
           "rpo=" + std::to_string(std::max<std::int64_t>(age, 0)) + "s;" + warn + ";" + crit + ";0 " + failedPerf);
  return out;
}

}  // namespace gdr::sync
