#pragma once
// The transport-free JSON-RPC 2.0 core: request text in, reply text out.
// Every transport (Unix socket, HTTPS) and the in-memory tests go through
// it. It validates each call strictly against the verb schema before the
// handler runs, and turns every failure into a JSON-RPC error object whose
// code is a stable agent status code.
#include <json/value.h>
#include <jsonrpccpp/server/iclientconnectionhandler.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/errors.h"
#include "core/schema.h"
#include "core/registry.h"

namespace gdr {

// A request parsed once, so a transport can decide where to run it.
struct PreparedRequest {
  Json::Value body;            // the parsed request (object or batch array)
  std::optional<std::string> parseErrorReply;  // set when the text was not JSON
  bool needsWorker = false;    // some call in it may block
  std::string transportFlowId; // e.g. an HTTP FlowID header
};

class Dispatcher : public jsonrpc::IClientConnectionHandler {
 public:
  // Throws std::logic_error when the schema and the registry differ: an
  // agent must never serve a verb its schema does not describe.
  // With `checkResults`, every result is checked against the verb's
  // `returns` schema and a mismatch answers -32603 (tests and the lab run
  // so; it costs a walk of each result).
  // A batch of more than `maxBatch` calls is refused whole (-32600): run in
  // full it would hold a worker for all of them.
  Dispatcher(const Schema& schema, const Registry& registry, bool checkResults = false, size_t maxBatch = 100);

  PreparedRequest prepare(std::string_view text, std::string transportFlowId = {}) const;

  // The reply text, or nullopt when nothing is to be sent (notifications).
  std::optional<std::string> execute(const PreparedRequest& request) const;

  // The reply refusing every call in `request` with `code` (busy, shutting
  // down) without running anything.
  std::optional<std::string> refuse(const PreparedRequest& request, Code code, const std::string& message) const;

  std::optional<std::string> handle(std::string_view text, std::string transportFlowId = {}) const {
    return execute(prepare(text, std::move(transportFlowId)));
  }

  // libjson-rpc-cpp's connector interface; an empty reply means none.
  void HandleRequest(const std::string& request, std::string& reply) override;

  // A standalone error reply (id null), e.g. for an oversized request.
  static std::string errorReply(Code code, const std::string& message);

 private:
  // Returns the reply object for one call, or null for a notification.
  Json::Value callOne(const Json::Value& call, const std::string& transportFlowId) const;
  bool isInlineCall(const Json::Value& call) const;

  const Schema& schema_;
  const Registry& registry_;
  const bool checkResults_;
  const size_t maxBatch_;
};

}  // namespace gdr
