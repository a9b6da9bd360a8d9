#pragma once
// virt::Hypervisor and virt::Domain on libvirt's C API, with RAII for
// every handle. One connection is shared by all requests (libvirt
// connections are thread-safe) and re-opened when it died.
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "virt/domain.h"

struct _virConnect;

namespace gdr::virt {

class LibvirtHypervisor : public Hypervisor, public GuestLauncher {
 public:
  explicit LibvirtHypervisor(std::string uri) : uri_(std::move(uri)) {}
  std::unique_ptr<Domain> lookup(const std::string& uuid) override;
  std::vector<std::unique_ptr<Domain>> runningDomains() override;

  void startTransient(const std::string& xml) override;
  bool destroy(const std::string& uuid) override;
  std::optional<DiskActivity> diskActivity(const std::string& uuid, const std::vector<std::string>& drives) override;
  void define(const std::string& xml) override;
  bool start(const std::string& uuid) override;

  // libvirt's version as "major.minor.micro", or empty when unreachable.
  std::string libvirtVersion();

  // Called, on libvirt's event loop thread, with the VM's UUID and the
  // drive's target (vda) whenever a block job changes state (ready,
  // completed, failed, cancelled). Set once, before the first call that
  // connects: each connection opened afterwards registers it. Needs a
  // LibvirtEventLoop; without one nothing is heard and jobs poll.
  using BlockJobListener = std::function<void(const std::string& vmUuid, const std::string& drive)>;
  void onBlockJobEvent(BlockJobListener listener) { blockJobListener_ = std::move(listener); }

 private:
  std::shared_ptr<_virConnect> connection();

  BlockJobListener blockJobListener_;
  std::string uri_;
  std::mutex mutex_;
  std::shared_ptr<_virConnect> connection_;
};

}  // namespace gdr::virt
