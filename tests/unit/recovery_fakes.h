#pragma once
// Fakes shared by the recovery jobs' unit tests (drill, failover): a
// point's VMs, their recorded definition, and libvirt as far as the jobs
// use it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/recovery_point.h"
#include "core/errors.h"
#include "virt/domain.h"

namespace gdr::testing_fakes {

inline std::string definitionFixture() {
  std::ifstream in(std::string(GDR_SOURCE_DIR) + "/tests/fixtures/virt/domain-inactive.xml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline api::PointVm pointVm(const std::string& id, const std::string& name) {
  api::PointVm vm;
  vm.vmId = id;
  vm.name = name;
  vm.definition.path = ".gdr/vms/" + id + "-0123456789abcdef.xml";
  for (const std::string drive : {"vda", "vdb"}) {
    api::PointDisk disk;
    disk.drive = drive;
    disk.path = "images/" + name + "-" + drive + ".qcow2";
    disk.format = "qcow2";
    disk.virtualSize = 1 << 30;
    api::PointImage delta;
    delta.path = "images/.gdr-snapshots/" + name + "-" + drive + ".p1.qcow2";
    delta.format = "qcow2";
    disk.delta = delta;
    vm.disks.push_back(disk);
  }
  return vm;
}

// Each started copy does `ioSteps` readings of growing disk I/O (none
// when 0), then stays at that count.
struct FakeLauncher : virt::GuestLauncher {
  std::mutex mutex;
  std::map<std::string, std::string> running;  // uuid -> XML
  std::map<std::string, std::uint64_t> requests;
  std::vector<std::string> started, destroyed;
  std::map<std::string, int> ioStepsByName;  // by the copy's name prefix; default 3
  bool startFails = false;

  std::map<std::string, std::string> defined;  // uuid -> XML (persistent)
  bool defineFails = false;

  int ioSteps(const std::string& xml) {
    for (const auto& [name, steps] : ioStepsByName) {
      if (xml.find("<name>drill-" + name + "-") != std::string::npos ||
          xml.find("<name>" + name + "</name>") != std::string::npos) {
        return steps;
      }
    }
    return 3;
  }
  static std::string uuidOf(const std::string& xml) { return xml.substr(xml.find("<uuid>") + 6, 36); }
  void startTransient(const std::string& xml) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (startFails) throw AgentError(Code::DrillFailed, "starting the drill's copy: no space for the guest");
    const std::string uuid = uuidOf(xml);
    running[uuid] = xml;
    requests[uuid] = 0;
    started.push_back(uuid);
  }
  bool destroy(const std::string& uuid) override {
    std::lock_guard<std::mutex> lock(mutex);
    destroyed.push_back(uuid);
    return running.erase(uuid) > 0;
  }
  std::optional<virt::DiskActivity> diskActivity(const std::string& uuid,
                                                 const std::vector<std::string>& drives) override {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = running.find(uuid);
    if (it == running.end()) return std::nullopt;
    EXPECT_EQ(drives, (std::vector<std::string>{"vda", "vdb"}));
    if (requests[uuid] < std::uint64_t(ioSteps(it->second)) * 10) requests[uuid] += 10;
    return virt::DiskActivity{requests[uuid], requests[uuid] * 4096};
  }
  void define(const std::string& xml) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (defineFails) throw AgentError(Code::FailoverFailed, "defining the VM: network 'prod' not found");
    defined[uuidOf(xml)] = xml;
  }
  // How long a start takes, and the most starts seen under way at once.
  std::chrono::milliseconds startTakes{0};
  int startsUnderWay = 0, mostStartsAtOnce = 0;
  bool start(const std::string& uuid) override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      mostStartsAtOnce = std::max(mostStartsAtOnce, ++startsUnderWay);
    }
    std::this_thread::sleep_for(startTakes);
    std::lock_guard<std::mutex> lock(mutex);
    --startsUnderWay;
    if (running.count(uuid)) return false;
    const auto it = defined.find(uuid);
    if (it == defined.end()) throw AgentError(Code::FailoverFailed, "looking up VM " + uuid + ": no domain");
    if (startFails) throw AgentError(Code::FailoverFailed, "starting VM " + uuid + ": no space for the guest");
    running[uuid] = it->second;
    requests[uuid] = 0;
    started.push_back(uuid);
    return true;
  }
};


}  // namespace gdr::testing_fakes
