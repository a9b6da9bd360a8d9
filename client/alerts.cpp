#include "client/alerts.h"

#include <curl/curl.h>
#include <syslog.h>

#include <memory>
#include <stdexcept>
#include <thread>

#include "client/cycle.h"
#include "client/report_store.h"
#include "client/rpo_check.h"
#include "core/json_util.h"
#include "core/process.h"

namespace gdr::sync {

namespace {

// One line of at most `max` characters: a header or a syslog line cannot
// carry a newline from an error message.
std::string oneLine(const std::string& text, size_t max = 400) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return out;
}

bool isSuccess(const Json::Value& report) { return report["status"] == "success" && !report.isMember("alert"); }

bool rpoBreached(const Json::Value& report) { return report["rpo"]["breached"].asBool(); }

// Who the cycle was for: its storage domain, else its volume.
std::string subjectName(const Json::Value& report) {
  return oneLine(report["domain"].isString() ? report["domain"].asString() : report["volume"].asString(), 100);
}

// "recovery point 2 h 5 min old, target 2 h 0 min" or "no recovery point, target 1 h 0 min".
std::string rpoText(const Json::Value& report) {
  const Json::Value& rpo = report["rpo"];
  const std::string target = ", target " + describeAge(rpo["target"].asInt64());
  return rpo["age"].isIntegral() ? "recovery point " + describeAge(rpo["age"].asInt64()) + " old" + target
                                 : "no recovery point" + target;
}

std::string recoveryPointText(const Json::Value& report) {
  return report["recoveryPoint"].isIntegral() ? utcStamp(report["recoveryPoint"].asInt64()) + " UTC" : "none";
}

std::string tail(const std::string& text) { return oneLine(text.size() > 300 ? text.substr(text.size() - 300) : text); }

}  // namespace

bool shouldDeliver(const Json::Value& report, const AlertTargets& targets) {
  if (!targets.any() || report["dryRun"].asBool()) return false;
  return targets.everyCycle || !isSuccess(report) || rpoBreached(report);
}

std::string alertSubject(const Json::Value& report) {
  const std::string name = subjectName(report);
  if (isSuccess(report) && rpoBreached(report)) return "gdr RPO BREACH " + name + ": " + rpoText(report);
  if (isSuccess(report)) {
    return "gdr OK " + name + ": " + std::to_string(report["vms"].size()) + " VMs, recovery point " +
           recoveryPointText(report);
  }
  return oneLine("gdr ALERT " + name + ": " + report.get("alert", "the cycle failed").asString(), 200);
}

std::vector<std::string> hookEnvironment(const Json::Value& report) {
  return {
      "GDR_STATUS=" + report["status"].asString(),
      "GDR_OUTCOME=" + std::to_string(report["outcome"].asInt()),
      "GDR_VOLUME=" + oneLine(report["volume"].asString(), 200),
      "GDR_FLOW_ID=" + oneLine(report["flowId"].asString(), 100),
      "GDR_RECOVERY_POINT=" + (report["recoveryPoint"].isIntegral() ? report["recoveryPoint"].asString() : ""),
      "GDR_ALERT=" + oneLine(report.get("alert", "").asString(), 2000),
      "GDR_SUBJECT=" + alertSubject(report),
      "GDR_DOMAIN=" + oneLine(report.get("domain", "").asString(), 100),
      "GDR_RPO_AGE=" + (report["rpo"]["age"].isIntegral() ? report["rpo"]["age"].asString() : ""),
      "GDR_RPO_TARGET=" + (report["rpo"]["target"].isIntegral() ? report["rpo"]["target"].asString() : ""),
      "GDR_RPO_BREACHED=" + std::string(rpoBreached(report) ? "1" : "0"),
  };
}

std::string mailMessage(const Json::Value& report, const std::vector<std::string>& to) {
  std::string list;
  for (const auto& address : to) list += (list.empty() ? "" : ", ") + oneLine(address, 200);
  std::string body = "To: " + list + "\n";
  body += "Subject: " + alertSubject(report) + "\n";
  body += "Auto-Submitted: auto-generated\n";
  body += "Content-Type: text/plain; charset=utf-8\n";
  body += "X-GDR-Flow-Id: " + oneLine(report["flowId"].asString(), 100) + "\n\n";
  body += "DR cycle " + report["flowId"].asString() + " of volume " + report["volume"].asString() + " to " +
          report["secondary"].asString() + ": " + report["status"].asString() + " (exit code " +
          std::to_string(report["outcome"].asInt()) + ")\n";
  if (report.isMember("alert")) body += "Alert: " + report["alert"].asString() + "\n";
  body += "Recovery point: " + recoveryPointText(report) + "\n";
  if (report["rpo"].isObject()) {
    body += "RPO: " + rpoText(report) + (rpoBreached(report) ? " (BREACHED)" : "") + "\n";
  }
  for (const auto& s : report["steps"]) {
    body += "  " + s["step"].asString() + ": " + s["status"].asString();
    if (s.isMember("error")) body += ": " + oneLine(s["error"].asString(), 1000);
    body += "\n";
  }
  body += "\nThe report:\n" + json::pretty(report) + "\n";
  return body;
}

int syslogPriority(const Json::Value& report) {
  if (isSuccess(report)) return rpoBreached(report) ? LOG_ERR : LOG_NOTICE;
  return report["outcome"].isIntegral() && report["outcome"].asInt() == kMergeBackFailed ? LOG_CRIT : LOG_ERR;
}

std::string syslogLine(const Json::Value& report) {
  const char* id = !isSuccess(report) ? "GDR_CYCLE_FAILED" : rpoBreached(report) ? "GDR_RPO_BREACHED" : "GDR_CYCLE_OK";
  return std::string(id) + " volume=" + oneLine(report["volume"].asString(), 100) +
         " flow=" + oneLine(report["flowId"].asString(), 100) +
         " outcome=" + std::to_string(report["outcome"].asInt()) +
         " point=" + (report["recoveryPoint"].isIntegral() ? report["recoveryPoint"].asString() : "none") + ": " +
         alertSubject(report);
}

std::vector<Delivery> deliverAlerts(const Json::Value& report, const AlertTargets& targets, AlertTransport& transport) {
  std::vector<Delivery> out;
  if (!shouldDeliver(report, targets)) return out;
  auto attempt = [&](const std::string& target, int attempts, const auto& send) {
    Delivery d;
    d.target = target;
    auto backoff = targets.firstBackoff;
    for (d.attempts = 1;; ++d.attempts) {
      try {
        send();
        d.ok = true;
        d.error.clear();
        break;
      } catch (const std::exception& e) {
        d.error = oneLine(e.what(), 1000);
      }
      if (d.attempts >= attempts) break;
      transport.sleep(backoff);
      backoff *= 2;
    }
    out.push_back(d);
  };
  const std::string body = json::pretty(report);
  if (!targets.webhookUrl.empty()) {
    attempt("webhook", std::max(targets.webhookAttempts, 1),
            [&] { transport.post(targets.webhookUrl, body, targets.webhookToken, targets.timeout); });
  }
  if (!targets.command.empty()) {
    attempt("command", 1, [&] { transport.run(targets.command, body, hookEnvironment(report), targets.timeout); });
  }
  if (!targets.mailTo.empty()) {
    attempt("mail", 1, [&] { transport.sendmail(mailMessage(report, targets.mailTo), targets.timeout); });
  }
  if (targets.syslog) attempt("syslog", 1, [&] { transport.syslog(syslogPriority(report), syslogLine(report)); });
  return out;
}

Json::Value deliveriesJson(const std::vector<Delivery>& deliveries) {
  Json::Value out(Json::arrayValue);
  for (const auto& d : deliveries) {
    Json::Value row;
    row["target"] = d.target;
    row["ok"] = d.ok;
    row["attempts"] = d.attempts;
    if (!d.ok) row["error"] = d.error;
    out.append(row);
  }
  return out;
}

namespace {

class SystemAlertTransport : public AlertTransport {
 public:
  void post(const std::string& url, const std::string& body, const std::string& token,
            std::chrono::seconds timeout) override {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) throw std::runtime_error("cannot start an HTTP client");
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> owned(headers, curl_slist_free_all);
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, long(body.size()));
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, long(timeout.count()));
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
    // The answer's body is not wanted.
    curl_easy_setopt(
        curl.get(), CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
    const CURLcode rc = curl_easy_perform(curl.get());
    if (rc != CURLE_OK) throw std::runtime_error(*error ? error : curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) throw std::runtime_error("HTTP status " + std::to_string(status));
  }

  void run(const std::string& command, const std::string& input, const std::vector<std::string>& environment,
           std::chrono::seconds timeout) override {
    const CommandResult r = runCommand({"/bin/sh", "-c", command}, timeout, 64 << 10, {input, environment});
    if (r.timedOut) throw std::runtime_error("killed after " + std::to_string(timeout.count()) + " s");
    if (r.spawnFailed) throw std::runtime_error(r.err.empty() ? "cannot run /bin/sh" : r.err);
    if (r.exitCode != 0) {
      throw std::runtime_error("exit code " + std::to_string(r.exitCode) + (r.err.empty() ? "" : ": " + tail(r.err)));
    }
  }

  void sendmail(const std::string& message, std::chrono::seconds timeout) override {
    const CommandResult r = runCommand({"/usr/sbin/sendmail", "-t", "-oi"}, timeout, 64 << 10, {message, {}});
    if (r.timedOut) throw std::runtime_error("sendmail was killed after " + std::to_string(timeout.count()) + " s");
    if (r.spawnFailed) throw std::runtime_error(r.err.empty() ? "cannot run /usr/sbin/sendmail" : r.err);
    if (r.exitCode != 0) {
      throw std::runtime_error("sendmail: exit code " + std::to_string(r.exitCode) +
                               (r.err.empty() ? "" : ": " + tail(r.err)));
    }
  }

  void syslog(int priority, const std::string& line) override {
    ::openlog("gdr-sync", LOG_PID, LOG_DAEMON);
    ::syslog(priority, "%s", line.c_str());
    ::closelog();
  }

  void sleep(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

}  // namespace

AlertTransport& systemAlertTransport() {
  static SystemAlertTransport transport;
  return transport;
}

}  // namespace gdr::sync
