#include "virt/libvirt_domain.h"

#include <libvirt/libvirt.h>

#include <algorithm>
#include <libvirt/virterror.h>
#include <spdlog/spdlog.h>

#include "core/errors.h"

namespace gdr::virt {

namespace {

struct DomainFree {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
struct SnapshotFree {
  void operator()(virDomainSnapshotPtr s) const { virDomainSnapshotFree(s); }
};
using DomainPtr = std::unique_ptr<virDomain, DomainFree>;
using SnapshotPtr = std::unique_ptr<virDomainSnapshot, SnapshotFree>;

// libvirt reports errors per thread; read them right after the failed call.
std::string lastMessage() {
  virErrorPtr e = virGetLastError();
  return e && e->message ? e->message : "unknown libvirt error";
}
int lastCode() {
  virErrorPtr e = virGetLastError();
  return e ? e->code : 0;
}

// Errors that mean "libvirt was not reached", not "libvirt said no".
bool unreachable(int code) {
  return code == VIR_ERR_NO_CONNECT || code == VIR_ERR_INVALID_CONN || code == VIR_ERR_RPC ||
         code == VIR_ERR_SYSTEM_ERROR || code == VIR_ERR_OPERATION_TIMEOUT || code == VIR_ERR_AUTH_FAILED;
}

[[noreturn]] void fail(Code code, const std::string& what) {
  Json::Value data;
  const int libvirtCode = lastCode();
  data["libvirtCode"] = libvirtCode;
  data["libvirtMessage"] = lastMessage();
  if (unreachable(libvirtCode)) throw LibvirtUnreachable(code, what + ": " + lastMessage(), data);
  throw AgentError(code, what + ": " + lastMessage(), data);
}

void silenceLibvirt() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Errors reach callers as AgentErrors; libvirt must not also print them.
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    virInitialize();
  });
}

class LibvirtDomain : public Domain {
 public:
  LibvirtDomain(std::shared_ptr<_virConnect> connection, DomainPtr domain)
      : connection_(std::move(connection)), domain_(std::move(domain)) {
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    virDomainGetUUIDString(domain_.get(), uuid);
    uuid_ = uuid;
    const char* name = virDomainGetName(domain_.get());
    name_ = name ? name : "";
  }

  std::string uuid() const override { return uuid_; }
  std::string name() const override { return name_; }

  bool running() override {
    const int s = state();
    return s == VIR_DOMAIN_RUNNING || s == VIR_DOMAIN_PAUSED;
  }

  bool paused() override { return state() == VIR_DOMAIN_PAUSED; }

  void suspend() override {
    if (virDomainSuspend(domain_.get()) < 0) fail(Code::VMStateChangeFailed, "pause " + name_);
  }
  void resume() override {
    if (virDomainResume(domain_.get()) < 0) fail(Code::VMStateChangeFailed, "resume " + name_);
  }
  void destroy() override {
    if (virDomainDestroy(domain_.get()) < 0) fail(Code::VMStateChangeFailed, "destroy " + name_);
  }

  std::string xml() override { return xmlDesc(0, "XML of " + name_); }

  std::string definitionXml() override { return xmlDesc(VIR_DOMAIN_XML_INACTIVE, "inactive XML of " + name_); }

  void snapshot(const std::string& snapshotXml, bool quiesce) override {
    unsigned flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC |
                     VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA | VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT;
    if (quiesce) flags |= VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE;
    SnapshotPtr snapshot(virDomainSnapshotCreateXML(domain_.get(), snapshotXml.c_str(), flags));
    if (!snapshot) {
      Json::Value data;
      data["libvirtCode"] = lastCode();
      data["libvirtMessage"] = lastMessage();
      // No guest agent, or one that does not answer.
      const int code = lastCode();
      data["agentUnavailable"] =
          quiesce && (code == VIR_ERR_AGENT_UNRESPONSIVE || code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
                      code == VIR_ERR_OPERATION_UNSUPPORTED || lastMessage().find("agent") != std::string::npos);
      throw AgentError(Code::SnapshotFailed, "snapshot of " + name_ + ": " + lastMessage(), data);
    }
  }

  void blockCommit(const std::string& disk, const std::string& base, const std::string& top,
                   unsigned long bandwidthMiB) override {
    unsigned flags = VIR_DOMAIN_BLOCK_COMMIT_RELATIVE;
    if (top.empty()) flags |= VIR_DOMAIN_BLOCK_COMMIT_ACTIVE;
    if (virDomainBlockCommit(domain_.get(), disk.c_str(), base.c_str(), top.empty() ? nullptr : top.c_str(),
                             bandwidthMiB, flags) < 0) {
      fail(Code::MergeFailed, "blockCommit " + name_ + " " + disk);
    }
  }

  std::uint64_t capacity(const std::string& disk) override {
    virDomainBlockInfo info{};
    if (virDomainGetBlockInfo(domain_.get(), disk.c_str(), &info, 0) < 0) {
      fail(Code::SnapshotFailed, "size of " + name_ + " " + disk);
    }
    return info.capacity;
  }

  std::optional<BlockJobInfo> blockJobInfo(const std::string& disk) override {
    virDomainBlockJobInfo info{};
    const int rc = virDomainGetBlockJobInfo(domain_.get(), disk.c_str(), &info, 0);
    if (rc < 0) fail(Code::MergeFailed, "block job of " + name_ + " " + disk);
    if (rc == 0) return std::nullopt;
    BlockJobInfo out;
    out.type = info.type;
    out.cur = info.cur;
    out.end = info.end;
    out.bandwidth = info.bandwidth;
    return out;
  }

  void blockJobAbort(const std::string& disk, bool pivot) override {
    if (virDomainBlockJobAbort(domain_.get(), disk.c_str(), pivot ? VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT : 0) < 0) {
      fail(Code::MergeFailed, std::string(pivot ? "pivot " : "cancel ") + name_ + " " + disk);
    }
  }

 private:
  int state() {  // virDomainState
    int state = 0, reason = 0;
    if (virDomainGetState(domain_.get(), &state, &reason, 0) < 0) fail(Code::GeneralException, "state of " + name_);
    return state;
  }

  std::string xmlDesc(unsigned flags, const std::string& what) {
    char* text = virDomainGetXMLDesc(domain_.get(), flags);
    if (!text) fail(Code::GeneralException, what);
    std::string out = text;
    free(text);
    return out;
  }

  std::shared_ptr<_virConnect> connection_;  // outlives the domain handle
  DomainPtr domain_;
  std::string uuid_, name_;
};

// VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2: `disk` is the drive's target name.
void blockJobEvent(virConnectPtr, virDomainPtr domain, const char* disk, int type, int status, void* opaque) {
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (!disk || virDomainGetUUIDString(domain, uuid) < 0) return;
  spdlog::debug("libvirt: block job type {} on {} {}: status {}", type, uuid, disk, status);
  (*static_cast<LibvirtHypervisor::BlockJobListener*>(opaque))(uuid, disk);
}

}  // namespace

std::shared_ptr<_virConnect> LibvirtHypervisor::connection() {
  silenceLibvirt();
  std::lock_guard<std::mutex> lock(mutex_);
  if (connection_ && virConnectIsAlive(connection_.get()) == 1) return connection_;
  virConnectPtr raw = virConnectOpen(uri_.c_str());
  if (!raw) {
    Json::Value data;
    data["libvirtCode"] = lastCode();
    data["libvirtMessage"] = lastMessage();
    throw LibvirtUnreachable(Code::GeneralException, "cannot connect to libvirt at " + uri_ + ": " + lastMessage(),
                             data);
  }
  if (connection_) spdlog::warn("libvirt connection to {} was lost; reconnected", uri_);
  int callbackId = -1;
  if (blockJobListener_) {
    callbackId =
        virConnectDomainEventRegisterAny(raw, nullptr, VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                         VIR_DOMAIN_EVENT_CALLBACK(blockJobEvent), &blockJobListener_, nullptr);
    if (callbackId < 0) spdlog::warn("libvirt block job events not heard ({}): jobs poll", lastMessage());
  }
  connection_ = std::shared_ptr<_virConnect>(raw, [callbackId](virConnectPtr c) {
    if (callbackId >= 0) virConnectDomainEventDeregisterAny(c, callbackId);
    virConnectClose(c);
  });
  return connection_;
}

std::unique_ptr<Domain> LibvirtHypervisor::lookup(const std::string& uuid) {
  auto conn = connection();
  DomainPtr domain(virDomainLookupByUUIDString(conn.get(), uuid.c_str()));
  if (!domain) {
    Json::Value data;
    data["vmID"] = uuid;
    if (lastCode() == VIR_ERR_NO_DOMAIN || lastCode() == VIR_ERR_INVALID_ARG) {
      throw AgentError(Code::NoSuchVM, "no VM with id " + uuid, data);
    }
    fail(Code::GeneralException, "looking up VM " + uuid);
  }
  return std::make_unique<LibvirtDomain>(conn, std::move(domain));
}

std::vector<std::unique_ptr<Domain>> LibvirtHypervisor::runningDomains() {
  auto conn = connection();
  virDomainPtr* list = nullptr;
  const int n = virConnectListAllDomains(conn.get(), &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0) fail(Code::GeneralException, "listing VMs");
  std::vector<std::unique_ptr<Domain>> out;
  for (int i = 0; i < n; ++i) out.push_back(std::make_unique<LibvirtDomain>(conn, DomainPtr(list[i])));
  free(list);
  return out;
}

void LibvirtHypervisor::startTransient(const std::string& xml) {
  auto conn = connection();
  DomainPtr domain(virDomainCreateXML(conn.get(), xml.c_str(), 0));
  if (!domain) fail(Code::DrillFailed, "starting the drill's copy");
}

// Only a running domain of that UUID: a drill's copies are transient.
static DomainPtr runningDomain(virConnectPtr conn, const std::string& uuid) {
  DomainPtr domain(virDomainLookupByUUIDString(conn, uuid.c_str()));
  if (!domain) {
    if (lastCode() == VIR_ERR_NO_DOMAIN) return nullptr;
    fail(Code::GeneralException, "looking up VM " + uuid);
  }
  return virDomainIsActive(domain.get()) == 1 ? std::move(domain) : nullptr;
}

bool LibvirtHypervisor::destroy(const std::string& uuid) {
  auto conn = connection();
  DomainPtr domain = runningDomain(conn.get(), uuid);
  if (!domain) return false;
  if (virDomainDestroy(domain.get()) < 0) {
    if (virDomainIsActive(domain.get()) == 0) return true;  // it went by itself meanwhile
    fail(Code::GeneralException, "destroying VM " + uuid);
  }
  return true;
}

std::optional<DiskActivity> LibvirtHypervisor::diskActivity(const std::string& uuid,
                                                            const std::vector<std::string>& drives) {
  auto conn = connection();
  DomainPtr domain = runningDomain(conn.get(), uuid);
  if (!domain) return std::nullopt;
  DiskActivity out;
  for (const auto& drive : drives) {
    virDomainBlockStatsStruct stats{};
    if (virDomainBlockStats(domain.get(), drive.c_str(), &stats, sizeof stats) < 0) {
      if (virDomainIsActive(domain.get()) != 1) return std::nullopt;
      fail(Code::GeneralException, "disk statistics of VM " + uuid + " " + drive);
    }
    out.requests += std::uint64_t(std::max<long long>(stats.rd_req, 0) + std::max<long long>(stats.wr_req, 0));
    out.bytes += std::uint64_t(std::max<long long>(stats.rd_bytes, 0) + std::max<long long>(stats.wr_bytes, 0));
  }
  return out;
}

void LibvirtHypervisor::define(const std::string& xml) {
  auto conn = connection();
  DomainPtr domain(virDomainDefineXML(conn.get(), xml.c_str()));
  if (!domain) fail(Code::FailoverFailed, "defining the VM");
}

bool LibvirtHypervisor::start(const std::string& uuid) {
  auto conn = connection();
  DomainPtr domain(virDomainLookupByUUIDString(conn.get(), uuid.c_str()));
  if (!domain) fail(Code::FailoverFailed, "looking up VM " + uuid);
  if (virDomainIsActive(domain.get()) == 1) return false;
  if (virDomainCreate(domain.get()) < 0) fail(Code::FailoverFailed, "starting VM " + uuid);
  return true;
}

std::string LibvirtHypervisor::libvirtVersion() {
  unsigned long version = 0;
  try {
    if (virConnectGetLibVersion(connection().get(), &version) < 0) return {};
  } catch (const AgentError&) {
    return {};
  }
  return std::to_string(version / 1000000) + "." + std::to_string(version / 1000 % 1000) + "." +
         std::to_string(version % 1000);
}

}  // namespace gdr::virt
