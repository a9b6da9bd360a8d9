#include "agent/config.h"

#include <arpa/inet.h>

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "core/text.h"
#include "version.h"

namespace gdr {

namespace {

const char* const kDefaultConfig = "/etc/gdr/agent.conf";

const char* const kUsage =
    "Usage: gdr-agent [OPTIONS]\n"
    "\n"
    "The gdr host agent: serves the disaster-recovery verbs (snapshots, merges,\n"
    "geo-replication, overlay deletion) as JSON-RPC 2.0.\n"
    "\n"
    "Options (each overrides the config file):\n"
    "  --config FILE        config file (default /etc/gdr/agent.conf)\n"
    "  --listen ADDR        unix:PATH or https://ADDR:PORT; repeatable; replaces\n"
    "                       the config file's listen lines\n"
    "  --state-dir DIR      where jobs are persisted (default /var/lib/gdr)\n"
    "  --log-file FILE      log file, '-' for stderr (default)\n"
    "  --log-level LEVEL    trace, debug, info, warning, error, critical\n"
    "  --tls-cert FILE      server certificate for https listeners (PEM)\n"
    "  --tls-key FILE       its private key (PEM)\n"
    "  --tls-ca FILE        the CA client certificates must verify against (PEM)\n"
    "  --tls-allowed-clients LIST\n"
    "                       client identities let in (subject CN or SAN), comma-separated\n"
    "  --idle-timeout S     close a connection silent this long (default 60)\n"
    "  --request-timeout S  answer RequestTimeout after this long (default 300)\n"
    "  --delete-volumes LIST  volumes overlayDelete may act on, comma-separated\n"
    "  --volfile-servers LIST volfile servers gfapi verbs may use (default: the hosts\n"
    "                       of the volumes this host's glusterd knows)\n"
    "  --gfapi-pool-max N   volume connections kept open at most (default 16)\n"
    "  --workers N          worker threads for blocking verbs (default 8)\n"
    "  --queue N            requests that may wait for a worker (default 64)\n"
    "  --events-listen ADDR http://ADDR:PORT: receive gluster's events (webhook)\n"
    "  --help               this text\n"
    "  --version            the agent's version\n";

size_t toSize(const std::string& key, const std::string& value) {
  try {
    size_t used = 0;
    const unsigned long long n = std::stoull(value, &used);
    if (used != value.size() || n == 0) throw std::invalid_argument("");
    return static_cast<size_t>(n);
  } catch (const std::exception&) {
    throw std::invalid_argument(key + ": expected a positive integer, got '" + value + "'");
  }
}

void checkLevel(const std::string& level) {
  static const char* const levels[] = {"trace", "debug", "info", "warning", "error", "critical", "off"};
  for (const char* l : levels)
    if (level == l) return;
  throw std::invalid_argument("log_level: unknown level '" + level + "'");
}

std::vector<std::string> toList(const std::string& key, const std::string& value) {
  try {
    return splitList(value);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(key + ": " + e.what());
  }
}

bool toBool(const std::string& key, const std::string& value) {
  if (value == "yes" || value == "true" || value == "on" || value == "1") return true;
  if (value == "no" || value == "false" || value == "off" || value == "0") return false;
  throw std::invalid_argument(key + ": expected yes or no, got '" + value + "'");
}

// Sets one setting; `listenFresh` tracks whether the defaults were replaced.
void setOption(AgentConfig& c, const std::string& key, const std::string& value, bool& listenFresh) {
  if (key == "listen") {
    if (!listenFresh) c.listen.clear();
    listenFresh = true;
    ListenAddress address = ListenAddress::parse(value);
    if (address.kind == ListenAddress::Kind::Http) {
      throw std::invalid_argument("listen '" + value + "': JSON-RPC is served on unix:PATH or https://ADDR:PORT");
    }
    c.listen.push_back(address);
  } else if (key == "events_listen") {
    if (value.empty()) {
      c.eventsListen.reset();
    } else {
      ListenAddress address = ListenAddress::parse(value);
      if (address.kind != ListenAddress::Kind::Http) {
        throw std::invalid_argument("events_listen '" + value + "': expected http://ADDR:PORT");
      }
      c.eventsListen = address;
    }
  } else if (key == "events_token") {
    c.eventsToken = value;
  } else if (key == "state_dir") {
    c.stateDir = value;
  } else if (key == "log_file") {
    c.logFile = value;
  } else if (key == "log_level") {
    checkLevel(value);
    c.logLevel = value;
  } else if (key == "tls_cert") {
    c.tlsCert = value;
  } else if (key == "tls_key") {
    c.tlsKey = value;
  } else if (key == "tls_ca") {
    c.tlsCa = value;
  } else if (key == "tls_allowed_clients") {
    c.tlsAllowedClients = toList(key, value);
  } else if (key == "idle_timeout") {
    c.idleTimeout = std::chrono::seconds(toSize(key, value));
  } else if (key == "request_timeout") {
    c.requestTimeout = std::chrono::seconds(toSize(key, value));
  } else if (key == "delete_volumes") {
    c.deleteVolumes = toList(key, value);
  } else if (key == "georep_key_users") {
    c.geoRepKeyUsers = toList(key, value);
  } else if (key == "georep_public_key_file") {
    if (value.empty() || value[0] != '/') throw std::invalid_argument(key + " takes an absolute path");
    c.geoRepPublicKeyFile = value;
  } else if (key == "georep_mountbroker_root") {
    if (value.size() < 2 || value[0] != '/') throw std::invalid_argument(key + " takes an absolute path, not /");
    c.geoRepMountBrokerRoot = value;
  } else if (key == "volfile_servers") {
    c.volfileServers = toList(key, value);
  } else if (key == "gfapi_pool_max") {
    c.gfapiPoolMax = toSize(key, value);
  } else if (key == "workers") {
    c.workers = toSize(key, value);
  } else if (key == "queue") {
    c.queue = toSize(key, value);
  } else if (key == "max_connections") {
    c.maxConnections = toSize(key, value);
  } else if (key == "max_request_bytes") {
    c.maxRequestBytes = toSize(key, value);
  } else if (key == "job_ttl") {
    c.jobTtl = std::chrono::seconds(toSize(key, value));
  } else if (key == "overlay_prefix") {
    std::string prefix = value;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (prefix.empty() || prefix.front() == '/' || prefix.find("..") != std::string::npos) {
      throw std::invalid_argument("overlay_prefix: expected a directory relative to the volume root, got '" + value + "'");
    }
    c.overlayPrefixes.push_back(prefix);
  } else if (key == "max_batch") {
    c.maxBatch = toSize(key, value);
  } else if (key == "check_results") {
    c.checkResults = toBool(key, value);
  } else if (key == "merge_pivot_delay") {
    c.mergePivotDelay = value == "0" ? std::chrono::seconds(0) : std::chrono::seconds(toSize(key, value));
  } else if (key == "libvirt_uri") {
    c.libvirtUri = value;
  } else if (key == "gluster_timeout") {
    c.glusterTimeout = std::chrono::seconds(toSize(key, value));
  } else if (key == "gfapi_idle_timeout") {
    c.gfapiIdleTimeout = std::chrono::seconds(toSize(key, value));
  } else if (key == "shutdown_grace") {
    c.shutdownGrace = std::chrono::seconds(toSize(key, value));
  } else {
    throw std::invalid_argument("unknown setting '" + key + "'");
  }
}

}  // namespace

ListenAddress ListenAddress::parse(const std::string& text) {
  ListenAddress a;
  a.text = text;
  if (text.rfind("unix:", 0) == 0) {
    a.kind = Kind::Unix;
    a.path = text.substr(5);
    if (a.path.empty() || a.path.front() != '/') {
      throw std::invalid_argument("listen '" + text + "': a unix socket path must be absolute");
    }
    return a;
  }
  const bool https = text.rfind("https://", 0) == 0;
  if (https || text.rfind("http://", 0) == 0) {
    a.kind = https ? Kind::Https : Kind::Http;
    std::string rest = text.substr(https ? 8 : 7);
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    std::string host, port;
    if (!rest.empty() && rest.front() == '[') {
      const auto close = rest.find(']');
      if (close == std::string::npos || rest.size() < close + 2 || rest[close + 1] != ':') {
        throw std::invalid_argument("listen '" + text + "': expected http(s)://[ADDR]:PORT");
      }
      host = rest.substr(1, close - 1);
      port = rest.substr(close + 2);
    } else {
      const auto colon = rest.rfind(':');
      if (colon == std::string::npos) {
        throw std::invalid_argument("listen '" + text + "': expected http(s)://ADDR:PORT");
      }
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
    unsigned char buf[16];
    if (inet_pton(AF_INET, host.c_str(), buf) != 1 && inet_pton(AF_INET6, host.c_str(), buf) != 1) {
      throw std::invalid_argument("listen '" + text + "': '" + host + "' is not a numeric IP address");
    }
    a.host = host;
    try {
      size_t used = 0;
      a.port = std::stoi(port, &used);
      if (used != port.size() || a.port < 1 || a.port > 65535) throw std::out_of_range("");
    } catch (const std::exception&) {
      throw std::invalid_argument("listen '" + text + "': bad port '" + port + "'");
    }
    return a;
  }
  throw std::invalid_argument("listen '" + text + "': expected unix:PATH or https://ADDR:PORT");
}

void applyConfigText(const std::string& text, const std::string& origin, AgentConfig& config) {
  std::istringstream in(text);
  std::string line;
  int number = 0;
  bool listenFresh = false;
  while (std::getline(in, line)) {
    ++number;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      throw std::invalid_argument(origin + ":" + std::to_string(number) + ": expected 'key = value'");
    }
    try {
      setOption(config, trim(line.substr(0, eq)), trim(line.substr(eq + 1)), listenFresh);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(origin + ":" + std::to_string(number) + ": " + e.what());
    }
  }
}

ParseOutcome parseAgentArgs(int argc, char** argv, AgentConfig& config, std::string& out) {
  static const std::map<std::string, std::string> flagToKey = {
      {"--listen", "listen"},       {"--state-dir", "state_dir"}, {"--log-file", "log_file"},
      {"--log-level", "log_level"}, {"--tls-cert", "tls_cert"},   {"--tls-key", "tls_key"},
      {"--workers", "workers"},     {"--queue", "queue"},         {"--events-listen", "events_listen"},
      {"--check-results", "check_results"}, {"--tls-ca", "tls_ca"},
      {"--tls-allowed-clients", "tls_allowed_clients"}, {"--idle-timeout", "idle_timeout"},
      {"--request-timeout", "request_timeout"}, {"--delete-volumes", "delete_volumes"},
      {"--volfile-servers", "volfile_servers"}, {"--gfapi-pool-max", "gfapi_pool_max"}};
  std::string configPath = kDefaultConfig;
  bool configNamed = false;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const auto eq = arg.find('=');
    const bool inlineValue = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inlineValue) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    if (arg == "--help" || arg == "-h") {
      out = kUsage;
      return ParseOutcome::ExitOk;
    }
    if (arg == "--version") {
      out = std::string("gdr-agent ") + GDR_VERSION + "\n";
      return ParseOutcome::ExitOk;
    }
    const bool known = arg == "--config" || flagToKey.count(arg);
    if (!known) throw std::invalid_argument("unknown option '" + arg + "' (see --help)");
    if (!inlineValue) {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--config") {
      configPath = value;
      configNamed = true;
    } else {
      overrides.emplace_back(flagToKey.at(arg), value);
    }
  }
  std::ifstream file(configPath);
  if (file) {
    std::stringstream text;
    text << file.rdbuf();
    applyConfigText(text.str(), configPath, config);
  } else if (configNamed) {
    throw std::invalid_argument("cannot read config file " + configPath);
  }
  bool listenFresh = false;
  for (const auto& [key, value] : overrides) setOption(config, key, value, listenFresh);
  checkConfig(config);
  return ParseOutcome::Run;
}

void checkConfig(const AgentConfig& config) {
  if (config.idleTimeout.count() > 86400 || config.requestTimeout.count() > 86400) {
    throw std::invalid_argument("idle_timeout and request_timeout: at most 86400 seconds");
  }
  if (config.eventsListen && config.eventsToken.empty()) {
    const std::string& host = config.eventsListen->host;
    const bool loopback = host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost";
    if (!loopback) {
      throw std::invalid_argument("events_listen on " + host +
                                  " is beyond loopback: set events_token (and register the webhook with -t TOKEN)");
    }
  }
}

}  // namespace gdr
