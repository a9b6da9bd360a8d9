#pragma once
// The gluster CLI in script mode with --xml, behind a narrow runner so
// unit tests replay recorded output. Every failure becomes an AgentError
// with a stable code in 4200-4299 and gluster's own opErrstr in data.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.h"
#include "core/process.h"
#include "gluster/georep_xml.h"
#include "gluster/mountbroker.h"

namespace gdr::gluster {

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs `gluster --mode=script --xml ARGS...`.
  virtual CommandResult run(const std::vector<std::string>& args, std::chrono::milliseconds timeout) = 0;
};

class SystemCommandRunner : public CommandRunner {
 public:
  CommandResult run(const std::vector<std::string>& args, std::chrono::milliseconds timeout) override;
};

// A geo-replication session's secondary: [user@]host::volume.
struct Remote {
  std::string host, volume, user = "root";
  std::string spec() const;  // as the gluster CLI wants it
};

// The geo-replication secondaries glusterd records for a volume, from its
// store (WORKDIR/vols/VOLUME/info: "secondaryN=" lines, "slaveN=" before
// gluster 10): each "PRIMARY_UUID:ssh://[user@]host::volume:SECONDARY_UUID".
// Pure; lines of another shape are skipped.
std::vector<Remote> recordedSecondaries(std::string_view volumeInfo);

enum class GeoRepAction { Create, Start, Stop, Pause, Resume, Delete };
const char* actionName(GeoRepAction action);  // "start"
Code actionFailure(GeoRepAction action);     // GeoRepStartFailed

class GlusterCli {
 public:
  // `glusterdDir`: glusterd's working directory, read when the CLI cannot
  // say that a volume has no session (see geoRepStatus); empty: never read.
  GlusterCli(CommandRunner& runner, std::chrono::milliseconds timeout, std::string glusterdDir = "")
      : runner_(runner), timeout_(timeout), glusterdDir_(std::move(glusterdDir)) {}

  // Sessions of `volume` (all volumes when empty), optionally only the one
  // to `remote`; with per-worker detail. In a pool of several nodes the
  // CLI fails with no reason ("geo-replication command failed", no XML)
  // when there is no session at all: then glusterd's store decides, and
  // no recorded session is an empty list (GeoRepSessionNotFound for
  // `remote`).
  std::vector<GeoRepSession> geoRepStatus(const std::string& volume, const std::optional<Remote>& remote);
  // create (push-pem), start, stop, pause, resume, delete. A failure
  // carries the action's own code (VDSM's: GeoRepStartFailed, ...).
  void geoRepAction(const std::string& volume, const Remote& remote, GeoRepAction action, bool force);
  // create push-pem: gluster checks the secondary over ssh and pushes the
  // keys itself (root's own ssh access to it needed); create no-verify
  // (VDSM's): neither, the keys put in place beforehand
  // (GlusterHost.geoRepKeysUpdate) and the secondary checked by the caller.
  void geoRepCreate(const std::string& volume, const Remote& remote, bool noVerify, bool force);
  std::map<std::string, std::string> geoRepConfig(const std::string& volume, const Remote& remote);
  void geoRepConfigSet(const std::string& volume, const Remote& remote, const std::string& name,
                       const std::string& value);
  void geoRepConfigReset(const std::string& volume, const Remote& remote, const std::string& name);
  // The hosts this host's glusterd knows as volfile servers: every brick
  // host of its volumes, and every secondary host of its geo-rep sessions.
  std::vector<std::string> knownVolumeHosts();
  // The volume's reconfigured options (volume info).
  std::map<std::string, std::string> volumeOptions(const std::string& volume);
  // gluster volume set VOLUME NAME VALUE. Throws AgentError(`failure`).
  void volumeSet(const std::string& volume, const std::string& name, const std::string& value, Code failure);
  // `gluster system:: execute gsec_create`: makes this host's
  // geo-replication keys (the pem pair per node, and the common public key
  // file listing them). Throws AgentError(GeoRepPublicKeyFileCreateFailed).
  void geoRepKeysCreate();
  // gluster's mount broker on every node of this pool (its peer script):
  // the root directory, the log group and its rights (node-setup), then
  // the user allowed to mount `volume` (node-add). A node that refuses
  // fails the call: GeoRepMountBrokerRootCreateFailed,
  // GeoRepMountBrokerOptFailed, GeoRepMountBrokerUserAddFailed.
  std::vector<PeerReply> mountBrokerSetup(const std::string& root, const std::string& group);
  std::vector<PeerReply> mountBrokerAddUser(const std::string& volume, const std::string& user);
  // Sets "checkpoint now" and returns the checkpoint time gluster recorded.
  std::int64_t geoRepCheckpointSet(const std::string& volume, const Remote& remote);

 private:
  // Runs and checks the envelope; on failure works out whether the volume
  // or the session is missing, to give those their own codes.
  // `failure` is the code of a command that gluster refused.
  std::string run(const std::vector<std::string>& args, const std::string& volume,
                  const std::optional<Remote>& remote, Code failure = Code::GlusterCommandFailed);
  // Runs a `gluster system:: execute` script: its exit code decides
  // (AgentError(failure), "WHAT failed: ...").
  CommandResult runScript(const std::vector<std::string>& args, Code failure, const std::string& what);
  // Runs gluster's mountbroker.py peer script; every node must apply it.
  std::vector<PeerReply> runMountBroker(const std::vector<std::string>& args, Code failure,
                                        const std::string& what);
  [[noreturn]] void failed(const std::vector<std::string>& args, const CommandResult& result,
                           const std::string& opErrstr, int opErrno, const std::string& volume,
                           const std::optional<Remote>& remote, Code failure);

  // The secondaries glusterd's store records for `volume` (every volume
  // when empty); nullopt when a volume's record cannot be read.
  std::optional<std::vector<Remote>> recordedSessions(const std::string& volume) const;

  CommandRunner& runner_;
  std::chrono::milliseconds timeout_;
  std::string glusterdDir_;
};

}  // namespace gdr::gluster
