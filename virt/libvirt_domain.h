#pragma once
// virt::Hypervisor and virt::Domain on libvirt's C API, with RAII for
// every handle. One connection is shared by all requests (libvirt
// connections are thread-safe) and re-opened when it died.
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

 private:
  std::shared_ptr<_virConnect> connection();

  std::string uri_;
  std::mutex mutex_;
  std::shared_ptr<_virConnect> connection_;
};

}  // namespace gdr::virt
