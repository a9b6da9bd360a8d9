// gdr-sync: runs disaster-recovery cycles for one primary volume across the
// gdr-agents of its hosts (the engine's role), and keeps their reports.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/json_util.h"
#include "client/dr_cycle.h"

namespace {

namespace fs = std::filesystem;
using namespace gdr::sync;

const char* const kUsageText =
    "Usage: gdr-sync --hosts H1[,H2...] --volume PRIMARY --secondary HOST::VOLUME\n"
    "                [--verify none|sample|shards|full] [--timeout DURATION] [--json] [--dry-run] [--every DURATION]\n"
    "                [--repair] [--merge-bandwidth MIB_S] [--state-dir DIR] [--cafile F | --insecure]\n"
    "       gdr-sync history [--state-dir DIR] [--last N] [--json]\n"
    "\n"
    "Runs a disaster-recovery cycle: snapshots every VM on PRIMARY on the hosts,\n"
    "geo-replicates a checkpoint to the secondary, deletes the overlays there,\n"
    "checks the bases, and merges every overlay back. A host is unix:/path/to/socket\n"
    "or https://host:port. --verify checks that the secondary holds each piece of\n"
    "each base under the primary's gluster id, then compares content on both sides\n"
    "(default sample: 16 ranges of 1 MiB; shards: 64 KiB of every 4 MiB, locating\n"
    "what differs; full: every byte; none: headers only). A piece held under\n"
    "another id is marked for resync and synced once more. --repair (with shards)\n"
    "does the same for content that differs (experimental).\n"
    "--timeout bounds the geo-replication step (default 10m);\n"
    "--merge-bandwidth caps each merge's copy rate in MiB/s (default: unlimited);\n"
    "--every repeats the cycle at that interval until SIGTERM.\n"
    "\n"
    "Exit codes: 0 success; 1 a step failed after the snapshots (every VM merged\n"
    "back; the report's alert names the step); 2 usage; 3 failed before any\n"
    "snapshot (nothing changed); 4 some VM could not be merged back (critical).\n";

std::atomic<bool> g_stop{false};
std::mutex g_stopMutex;
std::condition_variable g_stopWake;

std::string stamp(std::int64_t epoch, const char* format = "%Y-%m-%d %H:%M:%S") {
  char buf[64];
  std::tm tm{};
  const std::time_t t = epoch;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Keeps each cycle's report; `history` reads them back.
void saveReport(const std::string& stateDir, const Json::Value& report) {
  const fs::path dir = fs::path(stateDir) / "reports";
  fs::create_directories(dir);
  const std::string name = stamp(report["startTime"].asInt64(), "%Y%m%dT%H%M%SZ") + "-" +
                           report["flowId"].asString() + ".json";
  const fs::path temp = dir / ("." + name), final = dir / name;
  std::ofstream(temp) << gdr::json::pretty(report) << "\n";
  fs::rename(temp, final);
}

int history(const std::string& stateDir, size_t last, bool json) {
  const fs::path dir = fs::path(stateDir) / "reports";
  std::vector<fs::path> files;
  if (fs::exists(dir)) {
    for (const auto& f : fs::directory_iterator(dir)) {
      if (f.path().extension() == ".json" && f.path().filename().string()[0] != '.') files.push_back(f.path());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.size() > last) files.erase(files.begin(), files.end() - last);
  Json::Value all(Json::arrayValue);
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    auto report = gdr::json::parse(text.str());
    if (!report) continue;
    Json::Value row;
    row["startTime"] = (*report)["startTime"];
    row["duration"] = (*report)["duration"];
    row["status"] = (*report)["status"];
    row["recoveryPoint"] = (*report)["recoveryPoint"];
    row["vms"] = (*report)["vms"].size();
    row["alert"] = (*report)["alert"];
    row["report"] = f.string();
    all.append(row);
  }
  if (json) {
    std::cout << gdr::json::pretty(all) << "\n";
    return 0;
  }
  std::printf("%-20s %9s  %-8s %-20s %4s  %s\n", "start (UTC)", "duration", "status", "recovery point (UTC)", "VMs",
              "alert");
  for (const auto& r : all) {
    std::printf("%-20s %8.1fs  %-8s %-20s %4u  %s\n", stamp(r["startTime"].asInt64()).c_str(),
                r["duration"].asDouble(), r["status"].asCString(),
                r["recoveryPoint"].isIntegral() ? stamp(r["recoveryPoint"].asInt64()).c_str() : "-",
                r["vms"].asUInt(), r["alert"].isString() ? r["alert"].asCString() : "");
  }
  return 0;
}

// Progress on stderr: a live line per step on a terminal, plain lines otherwise.
ProgressFn progressPrinter(bool quiet) {
  const bool tty = ::isatty(STDERR_FILENO);
  auto last = std::make_shared<std::string>();
  auto mutex = std::make_shared<std::mutex>();
  return [=](const std::string& step, const std::string& detail, bool done) {
    if (quiet) return;
    std::lock_guard<std::mutex> lock(*mutex);
    const std::string line = step + " " + detail;
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), done ? "\n" : "");
    } else if (done || line != *last) {
      if (done || step != "geo-rep" || line.find("workers") != std::string::npos) {
        std::fprintf(stderr, "%s\n", line.c_str());
      }
    }
    *last = line;
  };
}

void printSummary(const Json::Value& report) {
  std::printf("DR cycle %s: %s, %u VMs, %.1f s", report["flowId"].asCString(), report["status"].asCString(),
              report["vms"].size(), report["duration"].asDouble());
  if (report["recoveryPoint"].isIntegral()) {
    std::printf(", recovery point %s UTC", stamp(report["recoveryPoint"].asInt64()).c_str());
  }
  std::printf("\n");
  for (const auto& s : report["steps"]) {
    std::printf("  %-15s %-7s %7.2f s%s%s\n", s["step"].asCString(), s["status"].asCString(),
                s["duration"].asDouble(), s.isMember("error") ? "  " : "",
                s.isMember("error") ? s["error"].asCString() : "");
  }
  if (report["dryRun"].asBool()) {
    for (const auto& p : report["plan"]) std::printf("  would %s\n", p.asCString());
  }
  for (const auto& warning : report["warnings"]) std::printf("WARNING: %s\n", warning.asCString());
  if (report.isMember("alert")) std::printf("ALERT: %s\n", report["alert"].asCString());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  CycleOptions options;
  std::string stateDir = "/var/lib/gdr/sync";
  std::string secondary;
  bool json = false;
  std::optional<std::chrono::seconds> every;
  size_t last = 20;
  bool historyMode = false;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
        return args[++i];
      };
      if (a == "-h" || a == "--help") {
        std::cout << kUsageText;
        return 0;
      } else if (a == "history") {
        historyMode = true;
      } else if (a == "--hosts") {
        options.hosts = split(value(), ',');
      } else if (a == "--volume") {
        options.volume = value();
      } else if (a == "--secondary") {
        secondary = value();
      } else if (a == "--verify") {
        options.verify = value();
        if (options.verify != "none" && options.verify != "sample" && options.verify != "shards" &&
            options.verify != "full") {
          throw std::invalid_argument("--verify takes none, sample, shards or full");
        }
      } else if (a == "--timeout") {
        options.georepTimeout = parseDuration(value());
      } else if (a == "--repair") {
        options.repair = true;
      } else if (a == "--merge-bandwidth") {
        const std::string v = value();
        if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6 || std::stoul(v) == 0) {
          throw std::invalid_argument("--merge-bandwidth takes a positive whole number of MiB/s");
        }
        options.mergeBandwidth = std::stoul(v);
      } else if (a == "--json") {
        json = true;
      } else if (a == "--dry-run") {
        options.dryRun = true;
      } else if (a == "--every") {
        every = parseDuration(value());
      } else if (a == "--state-dir") {
        stateDir = value();
      } else if (a == "--last") {
        last = std::stoul(value());
      } else if (a == "--cafile") {
        options.tls.caFile = value();
      } else if (a == "--insecure") {
        options.tls.insecure = true;
      } else {
        throw std::invalid_argument("unknown argument '" + a + "' (see --help)");
      }
    }
    if (historyMode) return history(stateDir, last, json);
    const auto sep = secondary.find("::");
    if (options.hosts.empty() || options.volume.empty() || sep == std::string::npos) {
      throw std::invalid_argument("--hosts, --volume and --secondary HOST::VOLUME are required");
    }
    options.secondaryHost = secondary.substr(0, sep);
    options.secondaryVolume = secondary.substr(sep + 2);
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: " << e.what() << "\n";
    return kUsage;
  }

  struct sigaction sa {};
  sa.sa_handler = [](int) {
    g_stop = true;
    g_stopWake.notify_all();
  };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  int rc = 0;
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    const Json::Value report = runCycle(options, progressPrinter(json));
    rc = report["outcome"].asInt();
    if (!options.dryRun) {
      try {
        saveReport(stateDir, report);
      } catch (const std::exception& e) {
        std::cerr << "gdr-sync: cannot keep the report under " << stateDir << ": " << e.what() << "\n";
      }
    }
    if (json) {
      std::cout << gdr::json::pretty(report) << "\n";
    } else {
      printSummary(report);
    }
    std::cout.flush();
    std::fflush(stdout);
    if (!every || g_stop) break;
    std::unique_lock<std::mutex> lock(g_stopMutex);
    g_stopWake.wait_until(lock, started + *every, [] { return g_stop.load(); });
    if (g_stop) break;
  }
  return rc;
}
