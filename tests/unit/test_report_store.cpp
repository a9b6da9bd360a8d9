// The kept reports read back: the cycles alone for the RPO check and
// --if-due, every kind for `gdr-sync history`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "client/report_store.h"

namespace gdr::sync {
namespace {

namespace fs = std::filesystem;

class ReportStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gdr-reports-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Json::Value cycle(std::int64_t start, const std::string& flow) {
    Json::Value r;
    r["flowId"] = flow;
    r["startTime"] = Json::Int64(start);
    r["duration"] = 20.5;
    r["status"] = "success";
    r["outcome"] = 0;
    r["volume"] = "vmstore";
    r["recoveryPoint"] = Json::Int64(start + 3);
    r["vms"].append(Json::objectValue);
    r["vms"].append(Json::objectValue);
    return r;
  }
  static Json::Value recovery(const std::string& kind, std::int64_t start, const std::string& flow) {
    Json::Value r;
    r["kind"] = kind;
    r["flowId"] = flow;
    r["startTime"] = Json::Int64(start);
    r["duration"] = 7.5;
    r["status"] = kind == "drill" ? "failed" : "success";
    r["secondary"] = "dr1::vmstore-dr";
    r["pointTime"] = Json::Int64(start - 600);
    r["vms"].append(Json::objectValue);
    if (kind == "drill") r["alert"] = "vm1: no disk I/O within 180 s";
    return r;
  }

  fs::path dir_;
};

TEST_F(ReportStoreTest, HistoryListsCyclesDrillsFailoversAndFailbacksInTimeOrder) {
  saveReport(dir_.string(), cycle(1000, "c1"));
  saveReport((dir_ / "drills").string(), recovery("drill", 1500, "d1"));
  saveReport(dir_.string(), cycle(2000, "c2"));
  saveReport((dir_ / "failovers").string(), recovery("failover", 2500, "f1"));
  saveReport((dir_ / "failbacks").string(), recovery("failback", 3000, "b1"));
  {  // Neither a half-written report nor garbage is a row.
    std::ofstream(dir_ / "drills" / "reports" / ".19700101T000000Z-partial.json") << "{";
    std::ofstream(dir_ / "failovers" / "reports" / "19700101T000001Z-bad.json") << "not json";
  }

  const Json::Value all = fullHistory(dir_.string(), 100);
  ASSERT_EQ(all.size(), 5u);
  std::string kinds;
  for (const auto& row : all) kinds += row["kind"].asString() + " ";
  EXPECT_EQ(kinds, "cycle drill cycle failover failback ");
  EXPECT_EQ(all[1]["volume"].asString(), "dr1::vmstore-dr");
  EXPECT_EQ(all[1]["recoveryPoint"].asInt64(), 900);
  EXPECT_EQ(all[1]["status"].asString(), "failed");
  EXPECT_EQ(all[1]["alert"].asString(), "vm1: no disk I/O within 180 s");
  EXPECT_EQ(all[2]["volume"].asString(), "vmstore");
  EXPECT_EQ(all[2]["recoveryPoint"].asInt64(), 2003);
  EXPECT_EQ(all[2]["vms"].asUInt(), 2u);

  // The last N of all kinds together.
  const Json::Value last2 = fullHistory(dir_.string(), 2);
  ASSERT_EQ(last2.size(), 2u);
  EXPECT_EQ(last2[0]["startTime"].asInt64(), 2500);
  EXPECT_EQ(last2[1]["kind"].asString(), "failback");
}

TEST_F(ReportStoreTest, TheCyclesHistoryLeavesDrillsAndFailoversOut) {
  // The RPO check and --if-due read it: a drill is not a cycle, and its
  // point's age is not the RPO.
  saveReport(dir_.string(), cycle(1000, "c1"));
  saveReport((dir_ / "drills").string(), recovery("drill", 5000, "d1"));
  saveReport((dir_ / "failovers").string(), recovery("failover", 6000, "f1"));
  const Json::Value cycles = reportHistory(dir_.string(), 100);
  ASSERT_EQ(cycles.size(), 1u);
  EXPECT_EQ(cycles[0]["kind"].asString(), "cycle");
  EXPECT_EQ(cycles[0]["startTime"].asInt64(), 1000);
  EXPECT_FALSE(cycleDue(cycles, 1000 + 3600, 7200));
}

TEST_F(ReportStoreTest, NoReportsIsAnEmptyHistory) {
  EXPECT_EQ(fullHistory(dir_.string(), 10).size(), 0u);
  EXPECT_EQ(reportHistory(dir_.string(), 10).size(), 0u);
}

}  // namespace
}  // namespace gdr::sync
