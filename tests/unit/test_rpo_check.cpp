// `gdr-sync check` on recorded histories: fresh, stale, a failed last
// cycle, VMs left on overlays, no success, no report at all.
#include <gtest/gtest.h>

#include "client/rpo_check.h"
#include "core/json_util.h"

namespace gdr::sync {
namespace {

constexpr std::int64_t kNow = 1764682200;  // 2026-12-02 13:30:00 UTC

// Rows as reportHistory() gives them, oldest first.
Json::Value history(std::initializer_list<const char*> rows) {
  Json::Value out(Json::arrayValue);
  for (const char* row : rows) out.append(json::parseOrThrow(row, "row"));
  return out;
}

const char* ok(std::int64_t ageSeconds) {
  static std::string text;
  text = R"({"status": "success", "outcome": 0, "volume": "gdr-primary", "recoveryPoint": )" +
         std::to_string(kNow - ageSeconds) + "}";
  return text.c_str();
}

TEST(RpoCheck, AFreshPointIsOkWithItsAgeAsPerfdata) {
  const RpoCheck r = checkRpo(history({ok(720)}), kNow, {}, "volume gdr-primary");
  EXPECT_EQ(r.status, kCheckOk);
  EXPECT_EQ(r.line,
            "GDR OK - volume gdr-primary: recovery point 12 min old | rpo=720s;3600;7200;0 failed_cycles=0;;;0");
}

TEST(RpoCheck, AStalePointWarnsThenIsCritical) {
  EXPECT_EQ(checkRpo(history({ok(3600)}), kNow, {}, "v").status, kCheckWarning);
  const RpoCheck r = checkRpo(history({ok(3 * 3600 + 120)}), kNow, {}, "v");
  EXPECT_EQ(r.status, kCheckCritical);
  EXPECT_NE(r.line.find("recovery point 3 h 2 min old | rpo=10920s;3600;7200;0"), std::string::npos) << r.line;
  // Thresholds of the operator's own.
  EXPECT_EQ(checkRpo(history({ok(600)}), kNow, {std::chrono::seconds(300), std::chrono::seconds(900)}, "v").status,
            kCheckWarning);
}

TEST(RpoCheck, AFailedLastCycleWarnsAndNamesItsAlertEvenWhileThePointIsFresh) {
  std::string earlier = ok(600);
  const RpoCheck r = checkRpo(
      history(
          {earlier.c_str(),
           R"({"status": "failed", "outcome": 1, "recoveryPoint": 1764681900, "alert": "geo-replication failed: 3101"})",
           R"({"status": "failed", "outcome": 1, "recoveryPoint": 1764682100, "alert": "geo-replication failed: 3103"})"}),
      kNow, {}, "v");
  EXPECT_EQ(r.status, kCheckWarning);
  // The age is that of the last successful cycle's point, not of the failed ones' snapshots.
  EXPECT_EQ(r.line,
            "GDR WARNING - v: recovery point 10 min old; the last 2 cycles failed: geo-replication failed: 3103 | "
            "rpo=600s;3600;7200;0 failed_cycles=2;;;0");
}

TEST(RpoCheck, VmsLeftOnOverlaysAreCritical) {
  std::string earlier = ok(60);
  const RpoCheck r =
      checkRpo(history({earlier.c_str(), R"({"status": "failed", "outcome": 4, "alert": "merging back failed"})"}),
               kNow, {}, "v");
  EXPECT_EQ(r.status, kCheckCritical);
  EXPECT_NE(r.line.find("the last cycle failed: merging back failed"), std::string::npos) << r.line;
}

TEST(RpoCheck, NoSuccessIsCriticalAndNoReportUnknown) {
  const RpoCheck never =
      checkRpo(history({R"({"status": "failed", "outcome": 3, "alert": "no agent"})"}), kNow, {}, "v");
  EXPECT_EQ(never.status, kCheckCritical);
  EXPECT_EQ(never.line,
            "GDR CRITICAL - v: no recovery point: no kept report is of a successful DR cycle (last: no "
            "agent) | failed_cycles=1;;;0");
  const RpoCheck none = checkRpo(Json::Value(Json::arrayValue), kNow, {}, "state dir /var/lib/gdr/sync");
  EXPECT_EQ(none.status, kCheckUnknown);
  EXPECT_EQ(none.line, "GDR UNKNOWN - state dir /var/lib/gdr/sync: no DR cycle has run (no report kept)");
}

// Every domain at once: the worst status decides (CRITICAL over WARNING over
// UNKNOWN over OK), each domain's text and perfdata named.
TEST(RpoCheck, SeveralDomainsAreOneLineAndTheWorstDecides) {
  const RpoCheck fresh = checkRpo(history({ok(720)}), kNow, {}, "domain gold");
  const RpoCheck stale = checkRpo(history({ok(3 * 3600)}), kNow, {}, "domain bronze");
  const RpoCheck unknown = unknownCheck("domain lab", "no DR cycle has run (no report kept)");
  RpoCheck r = combineChecks({{"gold", fresh}, {"lab", unknown}});
  EXPECT_EQ(r.status, kCheckUnknown);
  r = combineChecks({{"gold", fresh}, {"bronze", stale}, {"lab", unknown}});
  EXPECT_EQ(r.status, kCheckCritical);
  EXPECT_EQ(r.line,
            "GDR CRITICAL - 3 domains: gold OK (recovery point 12 min old); bronze CRITICAL (recovery point 3 h 0 min "
            "old); lab UNKNOWN (no DR cycle has run (no report kept)) | gold_rpo=720s;3600;7200;0 "
            "gold_failed_cycles=0;;;0 bronze_rpo=10800s;3600;7200;0 bronze_failed_cycles=0;;;0");
  EXPECT_EQ(combineChecks({}).status, kCheckUnknown);
}

// The report's "rpo": this cycle's point when it succeeded, else the newest
// success kept; none at all is a breach.
TEST(RpoCheck, TheReportSaysHowOldItsPointIsAgainstTheTarget) {
  const Json::Value failed = json::parseOrThrow(R"({"status": "failed", "recoveryPoint": 1764682100})", "r");
  const std::string older = ok(7000), newer = ok(5000);  // ok() reuses its buffer
  Json::Value r = rpoStatus(failed, history({older.c_str(), newer.c_str()}), kNow, std::chrono::seconds(7200));
  EXPECT_EQ(r["point"], kNow - 5000);
  EXPECT_EQ(r["age"], 5000);
  EXPECT_EQ(r["target"], 7200);
  EXPECT_FALSE(r["breached"].asBool());
  r = rpoStatus(failed, history({ok(8000)}), kNow, std::chrono::seconds(7200));
  EXPECT_TRUE(r["breached"].asBool());
  r = rpoStatus(failed, Json::Value(Json::arrayValue), kNow, std::chrono::seconds(7200));
  EXPECT_TRUE(r["age"].isNull());
  EXPECT_TRUE(r["breached"].asBool());
  r = rpoStatus(json::parseOrThrow(ok(30), "r"), Json::Value(Json::arrayValue), kNow, std::chrono::seconds(7200));
  EXPECT_EQ(r["age"], 30);
}

TEST(RpoCheck, AgesReadAsPeopleSayThem) {
  EXPECT_EQ(describeAge(45), "45 s");
  EXPECT_EQ(describeAge(720), "12 min");
  EXPECT_EQ(describeAge(5 * 3600 + 180), "5 h 3 min");
  EXPECT_EQ(describeAge(3 * 86400 + 4 * 3600), "3 d 4 h");
  EXPECT_EQ(describeAge(-5), "0 s");  // a clock set back
}

}  // namespace
}  // namespace gdr::sync
