#pragma once
// The contract of the Host namespace: parameters and results per verb.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/jobs.h"

namespace gdr::api {

struct SoftwareVersions {
  std::optional<std::string> libvirt, glusterfs, qemu;  // null when absent
  template <class V> void visit(V& v) { v("libvirt", libvirt)("glusterfs", glusterfs)("qemu", qemu); }
};

struct Capabilities {
  std::string agentVersion, schemaVersion, hostName;
  std::vector<std::string> verbs;
  SoftwareVersions software;
  template <class V> void visit(V& v) {
    v("agentVersion", agentVersion)("schemaVersion", schemaVersion)("hostName", hostName)("verbs", verbs)(
        "software", software);
  }
};

struct GetJobsParams {
  std::optional<std::vector<std::string>> jobIds;  // all jobs when absent
  template <class V> void visit(V& v) { v.omitIfEmpty("jobIds", jobIds); }
};
struct GetJobsResult {
  std::map<std::string, Job> jobs;
  template <class V> void visit(V& v) { v("jobs", jobs); }
};

struct AbortJobParams {
  std::string jobId;
  template <class V> void visit(V& v) { v("jobId", jobId); }
};
struct AbortJobResult {
  Job job;
  template <class V> void visit(V& v) { v("job", job); }
};

// Where a disk lives on a gluster volume (from the host's FUSE mounts).
struct GlusterLocation {
  std::string server, volume, path;                 // path: volume-relative
  std::vector<std::optional<std::string>> chain;    // each chain image, when on the same volume
  template <class V> void visit(V& v) { v("server", server)("volume", volume)("path", path)("chain", chain); }
};

struct MirrorInfo {
  std::string job;
  bool ready = false;
  template <class V> void visit(V& v) { v("job", job)("ready", ready); }
};

struct VmDisk {
  std::string target, device, type, path, format;
  std::vector<std::string> chain;  // top ... base
  bool blockJob = false;
  std::optional<MirrorInfo> mirror;
  std::optional<GlusterLocation> gluster;
  template <class V> void visit(V& v) {
    v("target", target)("device", device)("type", type)("path", path)("format", format)("chain", chain)(
        "blockJob", blockJob)("mirror", mirror)("gluster", gluster);
  }
};

struct VmInfo {
  std::string vmId, name, state;
  std::vector<VmDisk> disks;
  template <class V> void visit(V& v) { v("vmId", vmId)("name", name)("state", state)("disks", disks); }
};

struct VmList {
  std::vector<VmInfo> vms;
  template <class V> void visit(V& v) { v("vms", vms); }
};

GDR_VERB(HostPing, "Host.ping", Empty, Empty);
GDR_VERB(HostGetCapabilities, "Host.getCapabilities", Empty, Capabilities);
GDR_VERB(HostGetJobs, "Host.getJobs", GetJobsParams, GetJobsResult);
GDR_VERB(HostAbortJob, "Host.abortJob", AbortJobParams, AbortJobResult);
GDR_VERB(HostGetVMList, "Host.getVMList", Empty, VmList);

}  // namespace gdr::api
