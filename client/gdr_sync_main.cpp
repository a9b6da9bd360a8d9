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

#include "client/alerts.h"
#include "client/cycle.h"
#include "client/metrics.h"
#include "client/report_store.h"
#include "client/rpo_check.h"
#include "core/clock.h"
#include "core/durable_file.h"
#include "core/json_util.h"
#include "core/uuid.h"

namespace {

namespace fs = std::filesystem;
using namespace gdr::sync;

const char* const kUsageText =
    "Usage: gdr-sync --hosts H1[,H2...] --volume PRIMARY --secondary HOST::VOLUME\n"
    "                [--verify none|sample|shards|full] [--timeout DURATION] [--json] [--dry-run] [--every DURATION]\n"
    "                [--repair] [--merge-bandwidth MIB_S] [--state-dir DIR]\n"
    "                [--cafile F --cert F --key F | --insecure]\n"
    "                [--keep-points N] [--layout delta|flat] [--metrics-file FILE]\n"
    "                [--alert-webhook URL [--alert-token-file F]] [--alert-command CMD]\n"
    "                [--alert-mail ADDR[,ADDR...]] [--alert-syslog] [--alert-on failure|always]\n"
    "       gdr-sync history [--state-dir DIR] [--last N] [--json]\n"
    "       gdr-sync points --hosts H --secondary HOST::VOLUME [--json] [TLS options]\n"
    "       gdr-sync check [--state-dir DIR] [--warning DURATION] [--critical DURATION]\n"
    "\n"
    "Runs a disaster-recovery cycle: snapshots every VM on PRIMARY on the hosts,\n"
    "geo-replicates a checkpoint to the secondary, checks the copies there, seals\n"
    "the recovery point, and commits (or merges back). A host is unix:/path/to/socket\n"
    "or https://host:port. --verify checks that the secondary holds each piece of\n"
    "each base under the primary's gluster id, then compares content on both sides\n"
    "(default sample: 16 ranges of 1 MiB; shards: 64 KiB of every 4 MiB, locating\n"
    "what differs; full: every byte; none: headers only). A piece held under\n"
    "another id is marked for resync and synced once more. --repair (with shards)\n"
    "does the same for content that differs (experimental).\n"
    "--timeout bounds the geo-replication step (default 10m);\n"
    "--merge-bandwidth caps each merge's copy rate in MiB/s (default: unlimited);\n"
    "--every repeats the cycle at that interval until SIGTERM.\n"
    "--metrics-file writes Prometheus metrics there after each cycle (for\n"
    "node_exporter's textfile collector: a FILE.prom in its directory).\n"
    "Alerts go, once the cycle has ended, to any of: a webhook (the report POSTed\n"
    "as JSON, a bearer token from --alert-token-file, 3 attempts), a command\n"
    "(/bin/sh -c; the report on stdin, GDR_STATUS, GDR_ALERT, ... in its\n"
    "environment), mail through /usr/sbin/sendmail, syslog (err, or notice for a\n"
    "success). --alert-on always: every cycle, not only those that failed. A\n"
    "delivery that fails is said and kept in the report; the exit code stays the\n"
    "cycle's.\n"
    "Each cycle writes its recovery point's manifest (.gdr/points/ID.json: every\n"
    "VM's definition, every base's sizes and sampled checksums) on the primary\n"
    "before the sync; after a successful cycle the newest --keep-points (3) are kept.\n"
    "--layout delta (the default) keeps --keep-points complete recovery points on\n"
    "the secondary at every moment, a sync under way included: each VM runs on a\n"
    "chain of frozen overlays (the points' deltas, at most 32) and the overlay it\n"
    "writes; a cycle freezes that one, ships it, and only then commits the oldest\n"
    "delta into the base (each change crosses the WAN twice). --layout flat\n"
    "deletes the overlays on the secondary and merges them back, rewriting the\n"
    "secondary's bases in place: a disaster during a sync can leave them torn.\n"
    "`points` lists the recovery points the secondary holds, newest first, each\n"
    "checked against its manifest (complete, incomplete, superseded), through the\n"
    "first host's agent; it exits 0 when one is complete, 1 when none is.\n"
    "`check` is a monitoring plugin (Nagios, Icinga, Sensu): from the kept reports\n"
    "only, the age of the newest successful cycle's recovery point against\n"
    "--warning (1h) and --critical (2h), one status line with perfdata, exit\n"
    "0/1/2/3 for OK/WARNING/CRITICAL/UNKNOWN.\n"
    "\n"
    "Exit codes: 0 success; 1 a step failed after the snapshots (every VM merged\n"
    "back; the report's alert names the step); 2 usage; 3 failed before any\n"
    "snapshot (nothing changed); 4 some VM could not be merged back (critical).\n";

// SIGTERM/SIGINT are blocked in every thread and taken by one thread with
// sigwait(), which may then use any call: a signal handler may not (notify
// on a condition variable is not async-signal-safe).
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);  // before any other thread exists
    waiter_ = std::thread([this] {
      int signal = 0;
      sigwait(&set_, &signal);
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      wake_.notify_all();
    });
    waiter_.detach();  // lives as long as the process; exit does not wait for it
  }
  bool stopped() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_;
  }
  // Sleeps until `until` or a stop signal; true when stopped.
  bool sleepUntil(std::chrono::steady_clock::time_point until) {
    std::unique_lock<std::mutex> lock(mutex_);
    return wake_.wait_until(lock, until, [this] { return stop_; });
  }

 private:
  sigset_t set_;
  std::thread waiter_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

std::string stamp(std::int64_t epoch) { return utcStamp(epoch); }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// A secret kept in a file (the webhook's token): its first line. Not in
// the arguments, where every user of the host could read it.
std::string readSecret(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) throw std::invalid_argument("cannot read a token from " + path);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty() || line.size() > 4096 ||
      std::any_of(line.begin(), line.end(), [](unsigned char c) { return c < ' ' || c == 0x7f; })) {
    throw std::invalid_argument(path + " holds no token on its first line");
  }
  return line;
}

// One of the --alert-* flags that take a value (webhook, token-file,
// command, mail, on), checked.
void parseAlertFlag(const std::string& flag, const std::string& v, AlertTargets& alerts) {
  if (flag == "--alert-webhook") {
    if ((v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) ||
        v.find_first_of(" \t\r\n") != std::string::npos) {
      throw std::invalid_argument("--alert-webhook takes an http:// or https:// URL");
    }
    alerts.webhookUrl = v;
  } else if (flag == "--alert-token-file") {
    alerts.webhookToken = readSecret(v);
  } else if (flag == "--alert-command") {
    if (v.empty()) throw std::invalid_argument("--alert-command takes a command");
    alerts.command = v;
  } else if (flag == "--alert-mail") {
    alerts.mailTo = split(v, ',');
    for (const auto& address : alerts.mailTo) {
      if (address.find('@') == std::string::npos || address[0] == '-' ||
          std::any_of(address.begin(), address.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
        throw std::invalid_argument("--alert-mail takes mail addresses, separated by commas: '" + address + "'");
      }
    }
  } else if (flag == "--alert-on") {
    if (v != "failure" && v != "always") throw std::invalid_argument("--alert-on takes failure or always");
    alerts.everyCycle = v == "always";
  }
}

// Once a cycle has ended (its merge-back done): tell who asked, keep the
// report under `stateDir` (none: a dry run, nothing kept), write the
// metrics. None of it changes the cycle's outcome: what fails is said.
void afterCycle(Json::Value& report, const AlertTargets& alerts, const std::string& stateDir,
                const std::string& metricsFile) {
  const std::vector<Delivery> deliveries = deliverAlerts(report, alerts, systemAlertTransport());
  if (!deliveries.empty()) report["alerts"] = deliveriesJson(deliveries);
  for (const auto& d : deliveries) {
    if (!d.ok) std::cerr << "gdr-sync: the alert did not reach the " << d.target << ": " << d.error << "\n";
  }
  if (stateDir.empty()) return;
  try {
    saveReport(stateDir, report);
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: cannot keep the report under " << stateDir << ": " << e.what() << "\n";
  }
  if (metricsFile.empty()) return;
  try {
    // The kept reports are read only for a failed cycle: they hold the last success.
    const Json::Value history =
        report["status"] == "success" ? Json::Value(Json::arrayValue) : reportHistory(stateDir, 1000);
    gdr::writeFileDurably(metricsFile, cycleMetrics(report, history, std::time(nullptr)), 0644);
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: cannot write the metrics to " << metricsFile << ": " << e.what() << "\n";
  }
}

int points(AgentApi& agent, const std::string& host, const std::string& volume, bool json) {
  const gdr::api::PointListResult list = agent.recoveryPointList({{host}, volume});
  const bool anyComplete =
      std::any_of(list.points.begin(), list.points.end(), [](const auto& p) { return p.state == "complete"; });
  if (json) {
    std::cout << gdr::json::pretty(gdr::api::encode(list)) << "\n";
    return anyComplete ? 0 : 1;
  }
  std::printf("%-26s %-20s %-11s %4s %10s  %s\n", "point", "time (UTC)", "state", "VMs", "MiB", "problems");
  for (const auto& p : list.points) {
    std::string problems;
    for (const auto& q : p.problems)
      problems += (problems.empty() ? "" : "; ") + (q.vm.empty() ? "" : q.vm + " ") + q.what + ": " + q.why;
    if (!p.basesUnderway.empty() && problems.empty()) {
      problems = std::to_string(p.basesUnderway.size()) + " base(s) being updated under their delta";
    }
    std::printf("%-26s %-20s %-11s %4zu %10.1f  %s\n", p.id.c_str(), stamp(p.time).c_str(), p.state.c_str(),
                p.vms.size(), double(p.bytes) / (1 << 20), problems.c_str());
  }
  if (!anyComplete) std::printf("no complete recovery point on %s::%s\n", host.c_str(), volume.c_str());
  return anyComplete ? 0 : 1;
}

int check(const std::string& stateDir, const RpoThresholds& thresholds) {
  // Far enough back to find the last success of any farm worth watching.
  const Json::Value history = reportHistory(stateDir, 1000);
  const std::string where =
      history.empty() ? "state dir " + stateDir : "volume " + history[history.size() - 1]["volume"].asString();
  const RpoCheck result = checkRpo(history, gdr::nowSeconds(), thresholds, where);
  std::cout << result.line << "\n";
  return result.status;
}

int history(const std::string& stateDir, size_t last, bool json) {
  const Json::Value all = reportHistory(stateDir, last);
  if (json) {
    std::cout << gdr::json::pretty(all) << "\n";
    return 0;
  }
  std::printf("%-20s %9s  %-8s %-20s %4s  %s\n", "start (UTC)", "duration", "status", "recovery point (UTC)", "VMs",
              "alert");
  for (const auto& r : all) {
    const std::string start = stamp(r["startTime"].asInt64());
    std::printf("%-20s %8.1fs  %-8s %-20s %4u  %s\n", start.c_str(), r["duration"].asDouble(), r["status"].asCString(),
                r["recoveryPoint"].isInt64() ? stamp(r["recoveryPoint"].asInt64()).c_str() : "-", r["vms"].asUInt(),
                r["alert"].isString() ? r["alert"].asCString() : "");
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
  if (report["recoveryPoint"].isInt64()) {
    std::printf(", recovery point %s UTC", stamp(report["recoveryPoint"].asInt64()).c_str());
  }
  std::printf("\n");
  for (const auto& s : report["steps"]) {
    std::printf("  %-15s %-7s %7.2f s%s%s\n", s["step"].asCString(), s["status"].asCString(), s["duration"].asDouble(),
                s.isMember("error") ? "  " : "", s.isMember("error") ? s["error"].asCString() : "");
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
  std::vector<std::string> hosts;
  AgentOptions agentOptions;
  std::string stateDir = "/var/lib/gdr/sync";
  std::string secondary;
  bool json = false;
  std::optional<std::chrono::seconds> every;
  std::string metricsFile;
  AlertTargets alerts;
  size_t last = 20;
  bool historyMode = false;
  bool pointsMode = false;
  bool checkMode = false;
  RpoThresholds thresholds;
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
      } else if (a == "points") {
        pointsMode = true;
      } else if (a == "check") {
        checkMode = true;
      } else if (a == "--warning") {
        thresholds.warning = parseDuration(value());
      } else if (a == "--critical") {
        thresholds.critical = parseDuration(value());
      } else if (a == "--keep-points") {
        const std::string v = value();
        if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 4 || std::stoi(v) == 0) {
          throw std::invalid_argument("--keep-points takes a whole number from 1 to 9999");
        }
        options.keepPoints = std::stoi(v);
      } else if (a == "--layout") {
        const std::string v = value();
        if (v != "flat" && v != "delta") throw std::invalid_argument("--layout takes flat or delta");
        options.layout = v == "delta" ? Layout::Delta : Layout::Flat;
      } else if (a == "--hosts") {
        hosts = split(value(), ',');
      } else if (a == "--volume") {
        options.volume = value();
      } else if (a == "--secondary") {
        secondary = value();
      } else if (a == "--verify") {
        const auto mode = gdr::api::enumFromName<VerifyMode>(value());
        if (!mode) throw std::invalid_argument("--verify takes none, sample, shards or full");
        options.verify = *mode;
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
      } else if (a == "--metrics-file") {
        metricsFile = value();
      } else if (a == "--alert-syslog") {
        alerts.syslog = true;
      } else if (a == "--alert-webhook" || a == "--alert-token-file" || a == "--alert-command" || a == "--alert-mail" ||
                 a == "--alert-on") {
        parseAlertFlag(a, value(), alerts);
      } else if (a == "--every") {
        every = parseDuration(value());
      } else if (a == "--state-dir") {
        stateDir = value();
      } else if (a == "--last") {
        last = std::stoul(value());
      } else if (a == "--cafile") {
        agentOptions.tls.caFile = value();
      } else if (a == "--cert") {
        agentOptions.tls.certFile = value();
      } else if (a == "--key") {
        agentOptions.tls.keyFile = value();
      } else if (a == "--insecure") {
        agentOptions.tls.insecure = true;
      } else {
        throw std::invalid_argument("unknown argument '" + a + "' (see --help)");
      }
    }
    if (historyMode) return history(stateDir, last, json);
    if (checkMode) {
      if (thresholds.critical < thresholds.warning) throw std::invalid_argument("--critical is below --warning");
      return check(stateDir, thresholds);
    }
    const auto sep = secondary.find("::");
    if (hosts.empty() || (options.volume.empty() && !pointsMode) || sep == std::string::npos) {
      throw std::invalid_argument(pointsMode ? "--hosts and --secondary HOST::VOLUME are required"
                                             : "--hosts, --volume and --secondary HOST::VOLUME are required");
    }
    options.secondaryHost = secondary.substr(0, sep);
    options.secondaryVolume = secondary.substr(sep + 2);
    if (options.layout == Layout::Delta && options.keepPoints > kMaxDeltaPoints) {
      throw std::invalid_argument("--keep-points in the delta layout is at most " + std::to_string(kMaxDeltaPoints) +
                                  ": each point kept apart is an image in every VM's chain");
    }
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: " << e.what() << "\n";
    // A monitoring plugin's own trouble is UNKNOWN (3), never CRITICAL (2).
    if (checkMode) std::cout << "GDR UNKNOWN - " << e.what() << "\n";
    return checkMode ? int(kCheckUnknown) : int(kUsage);
  }

  if (pointsMode) {
    try {
      RpcAgent agent(hosts.front(), agentOptions, "gdr-sync-points-" + gdr::newUuid().substr(0, 8));
      return points(agent, options.secondaryHost, options.secondaryVolume, json);
    } catch (const std::exception& e) {
      std::cerr << "gdr-sync: cannot list the recovery points: " << e.what() << "\n";
      return kFailedUnchanged;
    }
  }

  // A cycle this process does not finish (kill -9, reboot) is finished by
  // the next run, from the journal in the state dir.
  FileCycleJournal journal(stateDir);
  options.journal = &journal;
  // Never destroyed: its thread may still be in sigwait() while the process
  // exits. Held by a static, so it stays reachable (no leak to report).
  static StopSignals* const stopSignals = new StopSignals;
  StopSignals& signals = *stopSignals;
  int rc = 0;
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    options.flowId = "gdr-sync-" + gdr::newUuid().substr(0, 8);
    // One agent per host, its connections kept for the whole cycle.
    std::vector<std::unique_ptr<RpcAgent>> agents;
    std::vector<AgentApi*> seams;
    for (const auto& host : hosts) {
      agents.push_back(std::make_unique<RpcAgent>(host, agentOptions, options.flowId));
      seams.push_back(agents.back().get());
    }
    Json::Value report = runCycle(options, seams, progressPrinter(json));
    rc = report["outcome"].asInt();
    afterCycle(report, alerts, options.dryRun ? std::string() : stateDir, metricsFile);
    if (json) {
      std::cout << gdr::json::pretty(report) << "\n";
    } else {
      printSummary(report);
    }
    std::cout.flush();
    std::fflush(stdout);
    if (!every || signals.stopped()) break;
    if (signals.sleepUntil(started + *every)) break;
  }
  return rc;
}
