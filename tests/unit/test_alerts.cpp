// Alert delivery on a recorded report (a successful delta-layout cycle on
// the lab) and the same report failed: who is told when, what they get,
// and that a target that fails is retried (the webhook), reported, and
// keeps no other target from being told.
#include <gtest/gtest.h>
#include <json/json.h>
#include <syslog.h>

#include <fstream>

#include "client/alerts.h"
#include "client/cycle.h"
#include "client/rpo_check.h"
#include "tests/unit/sync_fixtures.h"

namespace gdr::sync {
namespace {

Json::Value failedReport() {
  Json::Value r = syncFixture("report-delta-success.json");
  r["status"] = "failed";
  r["outcome"] = kFailedMergedBack;
  r["alert"] = "geo-replication failed: 3101: worker node1:/b (Faulty)\nsecond line";
  r["steps"][4]["status"] = "failed";
  r["steps"][4]["error"] = "3101: worker node1:/b (Faulty)";
  return r;
}

struct FakeTransport : AlertTransport {
  std::vector<std::string> calls;
  int postFailures = 0;  // the next N posts fail
  bool commandFails = false;
  std::string posted, postedToken, input, mail, line;
  std::vector<std::string> environment;
  int priority = -1;
  std::vector<long> sleeps;
  void post(const std::string& url, const std::string& body, const std::string& token, std::chrono::seconds) override {
    calls.push_back("post " + url);
    if (postFailures > 0) {
      --postFailures;
      throw std::runtime_error("Connection refused");
    }
    posted = body;
    postedToken = token;
  }
  void run(const std::string& command, const std::string& in, const std::vector<std::string>& env,
           std::chrono::seconds) override {
    calls.push_back("run " + command);
    if (commandFails) throw std::runtime_error("exit code 1: no such file");
    input = in;
    environment = env;
  }
  void sendmail(const std::string& message, std::chrono::seconds) override {
    calls.push_back("sendmail");
    mail = message;
  }
  void syslog(int p, const std::string& l) override {
    calls.push_back("syslog");
    priority = p;
    line = l;
  }
  void sleep(std::chrono::milliseconds d) override { sleeps.push_back(long(d.count())); }
};

AlertTargets everyTarget() {
  AlertTargets t;
  t.webhookUrl = "http://127.0.0.1:9/hook";
  t.webhookToken = "s3cret";
  t.command = "cat > /dev/null";
  t.mailTo = {"dr@example.org", "oncall@example.org"};
  t.syslog = true;
  return t;
}

TEST(Alerts, AFailedCycleReachesEveryTarget) {
  FakeTransport transport;
  const Json::Value report = failedReport();
  const auto deliveries = deliverAlerts(report, everyTarget(), transport);
  ASSERT_EQ(deliveries.size(), 4u);
  for (const auto& d : deliveries) EXPECT_TRUE(d.ok) << d.target << ": " << d.error;
  EXPECT_EQ(transport.calls,
            (std::vector<std::string>{"post http://127.0.0.1:9/hook", "run cat > /dev/null", "sendmail", "syslog"}));
  // The webhook and the command get the report itself.
  Json::Value posted;
  ASSERT_TRUE(Json::Reader().parse(transport.posted, posted));
  EXPECT_EQ(posted["flowId"], report["flowId"]);
  EXPECT_EQ(transport.postedToken, "s3cret");
  EXPECT_EQ(transport.input, transport.posted);
  EXPECT_NE(std::find(transport.environment.begin(), transport.environment.end(), "GDR_STATUS=failed"),
            transport.environment.end());
  EXPECT_NE(std::find(transport.environment.begin(), transport.environment.end(), "GDR_OUTCOME=1"),
            transport.environment.end());
  // One line per variable: the alert's newline does not survive.
  for (const auto& e : transport.environment) EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  // Mail: both recipients, a subject naming the volume and the alert, the report.
  EXPECT_EQ(transport.mail.rfind("To: dr@example.org, oncall@example.org\n", 0), 0u) << transport.mail;
  EXPECT_NE(transport.mail.find("\nSubject: gdr ALERT gdr-primary: geo-replication failed: 3101: worker node1:/b "
                                "(Faulty) second line\n"),
            std::string::npos)
      << transport.mail;
  EXPECT_NE(transport.mail.find("  georep: failed: 3101"), std::string::npos);
  EXPECT_NE(transport.mail.find("\"flowId\""), std::string::npos);
  // syslog: err, with a stable message id first.
  EXPECT_EQ(transport.priority, LOG_ERR);
  EXPECT_EQ(transport.line.rfind(
                "GDR_CYCLE_FAILED volume=gdr-primary flow=" + report["flowId"].asString() + " outcome=1 point=", 0),
            0u)
      << transport.line;
}

TEST(Alerts, ASuccessIsDeliveredOnlyWhenEveryCycleIsAskedFor) {
  FakeTransport transport;
  const Json::Value report = syncFixture("report-delta-success.json");
  AlertTargets targets = everyTarget();
  EXPECT_TRUE(deliverAlerts(report, targets, transport).empty());
  EXPECT_TRUE(transport.calls.empty());
  targets.everyCycle = true;
  EXPECT_EQ(deliverAlerts(report, targets, transport).size(), 4u);
  EXPECT_EQ(transport.priority, LOG_NOTICE);
  EXPECT_EQ(transport.line.rfind("GDR_CYCLE_OK", 0), 0u);
  EXPECT_NE(transport.mail.find("Subject: gdr OK gdr-primary: 2 VMs, recovery point 2026-12-03 "), std::string::npos);
  // A dry run tells no one.
  Json::Value dry = report;
  dry["dryRun"] = true;
  EXPECT_FALSE(shouldDeliver(dry, targets));
  EXPECT_FALSE(shouldDeliver(failedReport(), AlertTargets{}));
}

// A cycle that succeeded but left the newest point older than the target
// RPO (it took longer than the target) alerts even with "failure only";
// within the target it does not.
TEST(Alerts, ASuccessPastTheTargetRpoIsAnAlert) {
  FakeTransport transport;
  Json::Value report = syncFixture("report-delta-success.json");
  report["domain"] = "vmstore";
  report["rpo"] = rpoStatus(report, Json::Value(Json::arrayValue), report["recoveryPoint"].asInt64() + 600,
                            std::chrono::seconds(300));
  EXPECT_EQ(report["rpo"]["age"], 600);
  EXPECT_TRUE(report["rpo"]["breached"].asBool());
  ASSERT_EQ(deliverAlerts(report, everyTarget(), transport).size(), 4u);
  EXPECT_EQ(alertSubject(report), "gdr RPO BREACH vmstore: recovery point 10 min old, target 5 min");
  EXPECT_EQ(transport.priority, LOG_ERR);
  EXPECT_EQ(transport.line.rfind("GDR_RPO_BREACHED volume=gdr-primary ", 0), 0u) << transport.line;
  EXPECT_NE(transport.mail.find("\nRPO: recovery point 10 min old, target 5 min (BREACHED)\n"), std::string::npos)
      << transport.mail;
  for (const char* variable : {"GDR_DOMAIN=vmstore", "GDR_RPO_AGE=600", "GDR_RPO_TARGET=300", "GDR_RPO_BREACHED=1"}) {
    EXPECT_NE(std::find(transport.environment.begin(), transport.environment.end(), variable),
              transport.environment.end())
        << variable;
  }
  report["rpo"] = rpoStatus(report, Json::Value(Json::arrayValue), report["recoveryPoint"].asInt64() + 600,
                            std::chrono::seconds(3600));
  EXPECT_FALSE(report["rpo"]["breached"].asBool());
  EXPECT_FALSE(shouldDeliver(report, everyTarget()));
}

TEST(Alerts, VmsLeftOnOverlaysAreCritical) {
  Json::Value report = failedReport();
  report["outcome"] = kMergeBackFailed;
  EXPECT_EQ(syslogPriority(report), LOG_CRIT);
}

// The webhook is tried three times, 1 s then 2 s apart; a command that
// fails is reported once; neither keeps the others from their message.
TEST(Alerts, AFailingTargetIsRetriedOrReportedAndTheOthersStillHearIt) {
  FakeTransport transport;
  transport.postFailures = 5;
  transport.commandFails = true;
  const auto deliveries = deliverAlerts(failedReport(), everyTarget(), transport);
  ASSERT_EQ(deliveries.size(), 4u);
  EXPECT_EQ(deliveries[0].target, "webhook");
  EXPECT_FALSE(deliveries[0].ok);
  EXPECT_EQ(deliveries[0].attempts, 3);
  EXPECT_EQ(deliveries[0].error, "Connection refused");
  EXPECT_EQ(transport.sleeps, (std::vector<long>{1000, 2000}));
  EXPECT_FALSE(deliveries[1].ok);
  EXPECT_EQ(deliveries[1].attempts, 1);
  EXPECT_TRUE(deliveries[2].ok);
  EXPECT_TRUE(deliveries[3].ok);
  const Json::Value kept = deliveriesJson(deliveries);
  EXPECT_EQ(kept[0]["error"], "Connection refused");
  EXPECT_FALSE(kept[2].isMember("error"));
  // A webhook that answers on the second attempt is delivered.
  FakeTransport later;
  later.postFailures = 1;
  const auto second = deliverAlerts(failedReport(), everyTarget(), later);
  EXPECT_TRUE(second[0].ok);
  EXPECT_EQ(second[0].attempts, 2);
}

}  // namespace
}  // namespace gdr::sync
