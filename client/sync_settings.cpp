#include "client/sync_settings.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "core/text.h"

namespace gdr::sync {

namespace {

namespace fs = std::filesystem;

bool parseYesNo(const std::string& v) {
  if (v == "yes" || v == "true" || v == "1") return true;
  if (v == "no" || v == "false" || v == "0") return false;
  throw std::invalid_argument("takes yes or no");
}

unsigned long parseWhole(const std::string& v, unsigned long max, const std::string& what = "") {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos || std::stoul(v) == 0 ||
      std::stoul(v) > max) {
    throw std::invalid_argument("takes a whole number from 1 to " + std::to_string(max) + what);
  }
  return std::stoul(v);
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

void setMailTo(SyncSettings& s, const std::string& v) {
  s.alerts.mailTo = splitList(v);
  if (s.alerts.mailTo.empty()) throw std::invalid_argument("takes mail addresses, separated by commas");
  for (const auto& address : s.alerts.mailTo) {
    if (address.find('@') == std::string::npos || address[0] == '-' ||
        std::any_of(address.begin(), address.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
      throw std::invalid_argument("takes mail addresses, separated by commas: '" + address + "'");
    }
  }
}

void setSecondary(SyncSettings& s, const std::string& v) {
  const auto sep = v.find("::");
  if (sep == std::string::npos || sep == 0 || sep + 2 == v.size()) throw std::invalid_argument("takes HOST::VOLUME");
  s.cycle.secondaryHost = v.substr(0, sep);
  s.cycle.secondaryVolume = v.substr(sep + 2);
}

// The command a word names (a cycle is named by none).
std::optional<SyncCommand> commandWord(const std::string& word) {
  static const std::map<std::string, SyncCommand> kWords = {
      {"history", SyncCommand::History},  {"points", SyncCommand::Points}, {"check", SyncCommand::Check},
      {"setup", SyncCommand::Setup},      {"drill", SyncCommand::Drill},   {"failover", SyncCommand::Failover},
      {"failback", SyncCommand::Failback}};
  const auto it = kWords.find(word);
  if (it == kWords.end()) return std::nullopt;
  return it->second;
}

void setRestoreHost(SyncSettings& s, const std::string& v) {
  if (v.empty() || v.find_first_of(" \t:/") != std::string::npos) throw std::invalid_argument("takes a host");
  s.restoreHost = v;
}

// check's --critical and --warning are the domain's target RPO and warning.
void setTargetRpo(SyncSettings& s, const std::string& v) { s.rpo.critical = parseDuration(v); }
void setRpoWarning(SyncSettings& s, const std::string& v) {
  s.rpo.warning = parseDuration(v);
  s.rpoWarningNamed = true;
}

void setWebhook(SyncSettings& s, const std::string& v) {
  if ((v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) || v.find_first_of(" \t\r\n") != std::string::npos) {
    throw std::invalid_argument("takes an http:// or https:// URL");
  }
  s.alerts.webhookUrl = v;
}

// Every setting: a flag (--KEY with '-' for '_'); those `inFile` may also
// stand in a domain's file. Booleans are flags without a value, "yes"/"no"
// in a file. A setter throws std::invalid_argument("takes ...").
enum class Kind { Value, Boolean };
struct Setting {
  Kind kind;
  bool inFile;
  void (*apply)(SyncSettings&, const std::string&);
};

const std::map<std::string, Setting>& settingTable() {
  using S = SyncSettings&;
  using V = const std::string&;
  static const std::map<std::string, Setting> table = {
      {"hosts",
       {Kind::Value, true,
        [](S s, V v) {
          s.hosts = splitList(v);
          if (s.hosts.empty()) throw std::invalid_argument("takes unix:/path or https://host:port, comma-separated");
        }}},
      {"volume", {Kind::Value, true, [](S s, V v) { s.cycle.volume = v; }}},
      {"secondary_agent",
       {Kind::Value, true,
        [](S s, V v) {
          if (v.rfind("unix:", 0) != 0 && v.rfind("https://", 0) != 0) {
            throw std::invalid_argument("takes unix:/path or https://host:port");
          }
          s.secondaryAgent = v;
        }}},
      {"secondary", {Kind::Value, true, setSecondary}},
      {"point", {Kind::Value, false, [](S s, V v) { s.point = v; }}},
      {"vms", {Kind::Value, false, [](S s, V v) { s.vms = splitList(v); }}},
      {"boot_timeout", {Kind::Value, false, [](S s, V v) { s.bootTimeout = parseDuration(v); }}},
      {"mapping", {Kind::Value, false, [](S s, V v) { s.mappingFile = v; }}},
      {"force", {Kind::Boolean, false, [](S s, V v) { s.force = parseYesNo(v); }}},
      {"restore_host", {Kind::Value, false, setRestoreHost}},
      {"verify",
       {Kind::Value, true,
        [](S s, V v) {
          const auto mode = api::enumFromName<VerifyMode>(v);
          if (!mode) throw std::invalid_argument("takes none, sample, shards or full");
          s.cycle.verify = *mode;
        }}},
      {"timeout", {Kind::Value, true, [](S s, V v) { s.cycle.georepTimeout = parseDuration(v); }}},
      {"repair", {Kind::Boolean, true, [](S s, V v) { s.cycle.repair = parseYesNo(v); }}},
      {"no_repair", {Kind::Boolean, false, [](S s, V v) { s.cycle.repair = !parseYesNo(v); }}},
      {"merge_bandwidth",
       {Kind::Value, true,
        [](S s, V v) {
          s.cycle.pacedMerges = v == "auto";
          s.cycle.mergeBandwidth =
              v == "auto" || v == "unlimited" ? 0 : unsigned(parseWhole(v, 999999, " (MiB/s, auto or unlimited)"));
        }}},
      {"keep_points", {Kind::Value, true, [](S s, V v) { s.cycle.keepPoints = int(parseWhole(v, 9999)); }}},
      {"layout",
       {Kind::Value, true,
        [](S s, V v) {
          if (v != "flat" && v != "delta") throw std::invalid_argument("takes flat or delta");
          s.cycle.layout = v == "delta" ? Layout::Delta : Layout::Flat;
        }}},
      {"session",
       {Kind::Value, true,
        [](S s, V v) {
          if (v != "keep" && v != "stop") throw std::invalid_argument("takes keep or stop");
          s.cycle.session = v == "keep" ? SessionAfterSync::Keep : SessionAfterSync::Stop;
        }}},
      {"georep_start",
       {Kind::Value, true,
        [](S s, V v) {
          if (v != "after-rollover" && v != "at-once") throw std::invalid_argument("takes after-rollover or at-once");
          s.cycle.georepStartAfterRollover = v == "after-rollover";
        }}},
      {"state_dir",
       {Kind::Value, true,
        [](S s, V v) {
          if (v.empty()) throw std::invalid_argument("takes a directory");
          s.stateDir = v;
          s.stateDirNamed = true;
        }}},
      {"metrics_file", {Kind::Value, true, [](S s, V v) { s.metricsFile = v; }}},
      {"interval", {Kind::Value, true, [](S s, V v) { s.interval = parseDuration(v); }}},
      {"target_rpo", {Kind::Value, true, setTargetRpo}},
      {"rpo_warning", {Kind::Value, true, setRpoWarning}},
      {"alert_webhook", {Kind::Value, true, setWebhook}},
      {"alert_token_file", {Kind::Value, true, [](S s, V v) { s.alerts.webhookToken = readSecret(v); }}},
      {"alert_command",
       {Kind::Value, true,
        [](S s, V v) {
          if (v.empty()) throw std::invalid_argument("takes a command");
          s.alerts.command = v;
        }}},
      {"alert_mail", {Kind::Value, true, setMailTo}},
      {"alert_syslog", {Kind::Boolean, true, [](S s, V v) { s.alerts.syslog = parseYesNo(v); }}},
      {"alert_on",
       {Kind::Value, true,
        [](S s, V v) {
          if (v != "failure" && v != "always") throw std::invalid_argument("takes failure or always");
          s.alerts.everyCycle = v == "always";
        }}},
      {"cafile", {Kind::Value, true, [](S s, V v) { s.agent.tls.caFile = v; }}},
      {"cert", {Kind::Value, true, [](S s, V v) { s.agent.tls.certFile = v; }}},
      {"key", {Kind::Value, true, [](S s, V v) { s.agent.tls.keyFile = v; }}},
      {"insecure", {Kind::Boolean, true, [](S s, V v) { s.agent.tls.insecure = parseYesNo(v); }}},
      // The run's own: not a domain's.
      {"domain",
       {Kind::Value, false,
        [](S s, V v) {
          checkDomainName(v);
          s.domain = v;
        }}},
      {"config_dir", {Kind::Value, false, [](S s, V v) { s.configDir = v; }}},
      {"every", {Kind::Value, false, [](S s, V v) { s.every = parseDuration(v); }}},
      {"last", {Kind::Value, false, [](S s, V v) { s.last = parseWhole(v, 100000); }}},
      {"critical", {Kind::Value, false, setTargetRpo}},
      {"warning", {Kind::Value, false, setRpoWarning}},
      {"json", {Kind::Boolean, false, [](S s, V v) { s.json = parseYesNo(v); }}},
      {"dry_run", {Kind::Boolean, false, [](S s, V v) { s.cycle.dryRun = parseYesNo(v); }}},
      {"if_due", {Kind::Boolean, false, [](S s, V v) { s.ifDue = parseYesNo(v); }}},
  };
  return table;
}

// "--verify takes none, ..." or "--alert-token-file: cannot read ...".
std::string named(const std::string& name, const std::string& message) {
  return name + (message.rfind("takes", 0) == 0 || message.rfind("is ", 0) == 0 ? " " : ": ") + message;
}

std::string flagName(const std::string& key) {
  std::string flag = "--" + key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

// "host" of https://host:port (brackets of an IPv6 address dropped); "" for unix:.
std::string urlHost(const std::string& url) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) return "";
  std::string rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  if (!rest.empty() && rest.front() == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.rfind(':') == std::string::npos ? rest.size() : rest.rfind(':'));
}

// The defaults that follow from other settings.
void resolveDefaults(SyncSettings& s) {
  if (s.domain.size() && !s.stateDirNamed) s.stateDir = std::string(kDefaultStateDir) + "/" + s.domain;
  if (!s.rpoWarningNamed) s.rpo.warning = std::min(s.rpo.warning, s.rpo.critical / 2);
  if (s.rpo.critical < s.rpo.warning) throw std::invalid_argument("the RPO warning threshold is above the target");
}

// What the command needs, once the file and the flags are in.
void checkComplete(SyncSettings& s) {
  const std::string from = s.domain.empty() ? "" : " (in " + s.configDir + "/" + s.domain + ".conf or a flag)";
  resolveDefaults(s);
  if (s.command == SyncCommand::Points && (s.hosts.empty() || s.cycle.secondaryHost.empty())) {
    throw std::invalid_argument("--hosts and --secondary HOST::VOLUME are required" + from);
  }
  if (s.command == SyncCommand::Setup &&
      (s.hosts.empty() || s.cycle.volume.empty() || s.cycle.secondaryHost.empty() || s.secondaryAgent.empty())) {
    throw std::invalid_argument("--hosts, --volume, --secondary HOST::VOLUME and --secondary-agent are required" +
                                from);
  }
  if (s.command == SyncCommand::Drill && (s.cycle.secondaryHost.empty() || s.secondaryAgent.empty())) {
    throw std::invalid_argument("--secondary HOST::VOLUME and --secondary-agent are required" + from);
  }
  if (s.command == SyncCommand::Failover) {
    if (s.cycle.secondaryHost.empty() || s.secondaryAgent.empty()) {
      throw std::invalid_argument("--secondary HOST::VOLUME and --secondary-agent are required" + from);
    }
    if (s.hosts.empty() && !s.force) {
      throw std::invalid_argument(
          "--hosts (the primary's agents, to make sure the site is gone) or --force is required" + from);
    }
  }
  if (s.command == SyncCommand::Failback) {
    if (s.hosts.empty() || s.cycle.volume.empty() || s.cycle.secondaryHost.empty() || s.secondaryAgent.empty()) {
      throw std::invalid_argument(
          "--hosts (where the VMs run now), --volume, --secondary HOST::VOLUME (at the primary site) and "
          "--secondary-agent are required" +
          from);
    }
    if (s.restoreHost.empty()) s.restoreHost = urlHost(s.hosts.front());
    if (s.restoreHost.empty()) {
      throw std::invalid_argument("--restore-host is required: " + s.hosts.front() + " names no host" + from);
    }
  }
  if (s.command != SyncCommand::Cycle && s.command != SyncCommand::Failback) return;
  if (s.hosts.empty() || s.cycle.volume.empty() || s.cycle.secondaryHost.empty()) {
    throw std::invalid_argument("--hosts, --volume and --secondary HOST::VOLUME are required" + from);
  }
  if (s.cycle.layout == Layout::Delta && s.cycle.keepPoints > kMaxDeltaPoints) {
    throw std::invalid_argument("--keep-points in the delta layout is at most " + std::to_string(kMaxDeltaPoints) +
                                ": each point kept apart is an image in every VM's chain");
  }
  if (s.cycle.layout == Layout::Flat && s.cycle.session == SessionAfterSync::Keep) {
    throw std::invalid_argument(
        "--session keep needs the delta layout: in the flat layout the VMs rewrite the bases the secondary holds");
  }
  if (s.ifDue && !s.interval) throw std::invalid_argument("--if-due needs an interval (--interval, or the domain's)");
  if (s.ifDue && s.every) throw std::invalid_argument("--if-due and --every exclude each other");
}

}  // namespace

void checkDomainName(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-' &&
                  std::all_of(name.begin(), name.end(),
                              [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
  if (!ok) {
    throw std::invalid_argument("'" + name +
                                "' is not a domain name (letters, digits, '.', '_', '-'; at most 64; not starting "
                                "with '.' or '-')");
  }
}

void applySyncConfigText(const std::string& text, const std::string& origin, SyncSettings& settings) {
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = origin + ":" + std::to_string(number) + ": ";
    // '#' starts a comment only at a line's start: a command or URL may hold one.
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw std::invalid_argument(where + "expected 'key = value'");
    const std::string key = trim(line.substr(0, eq));
    const auto known = settingTable().find(key);
    if (known == settingTable().end() || !known->second.inFile) {
      throw std::invalid_argument(where + "unknown setting '" + key + "' (see gdr-sync --help)");
    }
    try {
      known->second.apply(settings, trim(line.substr(eq + 1)));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + named(key, e.what()));
    }
  }
}

void loadDomain(const std::string& name, SyncSettings& settings) {
  checkDomainName(name);
  const std::string path = settings.configDir + "/" + name + ".conf";
  std::ifstream in(path);
  struct stat st {};
  if (!in || ::stat(path.c_str(), &st) != 0)
    throw std::invalid_argument("no domain '" + name + "': cannot read " + path);
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    throw std::invalid_argument(path + " may be written by others than its owner: it names commands gdr-sync runs");
  }
  std::stringstream text;
  text << in.rdbuf();
  applySyncConfigText(text.str(), path, settings);
}

SyncSettings domainSettings(const std::string& configDir, const std::string& name) {
  SyncSettings settings;
  settings.configDir = configDir;
  settings.domain = name;
  loadDomain(name, settings);
  resolveDefaults(settings);
  return settings;
}

std::vector<std::string> listDomains(const std::string& configDir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(configDir, error)) {
    const fs::path& p = entry.path();
    if (p.extension() != ".conf" || !entry.is_regular_file(error)) continue;
    try {
      checkDomainName(p.stem().string());
      names.push_back(p.stem().string());
    } catch (const std::invalid_argument&) {
      // Not a domain's file ("..conf", an editor's backup): not ours to read.
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

SyncSettings parseSyncArgs(const std::vector<std::string>& args) {
  SyncSettings settings;
  std::vector<std::pair<const Setting*, std::string>> flags;  // applied over the file
  std::vector<std::string> flagNames;
  // The first mistake is reported, but the scan goes on: the error must
  // know the command (check's trouble is UNKNOWN to a monitoring system).
  std::optional<std::string> mistake;
  const auto note = [&](const std::string& message) {
    if (!mistake) mistake = message;
  };
  bool commandNamed = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h" || arg == "--help") {
      settings.help = true;
      return settings;
    }
    if (const auto named = commandWord(arg)) {
      if (commandNamed) note("one command at a time: '" + arg + "' after another");
      commandNamed = true;
      settings.command = *named;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      note("unknown argument '" + arg + "' (see --help)");
      continue;
    }
    std::optional<std::string> inlineValue;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      inlineValue = arg.substr(eq + 1);
      arg.resize(eq);
    }
    std::string key = arg.substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    const auto known = settingTable().find(key);
    if (known == settingTable().end()) {
      note("unknown argument '" + args[i] + "' (see --help)");
      continue;
    }
    const Setting& setting = known->second;
    std::string value = "yes";
    if (setting.kind == Kind::Value) {
      if (inlineValue) {
        value = *inlineValue;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        note(flagName(key) + " needs a value");
        continue;
      }
    } else if (inlineValue) {
      note(flagName(key) + " takes no value");
      continue;
    }
    if (key == "domain" || key == "config_dir") {
      // Read before the file, which the other flags override.
      try {
        setting.apply(settings, value);
      } catch (const std::invalid_argument& e) {
        note(named(flagName(key), e.what()));
      }
    } else {
      flags.emplace_back(&setting, value);
      flagNames.push_back(flagName(key));
    }
  }
  try {
    if (mistake) throw std::invalid_argument(*mistake);
    if (!settings.domain.empty()) loadDomain(settings.domain, settings);
    for (size_t f = 0; f < flags.size(); ++f) {
      try {
        flags[f].first->apply(settings, flags[f].second);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(named(flagNames[f], e.what()));
      }
    }
    checkComplete(settings);
  } catch (const std::invalid_argument& e) {
    throw SyncUsageError(e.what(), settings.command);
  }
  return settings;
}

}  // namespace gdr::sync
