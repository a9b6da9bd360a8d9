// Host.*: liveness, capabilities and the job store.
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <regex>

#include "core/errors.h"
#include "core/job_store.h"
#include "core/process.h"
#include "core/schema.h"
#include "verbs/all_verbs.h"
#include "version.h"

namespace gdr {

namespace {

// First "N.N[.N]" in a program's --version output, or null when the
// program is absent or says nothing recognizable.
Json::Value probeVersion(const std::vector<std::string>& argv) {
  const CommandResult result = runCommand(argv, std::chrono::seconds(5));
  if (result.spawnFailed || result.timedOut || result.exitCode != 0) return Json::Value();
  static const std::regex version(R"((\d+\.\d+(?:\.\d+)?))");
  std::smatch match;
  const std::string text = result.out + result.err;
  if (!std::regex_search(text, match, version)) return Json::Value();
  return match[1].str();
}

// Software versions change only with package upgrades; probing spawns
// processes, so the answer is kept for a minute.
Json::Value softwareVersions() {
  static std::mutex mutex;
  static Json::Value cached;
  static std::chrono::steady_clock::time_point probedAt;
  std::lock_guard<std::mutex> lock(mutex);
  const auto now = std::chrono::steady_clock::now();
  if (cached.isNull() || now - probedAt > std::chrono::minutes(1)) {
    Json::Value software(Json::objectValue);
    software["libvirt"] = probeVersion({"libvirtd", "--version"});
    software["glusterfs"] = probeVersion({"glusterfs", "--version"});
    software["qemu"] = probeVersion({"qemu-system-x86_64", "--version"});
    cached = software;
    probedAt = now;
  }
  return cached;
}

std::string hostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

}  // namespace

void registerHostVerbs(Registry& registry, AgentServices& services) {
  registry.add("Host.ping", [](const Json::Value&, const CallContext&) { return Json::Value(Json::objectValue); });

  registry.add("Host.getCapabilities", [&services](const Json::Value&, const CallContext&) {
    Json::Value caps;
    caps["agentVersion"] = GDR_VERSION;
    caps["schemaVersion"] = services.schema.version();
    caps["hostName"] = hostName();
    caps["verbs"] = Json::Value(Json::arrayValue);
    for (const auto& verb : services.schema.verbs()) caps["verbs"].append(verb.fullName());
    caps["software"] = softwareVersions();
    return caps;
  });

  registry.add("Host.getJobs", [&services](const Json::Value& params, const CallContext&) {
    std::vector<std::string> ids;
    for (const auto& id : params.get("jobIds", Json::Value(Json::arrayValue))) ids.push_back(id.asString());
    const bool filtered = params.isMember("jobIds");
    Json::Value out;
    out["jobs"] = Json::Value(Json::objectValue);
    if (filtered && ids.empty()) return out;
    for (const auto& job : services.jobs.list(ids)) out["jobs"][job.id] = job.toJson();
    return out;
  });

  registry.add("Host.abortJob", [&services](const Json::Value& params, const CallContext&) {
    Json::Value out;
    out["job"] = services.jobs.abort(params["jobId"].asString()).toJson();
    return out;
  });
}

}  // namespace gdr
