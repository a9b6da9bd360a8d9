// gdr-sync's Prometheus metrics from a recorded report: a successful cycle
// of the delta layout on the lab (two VMs, each with its base and delta
// verified), and the same cycle as a failure after it.
#include <gtest/gtest.h>
#include <json/json.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "client/metrics.h"
#include "tests/unit/sync_fixtures.h"

namespace gdr::sync {
namespace {

// The value of the one sample whose name and labels are `series`.
std::string sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line, found = "absent";
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) {
      if (found != "absent") return "twice";
      found = line.substr(series.size() + 1);
    }
  }
  return found;
}

// The text format's rules that the collector enforces: every sample line
// of a family after its HELP and TYPE, each family once, values numbers.
void expectWellFormed(const std::string& text) {
  static const std::regex sampleLine(R"(^([a-z_]+)\{([a-z]+="([^"\\]|\\.)*",?)*\} [-+0-9.e]+$)");
  std::set<std::string> typed;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(typed.insert(name).second) << "family twice: " << name;
      EXPECT_EQ(line.substr(line.size() - 6), " gauge") << line;
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sampleLine)) << line;
    EXPECT_TRUE(typed.count(m[1])) << "no TYPE before " << line;
  }
  EXPECT_FALSE(typed.empty());
}

const std::string kVolume = "{volume=\"gdr-primary\"}";

TEST(Metrics, ASuccessfulCycleGivesItsPointStepsAndVerifiedBytes) {
  const Json::Value report = syncFixture("report-delta-success.json");
  const std::int64_t point = report["recoveryPoint"].asInt64();
  const std::string text = cycleMetrics(report, Json::Value(Json::arrayValue), point + 90, std::chrono::seconds(7200));
  expectWellFormed(text);
  EXPECT_EQ(sample(text, "gdr_cycle_success" + kVolume), "1");
  EXPECT_EQ(sample(text, "gdr_cycle_outcome" + kVolume), "0");
  EXPECT_EQ(sample(text, "gdr_cycle_last_run_timestamp_seconds" + kVolume), std::to_string(point));
  EXPECT_EQ(sample(text, "gdr_cycle_last_success_timestamp_seconds" + kVolume), std::to_string(point));
  EXPECT_EQ(sample(text, "gdr_recovery_point_timestamp_seconds" + kVolume), std::to_string(point));
  EXPECT_EQ(sample(text, "gdr_recovery_point_age_seconds" + kVolume), "90");
  EXPECT_EQ(sample(text, "gdr_cycle_duration_seconds" + kVolume).substr(0, 6), "33.702");
  // Every step, by name; the sync's own.
  for (const char* step :
       {"discover", "snapshot", "definitions", "manifest", "georep", "verify", "overlay-delete", "seal", "commit"}) {
    EXPECT_NE(
        sample(text, "gdr_cycle_step_duration_seconds{volume=\"gdr-primary\",step=\"" + std::string(step) + "\"}"),
        "absent")
        << step;
  }
  // Two VMs, each a base and a delta of 16 MiB compared.
  EXPECT_EQ(sample(text, "gdr_verified_bytes" + kVolume), "67108864");
  EXPECT_EQ(sample(text, "gdr_repaired_pieces" + kVolume), "0");
  EXPECT_EQ(sample(text, "gdr_vms{volume=\"gdr-primary\",state=\"protected\"}"), "2");
  EXPECT_EQ(sample(text, "gdr_vms{volume=\"gdr-primary\",state=\"unprotected\"}"), "0");
}

// A failed cycle after it: the point and the last success are the kept
// history's; a VM whose snapshot failed is unprotected; pieces marked for
// resync are counted.
TEST(Metrics, AFailedCycleKeepsTheLastSuccessfulPoint) {
  const Json::Value good = syncFixture("report-delta-success.json");
  Json::Value failed = good;
  failed["status"] = "failed";
  failed["outcome"] = 1;
  failed["startTime"] = good["startTime"].asInt64() + 600;
  failed["recoveryPoint"] = good["startTime"].asInt64() + 601;
  failed["vms"][1]["snapshot"]["status"] = "failed";
  Json::Value verify;
  verify["step"] = "verify";
  verify["duration"] = 1.5;
  verify["resync"]["images/gdr-lab-vm1.qcow2"] = 3;
  failed["steps"].append(verify);
  Json::Value history(Json::arrayValue);
  Json::Value row;
  row["status"] = "success";
  row["startTime"] = good["startTime"];
  row["recoveryPoint"] = good["recoveryPoint"];
  history.append(row);
  const std::int64_t now = good["recoveryPoint"].asInt64() + 700;
  const std::string text = cycleMetrics(failed, history, now, std::chrono::seconds(7200));
  expectWellFormed(text);
  EXPECT_EQ(sample(text, "gdr_cycle_success" + kVolume), "0");
  EXPECT_EQ(sample(text, "gdr_cycle_outcome" + kVolume), "1");
  EXPECT_EQ(sample(text, "gdr_cycle_last_run_timestamp_seconds" + kVolume), failed["startTime"].asString());
  EXPECT_EQ(sample(text, "gdr_cycle_last_success_timestamp_seconds" + kVolume), good["startTime"].asString());
  EXPECT_EQ(sample(text, "gdr_recovery_point_age_seconds" + kVolume), "700");
  EXPECT_EQ(sample(text, "gdr_repaired_pieces" + kVolume), "3");
  EXPECT_EQ(sample(text, "gdr_vms{volume=\"gdr-primary\",state=\"unprotected\"}"), "1");
  // No success at all: no point to speak of.
  const std::string none = cycleMetrics(failed, Json::Value(Json::arrayValue), now, std::chrono::seconds(7200));
  expectWellFormed(none);
  EXPECT_EQ(sample(none, "gdr_recovery_point_timestamp_seconds" + kVolume), "absent");
  EXPECT_EQ(sample(none, "gdr_cycle_last_success_timestamp_seconds" + kVolume), "absent");
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Json::Value report = syncFixture("report-delta-success.json");
  report["volume"] = "odd\"name";
  const std::string text = cycleMetrics(report, Json::Value(Json::arrayValue), 0, std::chrono::seconds(7200));
  expectWellFormed(text);
  EXPECT_NE(sample(text, "gdr_cycle_success{volume=\"odd\\\"name\"}"), "absent");
  EXPECT_EQ(sample(text, "gdr_recovery_point_age_seconds{volume=\"odd\\\"name\"}"), "0");  // never negative
}

}  // namespace
}  // namespace gdr::sync
