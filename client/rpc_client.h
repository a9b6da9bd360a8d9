#pragma once
// A JSON-RPC 2.0 client of gdr-agent, over its Unix socket (one persistent
// connection, newline framing) or HTTPS (libcurl, keep-alive). Used by
// gdr-client, gdr-sync, the tests and the benchmarks.
#include <json/value.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace gdr::client {

class ClientError : public std::runtime_error {
 public:
  enum class Kind {
    Connection,  // could not reach the agent, or it hung up / timed out
    Protocol,    // the reply was not a valid JSON-RPC 2.0 reply
    Verb,        // the agent answered with an error object
  };
  ClientError(Kind kind, const std::string& message, int code = 0, Json::Value data = Json::Value())
      : std::runtime_error(message), kind_(kind), code_(code), data_(std::move(data)) {}
  Kind kind() const { return kind_; }
  int code() const { return code_; }  // the JSON-RPC error code (Verb)
  const Json::Value& data() const { return data_; }

 private:
  Kind kind_;
  int code_;
  Json::Value data_;
};

struct TlsOptions {
  std::string caFile, certFile, keyFile;
  bool insecure = false;  // skip server certificate verification
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request text and returns the reply text. Throws
  // ClientError(Connection).
  virtual std::string roundTrip(const std::string& request, const std::string& flowId) = 0;
};

// "unix:/path", a bare absolute path, or "https://host:port".
std::unique_ptr<Transport> makeTransport(const std::string& endpoint, const TlsOptions& tls,
                                         std::chrono::milliseconds timeout);

class RpcClient {
 public:
  explicit RpcClient(std::unique_ptr<Transport> transport) : transport_(std::move(transport)) {}

  // Calls `method` and returns its result; throws ClientError.
  Json::Value call(const std::string& method, const Json::Value& params = Json::Value(Json::objectValue),
                   const std::string& flowId = {});

 private:
  std::unique_ptr<Transport> transport_;
  long long nextId_ = 1;
};

}  // namespace gdr::client
