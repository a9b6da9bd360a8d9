#pragma once
// A verb called through its api/ descriptor: the parameters encoded, the
// result decoded. A result that does not decode is a protocol error.
#include <string>

#include "api/codec.h"
#include "client/rpc_client.h"

namespace gdr::client {

template <class Verb>
typename Verb::Result call(RpcClient& client, const typename Verb::Params& params, const std::string& flowId = {}) {
  const Json::Value result = client.call(Verb::kName, api::encode(params), flowId);
  try {
    return api::decode<typename Verb::Result>(result);
  } catch (const api::DecodeError& e) {
    throw ClientError(ClientError::Kind::Protocol, std::string("reply to ") + Verb::kName + ": " + e.what());
  }
}

}  // namespace gdr::client
