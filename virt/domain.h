#pragma once
// The few libvirt calls a snapshot and a merge need, behind an interface:
// LibvirtHypervisor (libvirt_domain.h) implements it on libvirt's C API,
// unit tests use a fake that replays recorded XML and injects failures.
// Every failure is an AgentError carrying libvirt's message; a
// LibvirtUnreachable when libvirt could not be reached at all.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/errors.h"

namespace gdr::virt {

// libvirt could not be reached (the daemon is down or restarting, the
// connection was lost): worth retrying for a while. Every other AgentError
// from this seam is libvirt refusing the call, and retrying will not help.
class LibvirtUnreachable : public AgentError {
 public:
  using AgentError::AgentError;
};

struct BlockJobInfo {
  int type = 0;  // virDomainBlockJobType
  std::uint64_t cur = 0, end = 0;
  std::uint64_t bandwidth = 0;
};

class Domain {
 public:
  virtual ~Domain() = default;
  virtual std::string uuid() const = 0;
  virtual std::string name() const = 0;
  virtual bool running() = 0;  // running or paused
  virtual bool paused() = 0;
  // virDomainSuspend / virDomainResume / virDomainDestroy (the persistent
  // definition stays). Throw AgentError(VMStateChangeFailed).
  virtual void suspend() = 0;
  virtual void resume() = 0;
  virtual void destroy() = 0;
  // The live XML.
  virtual std::string xml() = 0;
  // The persistent (inactive) definition's XML: what the VM boots from.
  virtual std::string definitionXml() = 0;
  // An external, disk-only, atomic snapshot without libvirt metadata onto
  // overlays the caller has created (REUSE_EXT: their headers name their
  // backing files, relative, as the caller chose), quiesced through the
  // guest agent when `quiesce`. Throws
  // AgentError(SnapshotFailed); data["agentUnavailable"] is true when the
  // failure was the guest agent's.
  virtual void snapshot(const std::string& snapshotXml, bool quiesce) = 0;
  // Commit into `base` (flag RELATIVE, `bandwidthMiB` 0 for unlimited): of
  // `disk`'s active layer when `top` is empty (flag ACTIVE: a mirror to
  // pivot), else of the image `top` (the job ends by itself).
  virtual void blockCommit(const std::string& disk, const std::string& base, const std::string& top,
                           unsigned long bandwidthMiB) = 0;
  // The virtual size of `disk`, in bytes.
  virtual std::uint64_t capacity(const std::string& disk) = 0;
  // nullopt when no block job runs on `disk`.
  virtual std::optional<BlockJobInfo> blockJobInfo(const std::string& disk) = 0;
  // Ends the job: pivots to the new image when `pivot`, else cancels it.
  virtual void blockJobAbort(const std::string& disk, bool pivot) = 0;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  // Throws AgentError(NoSuchVM) when there is none with this UUID.
  virtual std::unique_ptr<Domain> lookup(const std::string& uuid) = 0;
  virtual std::vector<std::unique_ptr<Domain>> runningDomains() = 0;
};

// A guest's disk activity: reads and writes added up over its drives.
struct DiskActivity {
  std::uint64_t requests = 0, bytes = 0;
};

// What a drill asks of libvirt: transient domains (gone once destroyed:
// nothing is defined) that it starts, watches and destroys.
class GuestLauncher {
 public:
  virtual ~GuestLauncher() = default;
  // Starts a transient domain from `xml`. Throws AgentError(DrillFailed)
  // with libvirt's message (LibvirtUnreachable when libvirt is away).
  virtual void startTransient(const std::string& xml) = 0;
  // Destroys the domain with that UUID; false when none runs.
  virtual bool destroy(const std::string& uuid) = 0;
  // nullopt when no domain with that UUID runs.
  virtual std::optional<DiskActivity> diskActivity(const std::string& uuid,
                                                   const std::vector<std::string>& drives) = 0;
  // Defines (or redefines) a persistent domain from `xml`. Throws
  // AgentError(FailoverFailed) with libvirt's message.
  virtual void define(const std::string& xml) = 0;
  // Starts the defined domain with that UUID; false when it already runs.
  // Throws AgentError(FailoverFailed) with libvirt's message.
  virtual bool start(const std::string& uuid) = 0;
};

}  // namespace gdr::virt
