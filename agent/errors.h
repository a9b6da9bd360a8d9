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
  // 4100-4800: gluster (filled in by the gluster and gfapi layers).
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
