#pragma once
// Every status code gdr answers with, in one list: name, number, meaning.
// The Code enum, codeName(), codeMeaning() and the tables in README.md and
// docs/API.md all come from (or are checked against) this list.
//
// Numbers follow VDSM where VDSM has the condition (lib/vdsm/common/
// exception.py, lib/vdsm/gluster/exception.py), so an engine that knows
// VDSM's codes reads gdr's alike. Conditions VDSM does not have use
// 1101-1199 (agent) and 3100-3299 (geo-replication, libgfapi, the overlay
// guards), numbers VDSM does not use; above 5000 is oVirt engine's.
#include <array>
#include <cstddef>

namespace gdr {

#define GDR_CODES(X)                                                                                              \
  /* JSON-RPC 2.0 protocol errors */                                                                              \
  X(ParseError, -32700, "the request is not JSON")                                                                \
  X(InvalidRequest, -32600, "not a JSON-RPC 2.0 request object")                                                  \
  X(MethodNotFound, -32601, "no such verb")                                                                       \
  X(InvalidParams, -32602, "a parameter is missing, unknown or of the wrong type (data.param names it)")          \
  X(InternalError, -32603, "an unexpected failure inside the agent")                                              \
  /* VDSM's codes */                                                                                              \
  X(NoSuchVM, 1, "no running VM with that id on this host")                                                       \
  X(SnapshotFailed, 48, "the snapshot failed; data holds each disk's true state")                                 \
  X(MergeFailed, 52, "the merge failed")                                                                          \
  X(NoSuchJob, 66, "no job with that id")                                                                         \
  X(JobExists, 69, "a job with that id, or the same work, is already running")                                    \
  X(AbortNotSupported, 80, "this job type cannot be aborted")                                                     \
  X(JobNotActive, 84, "the job already finished")                                                                 \
  X(InvalidParameter, 91, "a value passed the schema but makes no sense")                                         \
  X(GeneralException, 100, "a failure with no more specific code")                                                \
  X(Busy, 1100, "all workers and queue slots are taken: retry later (VDSM's ResourceExhausted)")                  \
  /* gdr's own: the agent */                                                                                      \
  X(ShuttingDown, 1101, "the agent is stopping")                                                                  \
  X(VMBusy, 1102, "a snapshot or merge of the same VM or drive is running")                                       \
  X(ClientNotAllowed, 1103, "no verified client certificate, or its identity is not in tls_allowed_clients")      \
  X(RequestTimeout, 1104, "no reply within request_timeout; the call may still complete (see Host.getJobs)")      \
  X(DefinitionFailed, 1105, "the VM's definition could not be made or written beside its disks")                  \
  X(VMStateChangeFailed, 1106, "libvirt refused to pause, resume or destroy the VM (the message says why)")        \
  X(VMNotPaused, 1107, "the VM is running: VM.destroy powers off a paused VM only, unless force")                 \
  /* VDSM's gluster codes */                                                                                      \
  X(GlusterCliTimeout, 4108, "the gluster CLI did not answer in time")                                            \
  X(GlusterCliBadOutput, 4106, "the gluster CLI printed something other than the XML expected")                   \
  X(GlusterCommandFailed, 4107, "a gluster command failed (data.opErrstr holds gluster's reason)")                \
  X(GlusterVolumeNotFound, 4123, "no such gluster volume")                                                        \
  X(GlusterVolumeSetFailed, 4131, "setting the volume option failed (data.opErrstr holds gluster's reason)")      \
  X(GeoRepStartFailed, 4201, "starting the geo-replication session failed")                                       \
  X(GeoRepStopFailed, 4202, "stopping the geo-replication session failed")                                        \
  X(GeoRepStatusFailed, 4203, "reading the geo-replication status failed")                                        \
  X(GeoRepPauseFailed, 4204, "pausing the geo-replication session failed")                                        \
  X(GeoRepResumeFailed, 4205, "resuming the geo-replication session failed")                                      \
  X(GeoRepConfigFailed, 4206, "reading or changing the session's config failed")                                  \
  X(GeoRepPublicKeyFileCreateFailed, 4207, "gluster's gsec_create could not make the geo-replication keys")       \
  X(GeoRepPublicKeyFileReadError, 4208, "the geo-replication public key file could not be read")                  \
  X(GeoRepUserNotFound, 4209, "no such user on this host")                                                        \
  X(GeoRepPublicKeyWriteFailed, 4210, "the keys could not be written into the user's authorized_keys")            \
  X(GeoRepMountBrokerOptFailed, 4211, "the mount broker could not be set up (its options, the group's rights)")   \
  X(GeoRepMountBrokerUserAddFailed, 4212, "the user could not be added to gluster's mount broker")                \
  X(GeoRepMountBrokerRootCreateFailed, 4213, "the mount broker's root directory could not be made")               \
  X(GeoRepCreateFailed, 4214, "creating the geo-replication session failed")                                      \
  X(GeoRepDeleteFailed, 4215, "deleting the geo-replication session failed")                                      \
  X(GfapiIOError, 4570, "an operation on the volume through libgfapi failed")                                     \
  X(GfapiConnectFailed, 4572, "no volfile server answered, or glfs_init failed")                                  \
  /* gdr's own: geo-replication */                                                                                \
  X(GeoRepSessionNotFound, 3100, "no such geo-replication session")                                               \
  X(GeoRepWorkerFaulty, 3101, "a worker is Faulty or Offline during a sync (the message names it)")               \
  X(GeoRepSyncTimeout, 3102, "the checkpoint did not complete in time")                                           \
  X(GeoRepSyncStalled, 3103, "geo-replication made no progress, even after a restart of the session")             \
  X(GeoRepKeyRejected, 3104, "not a public key with a forced command (data.index names it)")                      \
  X(GeoRepUserNotAllowed, 3105, "the user is not in the agent's georep_key_users")                                \
  X(GeoRepGroupMismatch, 3106, "the group does not exist on this host, or the user is not in it")                 \
  X(GeoRepStatusUnreadable, 3107, "this host could not read the session's status for a while during a sync (glusterd down?): another host may drive it") \
  /* gdr's own: libgfapi and the overlay guards */                                                                \
  X(ReadOnlyBypassUnavailable, 3200, "libgfapi lacks glfs_setfspid: no deletion on a read-only secondary")        \
  X(PathRejected, 3210, "not a normalized volume-relative path")                                                  \
  X(PathOutsidePrefix, 3211, "outside the directories overlays may live in")                                      \
  X(NotRegularFile, 3212, "a symlink, a directory, a device... (symlinks are never followed)")                    \
  X(NotQcow2, 3213, "not a qcow2 image")                                                                          \
  X(ImageIsBase, 3214, "a qcow2 image without a backing file: never deleted")                                     \
  X(BackingMismatch, 3215, "the overlay's backing file is not the expected one")                                  \
  X(ImageInUse, 3216, "another image uses it as its backing file")                                                \
  X(ImageCorrupt, 3217, "a qcow2 header that cannot be trusted")                                                  \
  X(FileNotFound, 3218, "no file at that path")                                                                   \
  X(FileChanged, 3219, "the file was replaced between the guards and the unlink")                                 \
  X(VolumeNotDeletable, 3220, "overlayDelete is not enabled for this volume (agent setting delete_volumes)")      \
  X(ImageOpenByVM, 3221, "a running VM on this host has the image in its disk chain: never deleted")              \
  X(VolfileServerNotAllowed, 3222, "a volfile server outside the agent's allow-list (volfile_servers)")           \
  /* gdr's own: recovery points */                                                                                \
  X(PointManifestInvalid, 3230, "a recovery point's manifest is missing, unreadable or not a manifest")           \
  X(VolumeNotMounted, 3231, "this host does not mount the volume: gdr writes a volume's files through its mount") \
  X(PointIncomplete, 3232, "the recovery point's files do not match its manifest: not sealed")                   \
  /* gdr's own: recovery */                                                                                       \
  X(DrillFailed, 3240, "a drill could not boot a VM from the point, or its guest did no disk I/O (the message names the VM)") \
  X(FailoverFailed, 3241, "a failover could not promote the volume, define or start a VM, or a guest did no disk I/O (the message names the VM)")

enum class Code : int {
#define GDR_CODE_ENUM(name, number, meaning) name = number,
  GDR_CODES(GDR_CODE_ENUM)
#undef GDR_CODE_ENUM
};

struct CodeInfo {
  Code code;
  const char* name;
  const char* meaning;
};

inline constexpr CodeInfo kAllCodes[] = {
#define GDR_CODE_INFO(name, number, meaning) {Code::name, #name, meaning},
    GDR_CODES(GDR_CODE_INFO)
#undef GDR_CODE_INFO
};

// A short stable name for a code ("NoSuchJob"), used in logs and docs.
const char* codeName(Code code);
const char* codeMeaning(Code code);

}  // namespace gdr
