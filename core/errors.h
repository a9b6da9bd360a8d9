#pragma once
// One exception type crosses every seam of the agent. Its code is stable:
// it is what the engine and the CLI see as the JSON-RPC error code.
#include <json/value.h>

#include <stdexcept>
#include <string>

#include "api/codes.h"

namespace gdr {

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
