#pragma once
// libvirt's default event loop on a thread of its own, so that the agent
// hears domain events (a block job ready, completed, failed) as they
// happen instead of at its next poll. Construct it before the first
// libvirt connection is opened: libvirt delivers events only on
// connections opened after the loop was registered.
#include <atomic>
#include <thread>

namespace gdr::virt {

class LibvirtEventLoop {
 public:
  LibvirtEventLoop();
  ~LibvirtEventLoop();  // stops the loop and joins its thread
  LibvirtEventLoop(const LibvirtEventLoop&) = delete;
  LibvirtEventLoop& operator=(const LibvirtEventLoop&) = delete;

  // Whether libvirt took the loop (events are delivered).
  bool running() const { return thread_.joinable(); }

 private:
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace gdr::virt
