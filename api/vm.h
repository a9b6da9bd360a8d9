#pragma once
// The contract of the VM namespace. VDSM names the VM parameter vmID in
// these verbs (and vmId in listings); the struct member is vmId in both.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"

namespace gdr::api {

struct SnapDrive {
  std::string name;                        // the disk's target, e.g. vda
  std::optional<std::string> overlayPath;  // chosen by the agent when absent
  template <class V> void visit(V& v) { v("name", name).omitIfEmpty("overlayPath", overlayPath); }
};

struct SnapshotParams {
  std::string vmId;
  std::optional<std::vector<SnapDrive>> snapDrives;  // every disk when absent
  bool quiesce = true;
  bool requireQuiesce = false;
  template <class V> void visit(V& v) {
    v("vmID", vmId).omitIfEmpty("snapDrives", snapDrives)("quiesce", quiesce)("requireQuiesce", requireQuiesce);
  }
};

// A file's place on a gluster volume.
struct VolumePath {
  std::string volume, path;  // path: relative to the volume root
  template <class V> void visit(V& v) { v("volume", volume)("path", path); }
};

struct SnapshotDiskResult {
  std::string name, top, base;  // top: the new overlay; base: the frozen image
  std::optional<VolumePath> topOnVolume;   // where the overlay is on gluster (null when not on a gluster mount)
  template <class V> void visit(V& v) { v("name", name)("top", top)("base", base)("topOnVolume", topOnVolume); }
};

struct SnapshotResult {
  bool quiesced = false;
  std::int64_t snapshotTime = 0;  // seconds since the epoch
  std::vector<SnapshotDiskResult> disks;
  template <class V> void visit(V& v) { v("quiesced", quiesced)("snapshotTime", snapshotTime)("disks", disks); }
};

struct MergeParams {
  std::string vmId, drive;
  std::optional<std::string> topVolume, baseVolume;  // the active layer and its backing file when absent
  std::optional<std::uint64_t> bandwidth;            // MiB/s
  bool deleteTop = false;
  std::optional<std::string> jobUUID;
  template <class V> void visit(V& v) {
    v("vmID", vmId)("drive", drive)
        .omitIfEmpty("topVolume", topVolume)
        .omitIfEmpty("baseVolume", baseVolume)
        .omitIfEmpty("bandwidth", bandwidth)("deleteTop", deleteTop)
        .omitIfEmpty("jobUUID", jobUUID);
  }
};

struct JobStarted {
  std::string jobId;
  template <class V> void visit(V& v) { v("jobId", jobId); }
};

struct VmParams {
  std::string vmId;
  template <class V> void visit(V& v) { v("vmID", vmId); }
};

struct DefinitionDiskResult {
  std::string name, base, format;  // format: qcow2, raw ("" when libvirt names none)
  VolumePath onVolume;             // where the base lies on its gluster volume
  template <class V> void visit(V& v) { v("name", name)("base", base)("format", format)("onVolume", onVolume); }
};

struct SaveDefinitionResult {
  VolumePath definition;  // .gdr/vms/UUID.xml on the volume of the VM's first disk
  std::string sha256;     // of the file's bytes
  std::uint64_t size = 0;
  std::int64_t savedAt = 0;  // seconds since the epoch
  std::vector<DefinitionDiskResult> disks;
  template <class V> void visit(V& v) {
    v("definition", definition)("sha256", sha256)("size", size)("savedAt", savedAt)("disks", disks);
  }
};

// VM.pause, VM.cont, VM.destroy: a planned switch between sites stops a
// VM's writes before the last point, and powers the old copy off once the
// VM runs at the other site.
struct DestroyParams {
  std::string vmId;
  bool force = false;  // a VM still running (not paused) too
  template <class V> void visit(V& v) { v("vmID", vmId)("force", force); }
};

struct VmStateResult {
  std::string vmId, name;
  std::string state;    // after the call: running, paused, shut off
  bool changed = false;  // false when it was in that state already
  template <class V> void visit(V& v) { v("vmId", vmId)("name", name)("state", state)("changed", changed); }
};

GDR_VERB(VmSnapshot, "VM.snapshot", SnapshotParams, SnapshotResult);
GDR_VERB(VmPause, "VM.pause", VmParams, VmStateResult);
GDR_VERB(VmCont, "VM.cont", VmParams, VmStateResult);
GDR_VERB(VmDestroy, "VM.destroy", DestroyParams, VmStateResult);
GDR_VERB(VmSaveDefinition, "VM.saveDefinition", VmParams, SaveDefinitionResult);
GDR_VERB(VmMerge, "VM.merge", MergeParams, JobStarted);

}  // namespace gdr::api
