#pragma once
// gdr-sync's settings: a storage domain's file (/etc/gdr/sync.d/NAME.conf,
// "key = value" lines, '#' comments, the keys the long flags' names with
// '_' for '-'), then the command-line flags, which win. Pure but for
// reading the files.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/agent_api.h"
#include "client/alerts.h"
#include "client/cycle.h"
#include "client/rpo_check.h"

namespace gdr::sync {

inline constexpr const char* kDefaultConfigDir = "/etc/gdr/sync.d";
inline constexpr const char* kDefaultStateDir = "/var/lib/gdr/sync";

enum class SyncCommand { Cycle, History, Points, Check, Setup, Drill, Failover, Failback };

struct SyncSettings {
  SyncCommand command = SyncCommand::Cycle;
  bool help = false;
  // --domain NAME: the settings of CONFIG_DIR/NAME.conf, its state under
  // STATE_DIR/NAME unless the file or a flag names another.
  std::string domain;
  std::string configDir = kDefaultConfigDir;
  std::vector<std::string> hosts;
  std::string secondaryAgent;  // the secondary's agent (setup, drill): unix:/path or https://host:port
  // drill: the point (default: the newest complete one), the VMs (default: all), how long guests may take.
  std::string point;
  std::vector<std::string> vms;
  std::chrono::seconds bootTimeout{180};
  // failover: the mapping file (JSON), and --force: the primary site is
  // declared gone even though one of its agents (--hosts) answers.
  std::string mappingFile;
  bool force = false;
  // failback: the host of the site it leaves as the restored session names
  // it (default: the host of the first --hosts URL).
  std::string restoreHost;
  CycleOptions cycle;  // volume, secondary, verify, layout, ...
  AgentOptions agent;  // TLS
  std::string stateDir = kDefaultStateDir;
  bool stateDirNamed = false;  // by the file or a flag
  bool json = false;
  std::optional<std::chrono::seconds> every;
  // A domain's cycle interval: with --if-due, a run starts a cycle only
  // once this much has passed since the last one started (the packaged
  // timer calls it every minute).
  std::optional<std::chrono::seconds> interval;
  bool ifDue = false;
  std::string metricsFile;
  AlertTargets alerts;
  size_t last = 20;
  // The target RPO is the critical threshold: `check` is CRITICAL, and a
  // cycle raises an alert, once the newest recovery point is older.
  RpoThresholds rpo;
  // Unless named, the warning is at half the target (at most an hour).
  bool rpoWarningNamed = false;
};

// "vmstore", "site-b.gold": letters, digits, '.', '_', '-', at most 64,
// not starting with '.' or '-'. Throws std::invalid_argument.
void checkDomainName(const std::string& name);

// Applies one file's text; `origin` names it in error messages
// ("FILE:LINE: unknown setting 'hots'").
void applySyncConfigText(const std::string& text, const std::string& origin, SyncSettings& settings);

// Reads CONFIG_DIR/NAME.conf into `settings`. Refuses a file others than
// its owner may write: it names commands gdr-sync runs.
void loadDomain(const std::string& name, SyncSettings& settings);

// A domain's settings alone (its file, no flags), its state dir and
// thresholds resolved: what `check` over every domain reads.
SyncSettings domainSettings(const std::string& configDir, const std::string& name);

// The domains CONFIG_DIR holds (NAME for each NAME.conf), sorted.
std::vector<std::string> listDomains(const std::string& configDir);

// A mistake in gdr-sync's arguments or its domain's file, with the
// command the arguments named (check reports its trouble as UNKNOWN).
struct SyncUsageError : std::invalid_argument {
  SyncUsageError(const std::string& message, SyncCommand named) : std::invalid_argument(message), command(named) {}
  SyncCommand command;
};

// gdr-sync's arguments: the command word (history, points, check), the
// flags, the domain's file under them. Checks what the command needs.
// Throws SyncUsageError with a message for the user.
SyncSettings parseSyncArgs(const std::vector<std::string>& args);

}  // namespace gdr::sync
