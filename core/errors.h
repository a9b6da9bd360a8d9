#pragma once
// One exception type crosses every seam of the agent. Its code is stable:
// it is what the engine and the CLI see as the JSON-RPC error code.
#include <json/value.h>

#include <stdexcept>
#include <string>

namespace gdr {

enum class Code : int {
  // JSON-RPC 2.0 protocol errors.
  ParseError = -32700,
  InvalidRequest = -32600,
  MethodNotFound = -32601,
  InvalidParams = -32602,
  InternalError = -32603,

  // Agent status codes; VDSM's numbering where VDSM has one.
  NoSuchVM = 1,
  SnapshotFailed = 48,
  MergeFailed = 52,
  NoSuchJob = 66,
  JobNotActive = 67,
  JobExists = 68,
  AbortNotSupported = 69,
  InvalidParameter = 91,
  GeneralException = 100,
  Busy = 1100,
  ShuttingDown = 1101,
  VMBusy = 1102,           // a snapshot or merge of the same VM/drive is running
  // 4100-4800: gluster. 4200-4299: the gluster CLI and geo-replication.
  GlusterCommandFailed = 4200,   // gluster answered opRet != 0 (opErrstr in data)
  GlusterVolumeNotFound = 4201,
  GeoRepSessionNotFound = 4202,
  GeoRepWorkerFaulty = 4203,     // a worker is Faulty or Offline during a sync
  GeoRepSyncTimeout = 4204,      // the checkpoint did not complete in time
  GeoRepSyncStalled = 4205,      // last synced stopped advancing
  GlusterCliTimeout = 4206,      // the gluster CLI did not answer in time
  GlusterCliBadOutput = 4207,    // output that is not the XML expected
  // 4500-4599: libgfapi and overlay deletion.
  GfapiConnectFailed = 4500,   // no volfile server answered / glfs_init failed
  GfapiIOError = 4501,         // an operation on the volume failed
  ReadOnlyBypassUnavailable = 4502,  // libgfapi lacks glfs_setfspid
  PathRejected = 4510,         // not a normalized volume-relative path
  PathOutsidePrefix = 4511,    // outside the directories overlays may live in
  NotRegularFile = 4512,       // a symlink, a directory, a device...
  NotQcow2 = 4513,             // not a qcow2 image
  ImageIsBase = 4514,          // a qcow2 image without backing file: never deleted
  BackingMismatch = 4515,      // the overlay's backing file is not the expected one
  ImageInUse = 4516,           // another image uses it as its backing file
  ImageCorrupt = 4517,         // a qcow2 header that cannot be trusted
  FileNotFound = 4518,         // fileStat / imageInfo on an absent path
  FileChanged = 4519,          // replaced by another file between the guards and the unlink
};

// A short stable name for a code ("NoSuchJob"), used in logs and docs.
const char* codeName(Code code);

class AgentError : public std::runtime_error {
 public:
  AgentError(Code code, const std::string& message, Json::Value data = Json::Value())
      : std::runtime_error(message), code_(code), data_(std::move(data)) {}

  Code code() const { return code_; }
  const Json::Value& data() const { return data_; }

 private:
  Code code_;
  Json::Value data_;
};

}  // namespace gdr
