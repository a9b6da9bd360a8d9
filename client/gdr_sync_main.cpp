// gdr-sync: runs disaster-recovery cycles for one primary volume across the
// gdr-agents of its hosts (the engine's role), and keeps their reports.
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "client/alerts.h"
#include "client/cycle.h"
#include "client/failback.h"
#include "client/failback_sites.h"
#include "client/failover_plan.h"
#include "client/metrics.h"
#include "client/progress_lines.h"
#include "client/report_store.h"
#include "client/rpo_check.h"
#include "client/state_lock.h"
#include "client/sync_settings.h"
#include "core/clock.h"
#include "core/durable_file.h"
#include "core/json_util.h"
#include "core/uuid.h"

namespace {

namespace fs = std::filesystem;
using namespace gdr::sync;

const char* const kUsageText =
    "Usage: gdr-sync --hosts H1[,H2...] --volume PRIMARY --secondary HOST::VOLUME [OPTIONS]\n"
    "       gdr-sync --domain NAME [--if-due] [OPTIONS]\n"
    "       gdr-sync history [--domain NAME | --state-dir DIR] [--last N] [--json]\n"
    "       gdr-sync points (--domain NAME | --hosts H --secondary HOST::VOLUME) [--json] [TLS options]\n"
    "       gdr-sync check [--domain NAME | --state-dir DIR] [--warning DURATION] [--target-rpo DURATION]\n"
    "       gdr-sync setup (--domain NAME | --hosts H --volume PRIMARY --secondary HOST::VOLUME)\n"
    "                      --secondary-agent URL [--json] [TLS options]\n"
    "       gdr-sync drill --secondary HOST::VOLUME --secondary-agent URL [--point ID]\n"
    "                      [--vms NAME[,NAME...]] [--boot-timeout DURATION] [--json] [TLS options]\n"
    "       gdr-sync failover --secondary HOST::VOLUME --secondary-agent URL (--hosts H | --force)\n"
    "                      [--point ID] [--mapping FILE] [--boot-timeout DURATION] [--json] [TLS options]\n"
    "       gdr-sync failback --hosts H1[,H2...] --volume VOLUME --secondary HOST::VOLUME\n"
    "                      --secondary-agent URL [--restore-host HOST] [--mapping FILE] [OPTIONS]\n"
    "\n"
    "Options: [--verify none|sample|shards|full] [--timeout DURATION] [--json] [--dry-run]\n"
    "         [--every DURATION] [--no-repair] [--merge-bandwidth MIB_S|auto|unlimited] [--state-dir DIR]\n"
    "         [--cafile F --cert F --key F | --insecure] [--keep-points N] [--layout delta|flat]\n"
    "         [--session keep|stop] [--georep-start after-rollover|at-once]\n"
    "         [--metrics-file FILE] [--target-rpo DURATION] [--rpo-warning DURATION]\n"
    "         [--alert-webhook URL [--alert-token-file F]] [--alert-command CMD]\n"
    "         [--alert-mail ADDR[,ADDR...]] [--alert-syslog] [--alert-on failure|always]\n"
    "         [--config-dir DIR] [--interval DURATION]\n"
    "\n"
    "Runs a disaster-recovery cycle: snapshots every VM on PRIMARY on the hosts,\n"
    "geo-replicates a checkpoint to the secondary, checks the copies there, seals\n"
    "the recovery point, and commits (or merges back). A host is unix:/path/to/socket\n"
    "or https://host:port. --verify checks that the secondary holds each piece of\n"
    "each base under the primary's gluster id, then compares content on both sides\n"
    "(default sample: 16 ranges of 1 MiB; shards: 64 KiB of every 4 MiB, locating\n"
    "what differs; full: every byte, 4 MiB by 4 MiB, locating what differs; none:\n"
    "headers only); the point's deltas are compared byte for byte in every mode\n"
    "but none. A piece held under\n"
    "another id, or content that differs (located by the shards check), is marked\n"
    "for resync, synced once more and checked again; --no-repair fails the cycle\n"
    "at once instead.\n"
    "--timeout bounds the geo-replication step (default 10m);\n"
    "--merge-bandwidth paces the merges (default auto: each at 4 times the rate\n"
    "its VM wrote the image, at least 4 MiB/s, so that a guest keeps most of its\n"
    "disk meanwhile; an empty image at full speed); a number caps\n"
    "each merge's copy rate in MiB/s; unlimited copies at full speed;\n"
    "--every repeats the cycle at that interval until SIGTERM.\n"
    "\n"
    "Storage domains: --domain NAME reads CONFIG_DIR/NAME.conf (--config-dir,\n"
    "default /etc/gdr/sync.d): 'key = value' lines, the keys the options' names\n"
    "with '_' for '-' (hosts, volume, secondary, verify, interval, target_rpo,\n"
    "alert_mail, ...; yes/no for repair, alert_syslog, insecure), '#' comment\n"
    "lines. Flags override the file. A domain's state is under\n"
    "/var/lib/gdr/sync/NAME unless state_dir says otherwise. One cycle at a time\n"
    "per state dir: a second is refused (exit 3). --if-due (gdr-sync@NAME.timer)\n"
    "starts a cycle only once the domain's interval has passed since the last,\n"
    "and leaves it (exit 0) to a gdr-sync that holds the state dir. With\n"
    "state_dir on gluster's shared storage (/run/gluster/shared_storage/...)\n"
    "every primary host's timer can fire: one runs the cycle, and when its\n"
    "host dies mid-cycle the next holder finishes that cycle from its journal.\n"
    "\n"
    "RPO: --target-rpo (default 2h) is the age the newest recovery point may not\n"
    "exceed; --rpo-warning (default half the target, at most 1h) warns before.\n"
    "Each report carries the point's age (rpo); a cycle after which it is older\n"
    "than the target raises an alert. --metrics-file writes Prometheus metrics\n"
    "there after each cycle (for node_exporter's textfile collector: a FILE.prom\n"
    "in its directory).\n"
    "Alerts go, once the cycle has ended, to any of: a webhook (the report POSTed\n"
    "as JSON, a bearer token from --alert-token-file, 3 attempts), a command\n"
    "(/bin/sh -c; the report on stdin, GDR_STATUS, GDR_ALERT, GDR_RPO_AGE, ... in\n"
    "its environment), mail through /usr/sbin/sendmail, syslog (err, or notice\n"
    "for a success). --alert-on always: every cycle, not only those that failed\n"
    "or breached the RPO. A delivery that fails is said and kept in the report;\n"
    "the exit code stays the cycle's.\n"
    "\n"
    "setup creates the geo-replication session PRIMARY -> HOST::VOLUME as oVirt's\n"
    "engine does through VDSM, checking each step: the secondary volume must be\n"
    "empty (read by the secondary's agent, --secondary-agent), the primary pool's\n"
    "keys (gsec_create) go into root's authorized_keys there, the session is\n"
    "created without gluster's ssh check (no-verify) and set to compare every\n"
    "changed file (rsync --ignore-times), and the secondary volume is made\n"
    "read-only (features.read-only on: only geo-replication writes there). It is\n"
    "left Created: each cycle starts it. A session that exists is only set again.\n"
    "Exit 1 names the failed step.\n"
    "\n"
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
    "--session stop (the default) stops the geo-replication session after each\n"
    "sync. --session keep (delta layout only; experimental) leaves it running:\n"
    "the next sync needs no worker start-up, but a sealed point's files were\n"
    "seen changing on the secondary afterwards (see README).\n"
    "--georep-start after-rollover (the default) starts a stopped session only\n"
    "once every brick has rolled a changelog past the checkpoint (up to the\n"
    "volume's changelog.rollover-time, 15 s, after it): the workers then reach\n"
    "the checkpoint by their history crawl, where a live start can stall (see\n"
    "README, \"A geo-rep worker can stall\"). at-once starts it right away.\n"
    "`points` lists the recovery points the secondary holds, newest first, each\n"
    "checked against its manifest (complete, incomplete, superseded), through the\n"
    "first host's agent; it exits 0 when one is complete, 1 when none is.\n"
    "`drill` boots the VMs of a recovery point (default: the newest complete one)\n"
    "at the secondary, through its agent (--secondary-agent, on a host that mounts\n"
    "the secondary volume), and changes nothing: each copy runs under a new name\n"
    "and UUID, without network interfaces, on a throwaway overlay over the point's\n"
    "images, and passes once its guest does disk I/O (within --boot-timeout,\n"
    "default 3m); then every copy is destroyed. Cycles go on meanwhile. Each\n"
    "VM's result and boot time are printed and the report kept under\n"
    "STATE_DIR/drills; exit 0 when every VM passed, 1 when one failed, 3 when\n"
    "no drill could start (no complete point, the agent refused).\n"
    "`failover` makes the secondary the live site when the primary is gone: the\n"
    "point (default: the newest complete one) is checked, the geo-replication\n"
    "keys are taken out of the secondary's authorized_keys (kept aside in the\n"
    "agent's state dir), features.read-only is switched off, and every VM of the\n"
    "point is defined and started at the secondary under its own name and UUID,\n"
    "in --mapping's priority order, its disks on new overlays beside the point's\n"
    "images. --mapping FILE (JSON) translates networks, bridges and host paths:\n"
    "{\"networks\": {\"prod\": \"dr-prod\"}, \"bridges\": {}, \"paths\": {\"/iso/\":\n"
    "\"/dr/iso/\"}, \"priority\": {\"db\": 1, \"web\": 2}}. It is refused (exit 3,\n"
    "nothing changed) while any primary agent of --hosts answers; --force\n"
    "declares the site gone anyway. Each VM's RTO (from the command to its\n"
    "guest's first disk I/O) is printed and the report kept under\n"
    "STATE_DIR/failovers; exit 0 when every VM runs, 1 when one failed (the\n"
    "others keep running), 3 when no failover started.\n"
    "`failback` brings the VMs that a failover started back to the primary site,\n"
    "run where they run now: --hosts their agents, --volume the volume they run\n"
    "from, --secondary the primary site's empty volume, --secondary-agent an\n"
    "agent there. In stages, each kept in STATE_DIR/failback.json before it acts\n"
    "(a run that stops is resumed by the next, from where it stood): PROTECT sets\n"
    "the reverse session up (as setup), CATCH_UP runs a cycle toward the primary\n"
    "with the VMs running, PAUSE pauses every VM (the window opens), LAST runs a\n"
    "last cycle, SWITCH fails over to the primary from its point (as failover,\n"
    "forced: these VMs are paused, not gone), POWER_OFF powers the paused copies\n"
    "off, RESTORE removes the reverse session and every other session into\n"
    "VOLUME (the one the disaster stopped would write stale data) and sets the\n"
    "original direction up onto VOLUME once the point's files check out there\n"
    "(--restore-host names this site as that session does; default: the host\n"
    "of the first --hosts URL). A failure before SWITCH resumes the VMs here;\n"
    "from SWITCH on they are never resumed here. Exit 0 when done, 1 when a\n"
    "stage failed (named; run failback again to go on).\n"
    "`history` lists the kept reports, oldest first: cycles, drills, failovers\n"
    "and failbacks (each run), with kind, duration, status and recovery point.\n"
    "`check` is a monitoring plugin (Nagios, Icinga, Sensu): from the kept reports\n"
    "only, the age of the newest successful cycle's recovery point against the\n"
    "warning and the target RPO, one status line with perfdata, exit 0/1/2/3 for\n"
    "OK/WARNING/CRITICAL/UNKNOWN. Without --domain or --state-dir it checks every\n"
    "domain CONFIG_DIR holds (the worst decides), or the default state dir when\n"
    "there is none.\n"
    "\n"
    "Exit codes: 0 success (or, with --if-due, no cycle due); 1 a step failed\n"
    "after the snapshots (every VM merged back; the report's alert names the\n"
    "step); 2 usage; 3 failed before any snapshot (nothing changed; another\n"
    "cycle of the domain running included); 4 some VM could not be merged back\n"
    "(critical); 5 some host did not answer: the VMs it ran at the last cycle\n"
    "are named unprotected, the other hosts' VMs completed the cycle (alert).\n";

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

// Once a cycle has ended (its merge-back done): judge its RPO, tell who
// asked, keep the report (not for a dry run), write the metrics. None of
// it changes the cycle's outcome: what fails is said.
void afterCycle(Json::Value& report, const SyncSettings& settings) {
  if (!settings.domain.empty()) report["domain"] = settings.domain;
  const bool keep = !settings.cycle.dryRun;
  // The kept reports hold the last success: read them unless this cycle is one.
  Json::Value history(Json::arrayValue);
  if (keep && report["status"] != "success") {
    try {
      history = reportHistory(settings.stateDir, 1000);
    } catch (const std::exception& e) {
      std::cerr << "gdr-sync: cannot read the kept reports under " << settings.stateDir << ": " << e.what() << "\n";
    }
  }
  const std::int64_t now = gdr::nowSeconds();
  if (keep) report["rpo"] = rpoStatus(report, history, now, settings.rpo.critical);
  const std::vector<Delivery> deliveries = deliverAlerts(report, settings.alerts, systemAlertTransport());
  if (!deliveries.empty()) report["alerts"] = deliveriesJson(deliveries);
  for (const auto& d : deliveries) {
    if (!d.ok) std::cerr << "gdr-sync: the alert did not reach the " << d.target << ": " << d.error << "\n";
  }
  if (!keep) return;
  try {
    saveReport(settings.stateDir, report);
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: cannot keep the report under " << settings.stateDir << ": " << e.what() << "\n";
  }
  if (settings.metricsFile.empty()) return;
  try {
    gdr::writeFileDurably(settings.metricsFile, cycleMetrics(report, history, now, settings.rpo.critical), 0644);
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: cannot write the metrics to " << settings.metricsFile << ": " << e.what() << "\n";
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

RpoCheck checkStateDir(const std::string& stateDir, const RpoThresholds& thresholds, const std::string& domain) {
  // Far enough back to find the last success of any farm worth watching.
  const Json::Value history = reportHistory(stateDir, 1000);
  const std::string where = !domain.empty()   ? "domain " + domain
                            : history.empty() ? "state dir " + stateDir
                                              : "volume " + history[history.size() - 1]["volume"].asString();
  return checkRpo(history, gdr::nowSeconds(), thresholds, where);
}

// One domain (or state dir), or every domain the config dir holds when
// neither is named: the worst decides. A domain whose file cannot be read
// is UNKNOWN, and the others are still checked.
int check(const SyncSettings& settings) {
  const std::vector<std::string> domains =
      settings.domain.empty() && !settings.stateDirNamed ? listDomains(settings.configDir) : std::vector<std::string>{};
  if (domains.empty()) {
    const RpoCheck result = checkStateDir(settings.stateDir, settings.rpo, settings.domain);
    std::cout << result.line << "\n";
    return result.status;
  }
  std::vector<std::pair<std::string, RpoCheck>> checks;
  for (const auto& name : domains) {
    try {
      const SyncSettings domain = domainSettings(settings.configDir, name);
      checks.emplace_back(name, checkStateDir(domain.stateDir, domain.rpo, name));
    } catch (const std::exception& e) {
      checks.emplace_back(name, unknownCheck("domain " + name, e.what()));
    }
  }
  const RpoCheck result = checks.size() == 1 ? checks.front().second : combineChecks(checks);
  std::cout << result.line << "\n";
  return result.status;
}

int history(const std::string& stateDir, size_t last, bool json) {
  const Json::Value all = fullHistory(stateDir, last);
  if (json) {
    std::cout << gdr::json::pretty(all) << "\n";
    return 0;
  }
  std::printf("%-20s %-8s %9s  %-8s %-20s %4s  %s\n", "start (UTC)", "kind", "duration", "status",
              "recovery point (UTC)", "VMs", "alert");
  for (const auto& r : all) {
    const std::string start = stamp(r["startTime"].asInt64());
    std::printf("%-20s %-8s %8.1fs  %-8s %-20s %4u  %s\n", start.c_str(), r["kind"].asCString(),
                r["duration"].asDouble(), r["status"].asCString(),
                r["recoveryPoint"].isInt64() ? stamp(r["recoveryPoint"].asInt64()).c_str() : "-", r["vms"].asUInt(),
                r["alert"].isString() ? r["alert"].asCString() : "");
  }
  return 0;
}

// Progress on stderr: a live line per step on a terminal, new lines only
// otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), lines_(terminalColumns()) {}
  ProgressFn fn() {
    return [this](const std::string& step, const std::string& detail, bool done) {
      if (quiet_) return;
      std::lock_guard<std::mutex> lock(mutex_);
      std::fputs(lines_.update(step, detail, done).c_str(), stderr);
    };
  }
  void finish() {
    if (!quiet_) std::fputs(lines_.finish().c_str(), stderr);
  }

 private:
  static size_t terminalColumns() {
    if (!::isatty(STDERR_FILENO)) return 0;
    winsize size{};
    return ::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : 80;
  }
  bool quiet_;
  std::mutex mutex_;
  ProgressLines lines_;
};

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

// `setup`: the session from the primary's agent to the secondary's, step by
// step, each printed as it ends. 0 once set up, 1 when a step failed.
int setup(const SyncSettings& settings) {
  const std::string flow = "gdr-sync-setup-" + gdr::newUuid().substr(0, 8);
  RpcAgent primary(settings.hosts.front(), settings.agent, flow);
  RpcAgent secondary(settings.secondaryAgent, settings.agent, flow);
  const SessionSetupRequest request{settings.cycle.volume, settings.cycle.secondaryHost, settings.cycle.secondaryVolume,
                                    ""};
  const SessionSetupReport report = setupSession(primary, secondary, request, [&](const SessionSetupStep& s) {
    if (!settings.json) std::printf("%-9s %s  %s\n", s.step.c_str(), s.ok ? "ok    " : "FAILED", s.detail.c_str());
  });
  if (settings.json) {
    Json::Value out;
    out["status"] = report.failure.empty() ? "success" : "failed";
    out["existed"] = report.existed;
    out["created"] = report.created;
    for (const auto& s : report.steps) {
      Json::Value step;
      step["step"] = s.step;
      step["ok"] = s.ok;
      step["detail"] = s.detail;
      out["steps"].append(step);
    }
    if (!report.failure.empty()) out["failure"] = report.failure;
    for (const auto& w : report.workers) out["workers"].append(w);
    std::cout << gdr::json::pretty(out) << "\n";
  } else if (report.failure.empty()) {
    std::printf("geo-replication %s -> %s::%s %s; gdr-sync starts it each cycle\n", request.volume.c_str(),
                request.secondaryHost.c_str(), request.secondaryVolume.c_str(),
                report.existed ? "was set up already" : "set up");
  }
  return report.failure.empty() ? kSuccess : kFailedMergedBack;
}

// Follows a recovery job to its end, each new state on its own line
// unless --json. Throws when the agent is lost.
gdr::api::Job followJob(RpcAgent& agent, const std::string& jobId, bool json, std::chrono::seconds timeout) {
  std::string lastState;
  return agent.waitJob(
      jobId,
      [&](const gdr::api::Job& j) {
        if (j.state != lastState && !json) std::printf("  %s\n", j.state.c_str());
        lastState = j.state;
      },
      timeout);
}

// What a drill's and a failover's reports share.
Json::Value recoveryReport(const char* kind, const std::string& flow, const std::string& jobId,
                           const std::string& where, const gdr::api::Job& job, const std::string& point,
                           std::int64_t pointTime, std::chrono::steady_clock::time_point started) {
  Json::Value report;
  report["kind"] = kind;
  report["flowId"] = flow;
  report["jobId"] = jobId;
  report["secondary"] = where;
  report["point"] = point;
  report["pointTime"] = Json::Int64(pointTime);
  report["status"] = job.done() ? "success" : "failed";
  report["state"] = job.state;
  report["startTime"] = Json::Int64(job.startTime);
  report["duration"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

// Kept under DIR (history lists it); a report that cannot be kept says so.
void keepRecoveryReport(const std::string& dir, Json::Value& report) {
  try {
    saveReport(dir, report);
  } catch (const std::exception& e) {
    report["warnings"].append("the " + report["kind"].asString() + "'s report was not kept: " + e.what());
  }
}

// "CHECK 0.1 s, PROMOTE 0.6 s, ...": the time in each of `states`, as the job counted it.
void printStateSplit(const std::map<std::string, double>& stateSeconds, std::initializer_list<const char*> states) {
  std::string split;
  for (const char* state : states) {
    const auto it = stateSeconds.find(state);
    if (it == stateSeconds.end()) continue;
    char part[64];
    std::snprintf(part, sizeof part, "%s%s %.1f s", split.empty() ? "" : ", ", state, it->second);
    split += part;
  }
  if (!split.empty()) std::printf("%s\n", split.c_str());
}

// The newest complete point on the secondary, or "" when there is none.
std::string newestCompletePoint(RpcAgent& agent, const std::vector<std::string>& servers, const std::string& volume) {
  for (const auto& p : agent.recoveryPointList({servers, volume}).points) {
    if (p.state == "complete") return p.id;
  }
  return "";
}

// A VM the point lacked came from an older one: said, its RPO is that point's.
std::string whyWithPoint(const std::string& olderPoint, const std::string& why) {
  if (olderPoint.empty()) return why;
  return "from the older point " + olderPoint + (why.empty() ? "" : "; " + why);
}

// `drill`: the point's VMs booted at the secondary and destroyed again,
// through the secondary's agent; each VM's result printed, the report kept.
int drill(const SyncSettings& settings) {
  const std::string flow = "gdr-sync-drill-" + gdr::newUuid().substr(0, 8);
  const std::vector<std::string> servers{settings.cycle.secondaryHost};
  const std::string& volume = settings.cycle.secondaryVolume;
  const std::string where = settings.cycle.secondaryHost + "::" + volume;
  RpcAgent agent(settings.secondaryAgent, settings.agent, flow);
  std::string jobId, point = settings.point;
  try {
    if (point.empty()) point = newestCompletePoint(agent, servers, volume);
    if (point.empty()) {
      std::cerr << "gdr-sync: no complete recovery point on " << where << ": nothing to drill\n";
      return kFailedUnchanged;
    }
    jobId = agent.startDrill({servers, volume, point, settings.vms, settings.bootTimeout.count(), std::nullopt});
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: the drill did not start: " << e.what() << "\n";
    return kFailedUnchanged;
  }
  if (!settings.json) std::printf("drill of point %s on %s: job %s\n", point.c_str(), where.c_str(), jobId.c_str());
  const auto started = std::chrono::steady_clock::now();
  gdr::api::Job job;
  try {
    job = followJob(agent, jobId, settings.json, settings.bootTimeout + std::chrono::minutes(10));
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: lost the drill (job " << jobId << " on " << settings.secondaryAgent << "): " << e.what()
              << "\n";
    return kFailedMergedBack;
  }
  const auto details = gdr::api::decode<gdr::api::DrillJobDetails>(job.details);
  Json::Value report = recoveryReport("drill", flow, jobId, where, job, point, details.pointTime, started);
  report["vms"] = gdr::api::encode(details.vms);
  report["stateSeconds"] = gdr::api::encode(details.stateSeconds);
  if (job.error) report["alert"] = job.error->message;
  keepRecoveryReport(settings.stateDir + "/drills", report);
  if (settings.json) {
    std::cout << gdr::json::pretty(report) << "\n";
  } else {
    std::printf("%-28s %-7s %8s  %s\n", "VM", "result", "boot (s)", "why");
    for (const auto& vm : details.vms) {
      char boot[32] = "-";
      if (vm.bootSeconds) std::snprintf(boot, sizeof boot, "%.1f", *vm.bootSeconds);
      std::printf("%-28s %-7s %8s  %s\n", vm.name.c_str(), vm.result.c_str(), boot,
                  whyWithPoint(vm.pointId, vm.why).c_str());
    }
    printStateSplit(details.stateSeconds, {"CHECK", "PREPARE", "BOOT", "WATCH", "CLEANUP"});
    const std::string why = job.error ? ": " + job.error->message : "";
    std::printf("drill %s in %.0f s%s\n", job.done() ? "passed" : "FAILED", report["duration"].asDouble(), why.c_str());
    for (const auto& w : report["warnings"]) std::printf("WARNING: %s\n", w.asCString());
  }
  return job.done() ? kSuccess : kFailedMergedBack;
}

// The mapping file, read strictly. Throws naming the file or the mistake.
gdr::api::FailoverMapping readMapping(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("cannot read " + file);
  std::stringstream text;
  text << in.rdbuf();
  return parseMapping(text.str());
}

// --mapping's file into `mapping` (none: left empty); false, said, when it
// cannot be read.
bool loadMapping(const SyncSettings& settings, gdr::api::FailoverMapping& mapping) {
  if (settings.mappingFile.empty()) return true;
  try {
    mapping = readMapping(settings.mappingFile);
    return true;
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: " << e.what() << "\n";
    return false;
  }
}

// Is the primary gone? Each of its agents asked once, briefly.
std::vector<PrimaryProbe> probePrimary(const SyncSettings& settings, const std::string& flow) {
  std::vector<PrimaryProbe> probes;
  AgentOptions brief = settings.agent;
  brief.callTimeout = std::chrono::seconds(5);
  brief.reconnects = 0;
  for (const auto& host : settings.hosts) {
    PrimaryProbe probe{host, false, ""};
    try {
      RpcAgent(host, brief, flow).ping();
      probe.answered = true;
    } catch (const std::exception& e) {
      probe.error = e.what();
    }
    if (!settings.json) {
      std::printf("primary agent %s: %s\n", host.c_str(),
                  probe.answered ? "ANSWERS" : ("gone (" + probe.error + ")").c_str());
    }
    probes.push_back(probe);
  }
  return probes;
}

// The failover's report; each VM's RTO counted from the command: the agent
// counts from the job's start, and the probes of the primary came before it.
Json::Value failoverReport(const SyncSettings& settings, const std::string& flow, const std::string& jobId,
                           const gdr::api::Job& job, const gdr::api::FailoverJobDetails& details,
                           std::chrono::steady_clock::time_point commandStart, double beforeJob) {
  const std::string where = settings.cycle.secondaryHost + "::" + settings.cycle.secondaryVolume;
  Json::Value report =
      recoveryReport("failover", flow, jobId, where, job, details.pointId, details.pointTime, commandStart);
  report["forced"] = settings.force;
  report["mountPoint"] = details.mountPoint;
  report["fencedKeys"] = Json::UInt64(details.fencedKeys.size());
  report["fencedProcesses"] = gdr::api::encode(details.fencedProcesses);
  report["vms"] = gdr::api::encode(details.vms);
  report["stateSeconds"] = gdr::api::encode(details.stateSeconds);
  double rto = 0;
  for (auto& vm : report["vms"]) {
    if (!vm.isMember("rtoSeconds")) continue;
    vm["rtoSeconds"] = vm["rtoSeconds"].asDouble() + beforeJob;
    rto = std::max(rto, vm["rtoSeconds"].asDouble());
  }
  report["primaryCheckSeconds"] = beforeJob;
  if (job.done()) report["rtoSeconds"] = rto;
  if (job.error) report["alert"] = job.error->message;
  return report;
}

void printFailover(const Json::Value& report, const gdr::api::Job& job, const gdr::api::FailoverJobDetails& details) {
  std::printf("%-28s %-8s %8s  %s\n", "VM", "result", "RTO (s)", "why");
  for (const auto& vm : report["vms"]) {
    const std::string seconds = vm.isMember("rtoSeconds") ? [&] {
      char text[32];
      std::snprintf(text, sizeof text, "%.1f", vm["rtoSeconds"].asDouble());
      return std::string(text);
    }() : "-";
    std::printf("%-28s %-8s %8s  %s\n", vm["name"].asCString(), vm["result"].asCString(), seconds.c_str(),
                whyWithPoint(vm.get("pointId", "").asString(), vm.get("why", "").asString()).c_str());
  }
  printStateSplit(details.stateSeconds, {"CHECK", "PROMOTE", "DEFINE", "START", "WATCH"});
  if (job.done()) {
    std::printf("failover to point %s done: every VM runs at %s; RTO %.1f s\n", details.pointId.c_str(),
                report["secondary"].asCString(), report["rtoSeconds"].asDouble());
  } else {
    std::printf("failover FAILED: %s\n", job.error ? job.error->message.c_str() : job.state.c_str());
  }
  for (const auto& w : report["warnings"]) std::printf("WARNING: %s\n", w.asCString());
}

// `failover`: the secondary made the live site, through its agent; refused
// while the primary's agents answer.
int failover(const SyncSettings& settings) {
  const auto commandStart = std::chrono::steady_clock::now();
  const std::string flow = "gdr-sync-failover-" + gdr::newUuid().substr(0, 8);
  const std::string& volume = settings.cycle.secondaryVolume;
  gdr::api::FailoverParams params;
  params.volfileServers = {settings.cycle.secondaryHost};
  params.volumeName = volume;
  if (!settings.point.empty()) params.pointId = settings.point;
  params.bootTimeout = settings.bootTimeout.count();
  if (!loadMapping(settings, params.mapping)) return kUsage;
  const std::vector<PrimaryProbe> probes = probePrimary(settings, flow);
  if (const auto refusal = primaryRefusal(probes, settings.force)) {
    std::cerr << "gdr-sync: failover refused: " << *refusal << "\n";
    return kFailedUnchanged;
  }
  if (settings.force && std::any_of(probes.begin(), probes.end(), [](const PrimaryProbe& p) { return p.answered; })) {
    std::cerr << "gdr-sync: WARNING: failing over with the primary answering (--force): stop its VMs there\n";
  }
  RpcAgent agent(settings.secondaryAgent, settings.agent, flow);
  std::string jobId;
  double beforeJob = 0;
  try {
    jobId = agent.startFailover(params);
    beforeJob = std::chrono::duration<double>(std::chrono::steady_clock::now() - commandStart).count();
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: the failover did not start: " << e.what() << "\n";
    return kFailedUnchanged;
  }
  if (!settings.json) {
    std::printf("failover of %s: job %s\n", (settings.cycle.secondaryHost + "::" + volume).c_str(), jobId.c_str());
  }
  gdr::api::Job job;
  try {
    job = followJob(agent, jobId, settings.json, settings.bootTimeout + std::chrono::minutes(30));
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: lost the failover (job " << jobId << " on " << settings.secondaryAgent << "): " << e.what()
              << "; it goes on there: gdr-client Host getJobs\n";
    return kFailedMergedBack;
  }
  const auto details = gdr::api::decode<gdr::api::FailoverJobDetails>(job.details);
  Json::Value report = failoverReport(settings, flow, jobId, job, details, commandStart, beforeJob);
  keepRecoveryReport(settings.stateDir + "/failovers", report);
  if (settings.json) {
    std::cout << gdr::json::pretty(report) << "\n";
  } else {
    printFailover(report, job, details);
  }
  return job.done() ? kSuccess : kFailedMergedBack;
}

// One cycle over the hosts, its report kept and its alerts sent.
Json::Value cycleOnce(SyncSettings& settings, const std::string& flowPrefix) {
  CycleOptions& options = settings.cycle;
  options.flowId = flowPrefix + gdr::newUuid().substr(0, 8);
  // One agent per host, its connections kept for the whole cycle.
  std::vector<std::unique_ptr<RpcAgent>> agents;
  std::vector<AgentApi*> seams;
  for (const auto& host : settings.hosts) {
    agents.push_back(std::make_unique<RpcAgent>(host, settings.agent, options.flowId));
    seams.push_back(agents.back().get());
  }
  options.lastSeen = lastSeenVms(settings.stateDir);
  ProgressPrinter progress(settings.json);
  Json::Value report = runCycle(options, seams, progress.fn());
  progress.finish();
  afterCycle(report, settings);
  return report;
}

// `failback`: the stages of client/failback.h over both sites' agents.
int failback(SyncSettings& settings) {
  std::unique_ptr<StateDirLock> lock;
  try {
    lock = std::make_unique<StateDirLock>(settings.stateDir);
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: " << e.what() << "\n";
    return kFailedUnchanged;
  }
  FailbackSites sites;
  sites.hereAgents = settings.hosts;
  sites.homeAgent = settings.secondaryAgent;
  sites.hereVolume = settings.cycle.volume;
  sites.homeHost = settings.cycle.secondaryHost;
  sites.homeVolume = settings.cycle.secondaryVolume;
  sites.hereHost = settings.restoreHost;
  sites.bootTimeout = settings.bootTimeout;
  if (!loadMapping(settings, sites.mapping)) return kUsage;
  FileCycleJournal journal(settings.stateDir);
  settings.cycle.journal = &journal;
  const auto say = [&](const std::string& line) {
    if (!settings.json) std::printf("  %s\n", line.c_str());
  };
  const std::string flow = "gdr-sync-failback-" + gdr::newUuid().substr(0, 8);
  RpcFailbackActions actions(
      sites, settings.agent, flow,
      [&](const std::string& purpose) {
        Json::Value report = cycleOnce(settings, "gdr-sync-failback-" + purpose + "-");
        if (!settings.json) printSummary(report);
        return report;
      },
      say);
  FileFailbackStore store(settings.stateDir);
  Failback run(
      actions, store,
      [&](FailbackStage stage, const std::string& line) {
        if (!settings.json) std::printf("%-9s %s\n", stageName(stage), line.c_str());
        std::fflush(stdout);
      },
      [] { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); });
  FailbackState state;
  try {
    state = run.run();
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: " << e.what() << "\n";
    return kFailedUnchanged;
  }
  Json::Value report = failbackToJson(state);
  report["kind"] = "failback";
  report["flowId"] = flow;
  report["secondary"] = settings.cycle.secondaryHost + "::" + settings.cycle.secondaryVolume;
  report["duration"] = double((state.endTime ? state.endTime : gdr::nowSeconds()) - state.startTime);
  if (!state.failure.empty()) report["alert"] = "failback stopped at " + state.failure;
  keepRecoveryReport(settings.stateDir + "/failbacks", report);
  if (settings.json) {
    std::cout << gdr::json::pretty(report) << "\n";
  } else if (state.stage == FailbackStage::Done) {
    std::printf(
        "failback done: every VM runs at the primary from point %s (paused when it was taken: nothing lost);"
        " window %.1f s, failover %.1f s; %s\n",
        state.lastPoint.c_str(), state.windowSeconds, state.rtoSeconds, state.restoredSession.c_str());
  } else {
    std::printf("failback stopped at %s: %s\nrun it again to go on from there\n", stageName(state.stage),
                state.failure.c_str());
  }
  return state.stage == FailbackStage::Done ? kSuccess : kFailedMergedBack;
}

// Cycles: once, or --every until SIGTERM, or none when --if-due finds none due.
int runCycles(SyncSettings& settings) {
  CycleOptions& options = settings.cycle;
  std::unique_ptr<StateDirLock> lock;
  try {
    requireSharedStorageMounted(settings.stateDir);
    lock = std::make_unique<StateDirLock>(settings.stateDir);
  } catch (const StateDirBusy& e) {
    // Every host's timer fires; with the state dir on the shared storage
    // one of them holds the domain and the others leave it the interval.
    if (settings.ifDue) {
      if (!settings.json) std::printf("no cycle here: %s\n", e.what());
      return kSuccess;
    }
    std::cerr << "gdr-sync: " << e.what() << "\n";
    return kFailedUnchanged;
  } catch (const std::exception& e) {
    std::cerr << "gdr-sync: " << e.what() << "\n";
    return kFailedUnchanged;
  }
  if (settings.ifDue && !cycleDue(reportHistory(settings.stateDir, 1), gdr::nowSeconds(), settings.interval->count())) {
    if (!settings.json) std::printf("no cycle due (interval %s)\n", describeAge(settings.interval->count()).c_str());
    return kSuccess;
  }
  // A cycle this process does not finish (kill -9, reboot) is finished by
  // the next run, from the journal in the state dir.
  FileCycleJournal journal(settings.stateDir);
  options.journal = &journal;
  // Never destroyed: its thread may still be in sigwait() while the process
  // exits. Held by a static, so it stays reachable (no leak to report).
  static StopSignals* const stopSignals = new StopSignals;
  StopSignals& signals = *stopSignals;
  int rc = 0;
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    Json::Value report = cycleOnce(settings, "gdr-sync-");
    rc = report["outcome"].asInt();
    if (settings.json) {
      std::cout << gdr::json::pretty(report) << "\n";
    } else {
      printSummary(report);
    }
    std::cout.flush();
    std::fflush(stdout);
    if (!settings.every || signals.stopped()) break;
    if (signals.sleepUntil(started + *settings.every)) break;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  SyncSettings settings;
  try {
    settings = parseSyncArgs(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const SyncUsageError& e) {
    std::cerr << "gdr-sync: " << e.what() << "\n";
    // A monitoring plugin's own trouble is UNKNOWN (3), never CRITICAL (2).
    if (e.command != SyncCommand::Check) return int(kUsage);
    std::cout << "GDR UNKNOWN - " << e.what() << "\n";
    return int(kCheckUnknown);
  }
  if (settings.help) {
    std::cout << kUsageText;
    return 0;
  }
  switch (settings.command) {
    case SyncCommand::Cycle:
      return runCycles(settings);
    case SyncCommand::History:
      return history(settings.stateDir, settings.last, settings.json);
    case SyncCommand::Check:
      return check(settings);
    case SyncCommand::Setup:
      return setup(settings);
    case SyncCommand::Drill:
      return drill(settings);
    case SyncCommand::Failover:
      return failover(settings);
    case SyncCommand::Failback:
      return failback(settings);
    case SyncCommand::Points:
      try {
        RpcAgent agent(settings.hosts.front(), settings.agent, "gdr-sync-points-" + gdr::newUuid().substr(0, 8));
        return points(agent, settings.cycle.secondaryHost, settings.cycle.secondaryVolume, settings.json);
      } catch (const std::exception& e) {
        std::cerr << "gdr-sync: cannot list the recovery points: " << e.what() << "\n";
        return kFailedUnchanged;
      }
  }
  return kUsage;
}
