#pragma once
// gdr-agent's settings: the config file (/etc/gdr/agent.conf, "key = value"
// lines, '#' comments), then command-line flags, which win.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace gdr {

struct ListenAddress {
  enum class Kind { Unix, Https, Http } kind;
  std::string path;  // Unix
  std::string host;  // Http(s): a numeric IPv4/IPv6 address
  int port = 0;
  std::string text;  // as written

  // "unix:/run/gdr/agent.sock", "https://127.0.0.1:54321" or
  // "http://127.0.0.1:54322"; throws
  // std::invalid_argument with a readable message.
  static ListenAddress parse(const std::string& text);
};

struct AgentConfig {
  std::vector<ListenAddress> listen{ListenAddress::parse("unix:/run/gdr/agent.sock")};
  std::string stateDir = "/var/lib/gdr";
  std::string logFile = "-";  // "-" is stderr
  std::string logLevel = "info";
  std::string tlsCert = "/etc/gdr/tls/agent.crt";
  std::string tlsKey = "/etc/gdr/tls/agent.key";
  // Mutual TLS: client certificates must verify against tlsCa and name
  // (subject CN or a SAN entry) one of tlsAllowedClients.
  std::string tlsCa = "/etc/gdr/tls/ca.crt";
  std::vector<std::string> tlsAllowedClients;
  // A connection that sends nothing for this long (TLS handshake, a
  // request's bytes, the gap between requests) is closed.
  std::chrono::seconds idleTimeout{60};
  // A call not answered within this time gets RequestTimeout; its worker
  // finishes it in the background (jobs answer at once and are not bound).
  std::chrono::seconds requestTimeout{300};
  size_t workers = 8;
  size_t queue = 64;
  size_t maxConnections = 1024;
  size_t maxRequestBytes = 1 << 20;
  std::chrono::seconds jobTtl{3600};
  std::chrono::seconds shutdownGrace{10};
  // Where overlays may be deleted on a secondary (volume-relative
  // directories). Empty: only directly inside ".gdr-snapshots" directories.
  std::vector<std::string> overlayPrefixes;
  // The volumes GlusterVolume.overlayDelete may act on (the secondaries).
  // Empty: it acts on none.
  std::vector<std::string> deleteVolumes;
  // The volfile servers gfapi verbs may fetch a volume's graph from. Unset:
  // this host's loopback names, and the brick hosts and geo-rep secondary
  // hosts of the volumes its glusterd knows.
  std::optional<std::vector<std::string>> volfileServers;
  size_t gfapiPoolMax = 16;  // open volume connections
  std::chrono::seconds gfapiIdleTimeout{300};
  std::chrono::seconds glusterTimeout{120};  // one gluster CLI call
  std::string libvirtUri = "qemu:///system";
  // How long a merge stays READY before its pivot. 0 in production; tests
  // set it to stop the agent in that state.
  std::chrono::seconds mergePivotDelay{0};
  bool checkResults = false;  // check every result against the schema (tests)
  size_t maxBatch = 100;      // calls in one JSON-RPC batch
  // Gluster's events API posts here (GEOREP_CHECKPOINT_COMPLETED wakes a
  // sync job at once); unset: sync jobs poll only.
  std::optional<ListenAddress> eventsListen;
  std::string eventsToken;  // the bearer token given to gluster-eventsapi webhook-add
  // The users GlusterHost.geoRepKeysUpdate may add keys for (the secondary's
  // geo-replication user: root, or a mountbroker account).
  std::vector<std::string> geoRepKeyUsers{"root"};
  // Where gsec_create writes the primary's public keys.
  std::string geoRepPublicKeyFile = "/var/lib/glusterd/geo-replication/common_secret.pem.pub";
  // The mount broker's root directory GlusterHost.geoRepMountBrokerSetup makes.
  std::string geoRepMountBrokerRoot = "/var/mountbroker-root";
};

enum class ParseOutcome { Run, ExitOk };

// Fills `config` from the config file named by --config (default
// /etc/gdr/agent.conf; a missing default file is fine, a missing named one
// is not) and the flags. Prints --help / --version to `out`.
// Throws std::invalid_argument with a message for the user.
ParseOutcome parseAgentArgs(int argc, char** argv, AgentConfig& config, std::string& out);

// Applies one file's text; `origin` names it in error messages.
void applyConfigText(const std::string& text, const std::string& origin, AgentConfig& config);

// Rules across settings, once they are all read; throws std::invalid_argument.
// An events listener beyond loopback needs a token: anyone who reaches it
// could otherwise tell sync jobs a checkpoint completed.
void checkConfig(const AgentConfig& config);

}  // namespace gdr
