#include "virt/libvirt_events.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <spdlog/spdlog.h>

namespace gdr::virt {

namespace {

// A timeout that fires once, at once: it wakes a loop waiting for I/O so
// that it sees the stop.
void wakeOnce(int id, void*) { virEventRemoveTimeout(id); }

}  // namespace

LibvirtEventLoop::LibvirtEventLoop() {
  if (virEventRegisterDefaultImpl() < 0) {
    virErrorPtr e = virGetLastError();
    spdlog::warn("libvirt's event loop is not available ({}); block jobs are polled only",
                 e && e->message ? e->message : "unknown error");
    return;
  }
  thread_ = std::thread([this] {
    while (!stopping_) {
      if (virEventRunDefaultImpl() < 0) {
        virErrorPtr e = virGetLastError();
        spdlog::warn("libvirt's event loop: {}", e && e->message ? e->message : "unknown error");
      }
    }
  });
}

LibvirtEventLoop::~LibvirtEventLoop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  virEventAddTimeout(0, wakeOnce, nullptr, nullptr);
  thread_.join();
}

}  // namespace gdr::virt
