// Host.*: liveness, capabilities, the job store, and the running VMs.
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <regex>

#include "api/host.h"
#include "core/job_store.h"
#include "core/process.h"
#include "core/schema.h"
#include "verbs/all_verbs.h"
#include "version.h"
#include "virt/gluster_mounts.h"
#include "virt/vm_listing.h"

namespace gdr {

namespace {

// First "N.N[.N]" in a program's --version output, or null when the
// program is absent or says nothing recognizable.
std::optional<std::string> probeVersion(const std::vector<std::string>& argv) {
  const CommandResult result = runCommand(argv, std::chrono::seconds(5));
  if (result.spawnFailed || result.timedOut || result.exitCode != 0) return std::nullopt;
  static const std::regex version(R"((\d+\.\d+(?:\.\d+)?))");
  std::smatch match;
  const std::string text = result.out + result.err;
  if (!std::regex_search(text, match, version)) return std::nullopt;
  return match[1].str();
}

// Software versions change only with package upgrades; probing spawns
// processes, so the answer is kept for a minute.
api::SoftwareVersions softwareVersions() {
  static std::mutex mutex;
  static std::optional<api::SoftwareVersions> cached;
  static std::chrono::steady_clock::time_point probedAt;
  std::lock_guard<std::mutex> lock(mutex);
  const auto now = std::chrono::steady_clock::now();
  if (!cached || now - probedAt > std::chrono::minutes(1)) {
    cached = api::SoftwareVersions{probeVersion({"libvirtd", "--version"}), probeVersion({"glusterfs", "--version"}),
                                   probeVersion({"qemu-system-x86_64", "--version"})};
    probedAt = now;
  }
  return *cached;
}

std::string hostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

class HostVerbs {
 public:
  explicit HostVerbs(AgentServices& services) : services_(services) {}

  api::Empty ping(const api::Empty&) { return {}; }

  api::Capabilities getCapabilities(const api::Empty&) {
    api::Capabilities caps;
    caps.agentVersion = GDR_VERSION;
    caps.schemaVersion = services_.schema.version();
    caps.hostName = hostName();
    for (const auto& verb : services_.schema.verbs()) caps.verbs.push_back(verb.fullName());
    caps.software = softwareVersions();
    return caps;
  }

  api::GetJobsResult getJobs(const api::GetJobsParams& params) {
    api::GetJobsResult out;
    if (params.jobIds && params.jobIds->empty()) return out;  // asked for none
    for (const auto& job : services_.jobs.list(params.jobIds.value_or(std::vector<std::string>{}))) {
      out.jobs[job.id] = job.toApi();
    }
    return out;
  }

  api::AbortJobResult abortJob(const api::AbortJobParams& params) {
    return {services_.jobs.abort(params.jobId).toApi()};
  }

  api::VmList getVMList(const api::Empty&) {
    return virt::listRunningVms(services_.hypervisor, virt::readGlusterMounts());
  }

 private:
  AgentServices& services_;
};

}  // namespace

void registerHostVerbs(Registry& registry, AgentServices& services) {
  auto verbs = std::make_shared<HostVerbs>(services);
  registry.add<api::HostPing>([verbs](const auto& p, const CallContext&) { return verbs->ping(p); });
  registry.add<api::HostGetCapabilities>([verbs](const auto& p, const CallContext&) { return verbs->getCapabilities(p); });
  registry.add<api::HostGetJobs>([verbs](const auto& p, const CallContext&) { return verbs->getJobs(p); });
  registry.add<api::HostAbortJob>([verbs](const auto& p, const CallContext&) { return verbs->abortJob(p); });
  registry.add<api::HostGetVMList>([verbs](const auto& p, const CallContext&) { return verbs->getVMList(p); });
}

}  // namespace gdr
