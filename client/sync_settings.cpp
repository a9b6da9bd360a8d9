#include "client/sync_settings.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace gdr::sync {

namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

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

// The settings a domain's file may hold, each also a flag (--KEY with '-'
// for '_'). Booleans are flags without a value, "yes"/"no" in a file.
enum class Kind { Value, Boolean };
const std::map<std::string, Kind>& fileKeys() {
  static const std::map<std::string, Kind> keys = {
      {"hosts", Kind::Value},
      {"volume", Kind::Value},
      {"secondary", Kind::Value},
      {"verify", Kind::Value},
      {"timeout", Kind::Value},
      {"repair", Kind::Boolean},
      {"merge_bandwidth", Kind::Value},
      {"keep_points", Kind::Value},
      {"layout", Kind::Value},
      {"state_dir", Kind::Value},
      {"metrics_file", Kind::Value},
      {"interval", Kind::Value},
      {"target_rpo", Kind::Value},
      {"rpo_warning", Kind::Value},
      {"alert_webhook", Kind::Value},
      {"alert_token_file", Kind::Value},
      {"alert_command", Kind::Value},
      {"alert_mail", Kind::Value},
      {"alert_syslog", Kind::Boolean},
      {"alert_on", Kind::Value},
      {"cafile", Kind::Value},
      {"cert", Kind::Value},
      {"key", Kind::Value},
      {"insecure", Kind::Boolean},
  };
  return keys;
}

// Flags that are not settings of a domain's file: the run's own.
const std::map<std::string, Kind>& runFlags() {
  static const std::map<std::string, Kind> flags = {
      {"domain", Kind::Value}, {"config_dir", Kind::Value}, {"every", Kind::Value},
      {"last", Kind::Value},   {"warning", Kind::Value},    {"critical", Kind::Value},
      {"json", Kind::Boolean}, {"dry_run", Kind::Boolean},  {"if_due", Kind::Boolean},
  };
  return flags;
}

void applySetting(SyncSettings& s, const std::string& key, const std::string& v) {
  const auto yes = [&] { return parseYesNo(v); };
  if (key == "hosts") {
    s.hosts = split(v, ',');
    if (s.hosts.empty()) throw std::invalid_argument("takes unix:/path or https://host:port, comma-separated");
  } else if (key == "volume") {
    s.cycle.volume = v;
  } else if (key == "secondary") {
    const auto sep = v.find("::");
    if (sep == std::string::npos || sep == 0 || sep + 2 == v.size()) {
      throw std::invalid_argument("takes HOST::VOLUME");
    }
    s.cycle.secondaryHost = v.substr(0, sep);
    s.cycle.secondaryVolume = v.substr(sep + 2);
  } else if (key == "verify") {
    const auto mode = api::enumFromName<VerifyMode>(v);
    if (!mode) throw std::invalid_argument("takes none, sample, shards or full");
    s.cycle.verify = *mode;
  } else if (key == "timeout") {
    s.cycle.georepTimeout = parseDuration(v);
  } else if (key == "repair") {
    s.cycle.repair = yes();
  } else if (key == "merge_bandwidth") {
    s.cycle.mergeBandwidth = unsigned(parseWhole(v, 999999, " (MiB/s)"));
  } else if (key == "keep_points") {
    s.cycle.keepPoints = int(parseWhole(v, 9999));
  } else if (key == "layout") {
    if (v != "flat" && v != "delta") throw std::invalid_argument("takes flat or delta");
    s.cycle.layout = v == "delta" ? Layout::Delta : Layout::Flat;
  } else if (key == "state_dir") {
    if (v.empty()) throw std::invalid_argument("takes a directory");
    s.stateDir = v;
    s.stateDirNamed = true;
  } else if (key == "metrics_file") {
    s.metricsFile = v;
  } else if (key == "interval") {
    s.interval = parseDuration(v);
  } else if (key == "target_rpo" || key == "critical") {
    s.rpo.critical = parseDuration(v);
  } else if (key == "rpo_warning" || key == "warning") {
    s.rpo.warning = parseDuration(v);
    s.rpoWarningNamed = true;
  } else if (key == "alert_webhook") {
    if ((v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) ||
        v.find_first_of(" \t\r\n") != std::string::npos) {
      throw std::invalid_argument("takes an http:// or https:// URL");
    }
    s.alerts.webhookUrl = v;
  } else if (key == "alert_token_file") {
    s.alerts.webhookToken = readSecret(v);
  } else if (key == "alert_command") {
    if (v.empty()) throw std::invalid_argument("takes a command");
    s.alerts.command = v;
  } else if (key == "alert_mail") {
    s.alerts.mailTo = split(v, ',');
    if (s.alerts.mailTo.empty()) throw std::invalid_argument("takes mail addresses, separated by commas");
    for (const auto& address : s.alerts.mailTo) {
      if (address.find('@') == std::string::npos || address[0] == '-' ||
          std::any_of(address.begin(), address.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
        throw std::invalid_argument("takes mail addresses, separated by commas: '" + address + "'");
      }
    }
  } else if (key == "alert_syslog") {
    s.alerts.syslog = yes();
  } else if (key == "alert_on") {
    if (v != "failure" && v != "always") throw std::invalid_argument("takes failure or always");
    s.alerts.everyCycle = v == "always";
  } else if (key == "cafile") {
    s.agent.tls.caFile = v;
  } else if (key == "cert") {
    s.agent.tls.certFile = v;
  } else if (key == "key") {
    s.agent.tls.keyFile = v;
  } else if (key == "insecure") {
    s.agent.tls.insecure = yes();
  } else if (key == "domain") {
    checkDomainName(v);
    s.domain = v;
  } else if (key == "config_dir") {
    s.configDir = v;
  } else if (key == "every") {
    s.every = parseDuration(v);
  } else if (key == "last") {
    s.last = parseWhole(v, 100000);
  } else if (key == "json") {
    s.json = yes();
  } else if (key == "dry_run") {
    s.cycle.dryRun = yes();
  } else if (key == "if_due") {
    s.ifDue = yes();
  } else {
    throw std::invalid_argument("is not a setting");
  }
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
  if (s.command != SyncCommand::Cycle) return;
  if (s.hosts.empty() || s.cycle.volume.empty() || s.cycle.secondaryHost.empty()) {
    throw std::invalid_argument("--hosts, --volume and --secondary HOST::VOLUME are required" + from);
  }
  if (s.cycle.layout == Layout::Delta && s.cycle.keepPoints > kMaxDeltaPoints) {
    throw std::invalid_argument("--keep-points in the delta layout is at most " + std::to_string(kMaxDeltaPoints) +
                                ": each point kept apart is an image in every VM's chain");
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
    if (!fileKeys().count(key)) {
      throw std::invalid_argument(where + "unknown setting '" + key + "' (see gdr-sync --help)");
    }
    try {
      applySetting(settings, key, trim(line.substr(eq + 1)));
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
  std::vector<std::pair<std::string, std::string>> flags;  // (key, value), applied over the file
  bool commandNamed = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h" || arg == "--help") {
      settings.help = true;
      return settings;
    }
    if (arg == "history" || arg == "points" || arg == "check") {
      if (commandNamed) throw std::invalid_argument("one command at a time: '" + arg + "' after another");
      commandNamed = true;
      settings.command = arg == "history"  ? SyncCommand::History
                         : arg == "points" ? SyncCommand::Points
                                           : SyncCommand::Check;
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unknown argument '" + arg + "' (see --help)");
    std::optional<std::string> inlineValue;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      inlineValue = arg.substr(eq + 1);
      arg.resize(eq);
    }
    std::string key = arg.substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    const auto& table = fileKeys().count(key) ? fileKeys() : runFlags();
    const auto known = table.find(key);
    if (known == table.end()) throw std::invalid_argument("unknown argument '" + args[i] + "' (see --help)");
    std::string value = "yes";
    if (known->second == Kind::Value) {
      if (inlineValue) {
        value = *inlineValue;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        throw std::invalid_argument(flagName(key) + " needs a value");
      }
    } else if (inlineValue) {
      throw std::invalid_argument(flagName(key) + " takes no value");
    }
    if (key == "domain" || key == "config_dir") {
      // Read before the file, which the other flags override.
      try {
        applySetting(settings, key, value);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(named(flagName(key), e.what()));
      }
    } else {
      flags.emplace_back(key, value);
    }
  }
  if (!settings.domain.empty()) loadDomain(settings.domain, settings);
  for (const auto& [key, value] : flags) {
    try {
      applySetting(settings, key, value);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(named(flagName(key), e.what()));
    }
  }
  checkComplete(settings);
  return settings;
}

}  // namespace gdr::sync
