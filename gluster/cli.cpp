#include "gluster/cli.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/errors.h"
#include "core/json_util.h"

namespace gdr::gluster {

namespace {

std::string joined(const std::vector<std::string>& args) {
  std::string out = "gluster";
  for (const auto& a : args) out += " " + a;
  return out;
}

bool looksLikeXml(const std::string& out) { return out.find("<cliOutput>") != std::string::npos; }

}  // namespace

CommandResult SystemCommandRunner::run(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"gluster", "--mode=script", "--xml"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, timeout);
}

std::string Remote::spec() const { return (user.empty() || user == "root" ? "" : user + "@") + host + "::" + volume; }

void GlusterCli::failed(const std::vector<std::string>& args, const CommandResult& result, const std::string& opErrstr,
                        int opErrno, const std::string& volume, const std::optional<Remote>& remote,
                        Code failure) {
  Json::Value data;
  data["command"] = joined(args);
  data["exitCode"] = result.exitCode;
  data["opErrno"] = opErrno;
  data["opErrstr"] = opErrstr;
  if (!looksLikeXml(result.out) && !result.out.empty()) data["output"] = result.out.substr(0, 2000);
  if (!result.err.empty()) data["stderr"] = result.err.substr(0, 2000);
  // The CLI often says only "geo-replication command failed": find out
  // whether the volume or the session is what is missing.
  if (!volume.empty()) {
    const CommandResult info = runner_.run({"volume", "info", volume}, timeout_);
    if (!info.timedOut && looksLikeXml(info.out)) {
      const CliStatus status = parseCliStatus(info.out);
      if (status.opRet != 0) {
        throw AgentError(Code::GlusterVolumeNotFound, "no such gluster volume: " + volume, data);
      }
    }
    if (remote) {
      const CommandResult list = runner_.run({"volume", "geo-replication", volume, "status"}, timeout_);
      if (!list.timedOut && looksLikeXml(list.out)) {
        bool found = false;
        for (const auto& session : parseGeoRepStatus(list.out)) {
          found = found || (session.secondaryHost == remote->host && session.secondaryVolume == remote->volume);
        }
        if (!found) {
          throw AgentError(Code::GeoRepSessionNotFound,
                           "no geo-replication session " + volume + " -> " + remote->spec(), data);
        }
      }
    }
  }
  const std::string why = !opErrstr.empty() ? opErrstr
                          : !result.err.empty() ? result.err
                                                : (looksLikeXml(result.out) ? "" : result.out);
  throw AgentError(failure, joined(args) + " failed: " + (why.empty() ? "no reason given" : why), data);
}

std::string GlusterCli::run(const std::vector<std::string>& args, const std::string& volume,
                            const std::optional<Remote>& remote, Code failure) {
  const auto started = std::chrono::steady_clock::now();
  const CommandResult result = runner_.run(args, timeout_);
  spdlog::debug("{} -> exit {} in {} ms", joined(args), result.exitCode,
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                    .count());
  if (result.timedOut) {
    Json::Value data;
    data["command"] = joined(args);
    throw AgentError(Code::GlusterCliTimeout,
                     joined(args) + " did not answer within " + std::to_string(timeout_.count() / 1000) + " s", data);
  }
  if (result.spawnFailed) {
    throw AgentError(Code::GlusterCommandFailed, "cannot run the gluster CLI: " + result.err);
  }
  if (!looksLikeXml(result.out)) failed(args, result, "", 0, volume, remote, failure);
  const CliStatus status = parseCliStatus(result.out);
  if (status.opRet != 0 || result.exitCode != 0) {
    failed(args, result, status.opErrstr, status.opErrno, volume, remote, failure);
  }
  return result.out;
}

std::vector<Remote> recordedSecondaries(std::string_view volumeInfo) {
  std::vector<Remote> out;
  std::istringstream lines{std::string(volumeInfo)};
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const std::string prefix = key.rfind("secondary", 0) == 0 ? "secondary" : key.rfind("slave", 0) == 0 ? "slave" : "";
    if (prefix.empty() || key.size() == prefix.size() ||
        key.find_first_not_of("0123456789", prefix.size()) != std::string::npos) {
      continue;
    }
    const std::string value = line.substr(eq + 1);
    const auto scheme = value.find("://");
    const auto hostEnd = scheme == std::string::npos ? scheme : value.find("::", scheme + 3);
    const auto volumeEnd = value.rfind(':');
    if (hostEnd == std::string::npos || volumeEnd <= hostEnd + 2) continue;
    Remote remote;
    remote.host = value.substr(scheme + 3, hostEnd - scheme - 3);
    remote.volume = value.substr(hostEnd + 2, volumeEnd - hostEnd - 2);
    if (const auto at = remote.host.find('@'); at != std::string::npos) {
      remote.user = remote.host.substr(0, at);
      remote.host = remote.host.substr(at + 1);
    }
    if (remote.host.empty() || remote.volume.empty()) continue;
    out.push_back(remote);
  }
  return out;
}

std::optional<std::vector<Remote>> GlusterCli::recordedSessions(const std::string& volume) const {
  if (glusterdDir_.empty()) return std::nullopt;
  std::vector<std::string> volumes;
  if (!volume.empty()) {
    volumes.push_back(volume);
  } else {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(glusterdDir_ + "/vols", ec)) {
      volumes.push_back(entry.path().filename().string());
    }
    if (ec) return std::nullopt;
  }
  std::vector<Remote> all;
  for (const auto& name : volumes) {
    std::ifstream in(glusterdDir_ + "/vols/" + name + "/info");
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    for (auto& remote : recordedSecondaries(text.str())) all.push_back(std::move(remote));
  }
  return all;
}

std::vector<GeoRepSession> GlusterCli::geoRepStatus(const std::string& volume, const std::optional<Remote>& remote) {
  std::vector<std::string> args = {"volume", "geo-replication"};
  if (!volume.empty()) args.push_back(volume);
  if (remote) args.push_back(remote->spec());
  args.push_back("status");
  if (remote) args.push_back("detail");
  try {
    return parseGeoRepStatus(run(args, volume, remote, Code::GeoRepStatusFailed));
  } catch (const AgentError& e) {
    // Only the reasonless failure: gluster's own refusal stands.
    if (e.code() != Code::GeoRepStatusFailed || !e.data()["opErrstr"].asString().empty()) throw;
    const auto recorded = recordedSessions(volume);
    if (!recorded) throw;
    const bool matches = std::any_of(recorded->begin(), recorded->end(), [&remote](const Remote& r) {
      return !remote || (r.host == remote->host && r.volume == remote->volume);
    });
    if (matches) throw;  // a session is there: the failure is real
    if (remote) {
      throw AgentError(Code::GeoRepSessionNotFound, "no geo-replication session " + volume + " -> " + remote->spec(),
                       e.data());
    }
    return {};
  }
}

const char* actionName(GeoRepAction action) {
  switch (action) {
    case GeoRepAction::Create: return "create";
    case GeoRepAction::Start: return "start";
    case GeoRepAction::Stop: return "stop";
    case GeoRepAction::Pause: return "pause";
    case GeoRepAction::Resume: return "resume";
    case GeoRepAction::Delete: return "delete";
  }
  return "?";
}

Code actionFailure(GeoRepAction action) {
  switch (action) {
    case GeoRepAction::Create: return Code::GeoRepCreateFailed;
    case GeoRepAction::Start: return Code::GeoRepStartFailed;
    case GeoRepAction::Stop: return Code::GeoRepStopFailed;
    case GeoRepAction::Pause: return Code::GeoRepPauseFailed;
    case GeoRepAction::Resume: return Code::GeoRepResumeFailed;
    case GeoRepAction::Delete: return Code::GeoRepDeleteFailed;
  }
  return Code::GlusterCommandFailed;
}

void GlusterCli::geoRepAction(const std::string& volume, const Remote& remote, GeoRepAction action, bool force) {
  if (action == GeoRepAction::Create) return geoRepCreate(volume, remote, false, force);
  std::vector<std::string> args = {"volume", "geo-replication", volume, remote.spec(), actionName(action)};
  if (force) args.push_back("force");
  run(args, volume, remote, actionFailure(action));
}

void GlusterCli::geoRepCreate(const std::string& volume, const Remote& remote, bool noVerify, bool force) {
  std::vector<std::string> args = {"volume", "geo-replication", volume, remote.spec(), "create",
                                   noVerify ? "no-verify" : "push-pem"};
  if (force) args.push_back("force");
  // "create" must not be answered with "no such session".
  run(args, volume, std::nullopt, Code::GeoRepCreateFailed);
}

std::map<std::string, std::string> GlusterCli::geoRepConfig(const std::string& volume, const Remote& remote) {
  return parseGeoRepConfig(
      run({"volume", "geo-replication", volume, remote.spec(), "config"}, volume, remote, Code::GeoRepConfigFailed));
}

std::map<std::string, std::string> GlusterCli::volumeOptions(const std::string& volume) {
  return parseVolumeOptions(run({"volume", "info", volume}, volume, std::nullopt));
}

void GlusterCli::volumeSet(const std::string& volume, const std::string& name, const std::string& value,
                           Code failure) {
  run({"volume", "set", volume, name, value}, volume, std::nullopt, failure);
}

CommandResult GlusterCli::runScript(const std::vector<std::string>& args, Code failure, const std::string& what) {
  const CommandResult result = runner_.run(args, timeout_);
  spdlog::debug("{} -> exit {}", joined(args), result.exitCode);
  // Its success is its exit code: gluster has no XML form of its output.
  if (result.timedOut || result.spawnFailed || result.exitCode != 0) {
    Json::Value data;
    data["command"] = joined(args);
    data["exitCode"] = result.exitCode;
    const std::string said = json::printable(result.err.empty() ? result.out : result.err, 400);
    throw AgentError(failure,
                     what + " failed" + std::string(result.timedOut ? " (timed out)" : "") +
                         (said.empty() ? "" : ": " + said),
                     data);
  }
  return result;
}

void GlusterCli::geoRepKeysCreate() {
  runScript({"system::", "execute", "gsec_create"}, Code::GeoRepPublicKeyFileCreateFailed, "gsec_create");
}

std::vector<PeerReply> GlusterCli::runMountBroker(const std::vector<std::string>& args, Code failure,
                                                  const std::string& what) {
  std::vector<PeerReply> replies = parsePeerReplies(runScript(args, failure, what).out);
  if (const std::string refused = refusals(replies); !refused.empty()) {
    Json::Value data;
    data["command"] = joined(args);
    data["exitCode"] = 0;  // gluster's peer scripts exit 0 when a node refuses
    // The root directory has its own code (VDSM's); the rest is the setup's.
    const bool root = failure == Code::GeoRepMountBrokerOptFailed && refused.find("Unable to Create") != std::string::npos;
    throw AgentError(root ? Code::GeoRepMountBrokerRootCreateFailed : failure, what + " failed on " + refused, data);
  }
  return replies;
}

std::vector<PeerReply> GlusterCli::mountBrokerSetup(const std::string& root, const std::string& group) {
  return runMountBroker({"system::", "execute", "mountbroker.py", "node-setup", root, group},
                        Code::GeoRepMountBrokerOptFailed, "the mount broker's set-up");
}

std::vector<PeerReply> GlusterCli::mountBrokerAddUser(const std::string& volume, const std::string& user) {
  return runMountBroker({"system::", "execute", "mountbroker.py", "node-add", volume, user},
                        Code::GeoRepMountBrokerUserAddFailed, "adding " + user + " to the mount broker");
}

std::vector<std::string> GlusterCli::knownVolumeHosts() {
  std::vector<std::string> hosts = parseBrickHosts(run({"volume", "info"}, "", std::nullopt));
  auto add = [&hosts](const std::string& host) {
    if (!host.empty() && std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(host);
  };
  for (const auto& session : geoRepStatus("", std::nullopt)) {
    add(session.secondaryHost);
    for (const auto& worker : session.workers) add(worker.secondaryNode);
  }
  return hosts;
}

void GlusterCli::geoRepConfigSet(const std::string& volume, const Remote& remote, const std::string& name,
                                 const std::string& value) {
  // The CLI takes a value starting with '-' (rsync-options "--checksum")
  // for an option of its own; it trims a leading space.
  const std::string safe = !value.empty() && value.front() == '-' ? " " + value : value;
  run({"volume", "geo-replication", volume, remote.spec(), "config", name, safe}, volume, remote,
      Code::GeoRepConfigFailed);
}

void GlusterCli::geoRepConfigReset(const std::string& volume, const Remote& remote, const std::string& name) {
  run({"volume", "geo-replication", volume, remote.spec(), "config", "!" + name}, volume, remote,
      Code::GeoRepConfigFailed);
}

std::int64_t GlusterCli::geoRepCheckpointSet(const std::string& volume, const Remote& remote) {
  geoRepConfigSet(volume, remote, "checkpoint", "now");
  const auto config = geoRepConfig(volume, remote);
  auto it = config.find("checkpoint");
  try {
    if (it != config.end()) return std::stoll(it->second);
  } catch (const std::exception&) {
  }
  throw AgentError(Code::GlusterCliBadOutput, "checkpoint set, but gluster's config shows no checkpoint time");
}

}  // namespace gdr::gluster
