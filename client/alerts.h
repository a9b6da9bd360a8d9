#pragma once
// Telling people how a DR cycle went: a webhook (the report POSTed as JSON),
// a command hook (the report on its standard input, key facts in its
// environment), mail through the system's sendmail, and syslog lines. Each
// target is tried on its own, after the cycle has ended (its merge-back
// done): a delivery that fails is reported, and changes neither the
// cycle's outcome nor gdr-sync's exit code.
#include <json/value.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace gdr::sync {

struct AlertTargets {
  std::string webhookUrl;    // http:// or https://
  std::string webhookToken;  // sent as "Authorization: Bearer TOKEN" when set
  std::string command;       // run by /bin/sh -c
  std::vector<std::string> mailTo;
  bool syslog = false;
  // Every cycle, or (the default) only those that raise an alert.
  bool everyCycle = false;
  int webhookAttempts = 3;  // with a backoff of 1 s, then 2 s, ...
  std::chrono::milliseconds firstBackoff{1000};
  std::chrono::seconds timeout{15};  // per attempt, per target
  bool any() const { return !webhookUrl.empty() || !command.empty() || !mailTo.empty() || syslog; }
};

// How a report is sent: the seam unit tests fake. Each throws
// std::runtime_error saying why a delivery failed.
class AlertTransport {
 public:
  virtual ~AlertTransport() = default;
  virtual void post(const std::string& url, const std::string& body, const std::string& token,
                    std::chrono::seconds timeout) = 0;
  virtual void run(const std::string& command, const std::string& input, const std::vector<std::string>& environment,
                   std::chrono::seconds timeout) = 0;
  virtual void sendmail(const std::string& message, std::chrono::seconds timeout) = 0;
  virtual void syslog(int priority, const std::string& line) = 0;
  virtual void sleep(std::chrono::milliseconds) = 0;
};

// The real ones: libcurl, /bin/sh, /usr/sbin/sendmail -t -oi, syslog(3).
AlertTransport& systemAlertTransport();

// One target's outcome: {target, ok, attempts, error}.
struct Delivery {
  std::string target;  // "webhook", "command", "mail", "syslog"
  bool ok = false;
  int attempts = 0;
  std::string error;
};

// Whether `report` is delivered at all: it raised an alert (or is not a
// success), its RPO is breached ("rpo": {breached}), or the targets want
// every cycle. A dry run never is.
bool shouldDeliver(const Json::Value& report, const AlertTargets& targets);

// Delivers `report` to every target, each on its own; returns one row per
// target tried.
std::vector<Delivery> deliverAlerts(const Json::Value& report, const AlertTargets& targets, AlertTransport& transport);

// The pieces, pure:
// "gdr ALERT gdr-primary: geo-replication failed: ...", "gdr RPO BREACH
// vmstore: recovery point 2 h 5 min old, target 2 h 0 min" or "gdr OK
// gdr-primary: 2 VMs, recovery point ..." (the report's domain, else its volume).
std::string alertSubject(const Json::Value& report);
// GDR_STATUS, GDR_OUTCOME, GDR_VOLUME, GDR_FLOW_ID, GDR_RECOVERY_POINT, GDR_ALERT, GDR_SUBJECT,
// GDR_DOMAIN, GDR_RPO_AGE, GDR_RPO_TARGET (seconds), GDR_RPO_BREACHED (1 or 0).
std::vector<std::string> hookEnvironment(const Json::Value& report);
// A whole message for sendmail -t (To, Subject, the report's summary and JSON).
std::string mailMessage(const Json::Value& report, const std::vector<std::string>& to);
// syslog: LOG_ERR for an alert (LOG_CRIT when VMs were left on
// overlays) or a breached RPO, LOG_NOTICE for a success; the line starts
// with a stable message id, "GDR_CYCLE_FAILED", "GDR_RPO_BREACHED" or
// "GDR_CYCLE_OK".
int syslogPriority(const Json::Value& report);
std::string syslogLine(const Json::Value& report);

// Each delivery as the report keeps it ("alerts": [...]).
Json::Value deliveriesJson(const std::vector<Delivery>& deliveries);

}  // namespace gdr::sync
