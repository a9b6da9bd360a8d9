#include "client/report_store.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/json_util.h"

namespace gdr::sync {

namespace fs = std::filesystem;

bool cycleDue(const Json::Value& history, std::int64_t now, std::int64_t interval) {
  if (!history.isArray() || history.empty()) return true;
  const Json::Value& last = history[history.size() - 1]["startTime"];
  return !last.isIntegral() || now - last.asInt64() >= interval - 30;
}

std::string utcStamp(std::int64_t epoch, const char* format) {
  char buf[64];
  std::tm tm{};
  const std::time_t t = epoch;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string saveReport(const std::string& stateDir, const Json::Value& report) {
  const fs::path dir = fs::path(stateDir) / "reports";
  fs::create_directories(dir);
  const std::string name =
      utcStamp(report["startTime"].asInt64(), "%Y%m%dT%H%M%SZ") + "-" + report["flowId"].asString() + ".json";
  const fs::path temp = dir / ("." + name), final = dir / name;
  {
    std::ofstream out(temp);
    out << json::pretty(report) << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + temp.string());
  }
  fs::rename(temp, final);
  return final.string();
}

namespace {

struct KeptReport {
  std::string name;  // START-FLOW.json: sorts by start time
  fs::path path;
  std::string kind;  // cycle, drill, failover, failback
  bool operator<(const KeptReport& other) const { return name < other.name; }
};

// The reports kept in stateDir/reports, of one kind.
void addKeptReports(const fs::path& stateDir, const std::string& kind, std::vector<KeptReport>& out) {
  const fs::path dir = stateDir / "reports";
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (f.path().extension() == ".json" && name[0] != '.') out.push_back({name, f.path(), kind});
  }
}

// Oldest first, the last `last`, as rows.
Json::Value historyRows(std::vector<KeptReport> files, size_t last) {
  std::sort(files.begin(), files.end());
  if (files.size() > last) files.erase(files.begin(), files.end() - last);
  Json::Value all(Json::arrayValue);
  for (const auto& f : files) {
    std::ifstream in(f.path);
    std::stringstream text;
    text << in.rdbuf();
    auto report = json::parse(text.str());
    if (!report || !report->isObject()) continue;
    const bool cycle = f.kind == "cycle";
    Json::Value row;
    row["kind"] = f.kind;
    row["startTime"] = (*report)["startTime"];
    row["duration"] = (*report)["duration"];
    row["status"] = (*report)["status"];
    row["outcome"] = (*report)["outcome"];
    row["volume"] = (*report)[cycle ? "volume" : "secondary"];
    row["recoveryPoint"] = (*report)[cycle ? "recoveryPoint" : "pointTime"];
    row["vms"] = (*report)["vms"].size();
    row["alert"] = (*report)["alert"];
    row["report"] = f.path.string();
    all.append(row);
  }
  return all;
}

}  // namespace

Json::Value reportHistory(const std::string& stateDir, size_t last) {
  std::vector<KeptReport> files;
  addKeptReports(stateDir, "cycle", files);
  return historyRows(std::move(files), last);
}

Json::Value fullHistory(const std::string& stateDir, size_t last) {
  std::vector<KeptReport> files;
  addKeptReports(stateDir, "cycle", files);
  addKeptReports(fs::path(stateDir) / "drills", "drill", files);
  addKeptReports(fs::path(stateDir) / "failovers", "failover", files);
  addKeptReports(fs::path(stateDir) / "failbacks", "failback", files);
  return historyRows(std::move(files), last);
}

std::vector<SeenVm> lastSeenVms(const std::string& stateDir) {
  std::vector<SeenVm> seen;
  const Json::Value newest = reportHistory(stateDir, 1);
  if (newest.empty()) return seen;
  std::ifstream in(newest[0]["report"].asString());
  std::stringstream text;
  text << in.rdbuf();
  const auto report = json::parse(text.str());
  if (!report) return seen;
  for (const auto& vm : (*report)["vms"]) {
    seen.push_back({vm["host"].asString(), vm["vmId"].asString(), vm["name"].asString()});
  }
  for (const auto& vm : (*report)["unprotected"]) {
    seen.push_back({vm["host"].asString(), vm["vmId"].asString(), vm["vm"].asString()});
  }
  return seen;
}

}  // namespace gdr::sync
