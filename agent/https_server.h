#pragma once
// JSON-RPC over HTTPS (HTTP POST, mutual TLS) on a numeric address, built
// on libmicrohttpd behind libjson-rpc-cpp's server-connector interface.
// Every request needs a client certificate that verifies against the
// configured CA and names an allowed client. Unlike the library's own HttpServer it binds
// one address (loopback by default), keeps connections alive, and hands
// blocking verbs to the worker pool while the connection is suspended, so
// the listener thread never waits on libvirt or gluster.
#include <jsonrpccpp/server/abstractserverconnector.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

struct MHD_Daemon;
struct MHD_Connection;

namespace gdr {

class RequestRunner;

class HttpsServer : public jsonrpc::AbstractServerConnector {
 public:
  struct Options {
    std::string host;  // numeric IPv4 or IPv6
    int port = 54321;
    std::string certFile, keyFile;            // PEM; both required: JSON-RPC is never served in plain HTTP
    std::string caFile;                       // PEM: the CA client certificates must verify against
    std::vector<std::string> allowedClients;  // subject CNs or SAN entries
    size_t maxRequestBytes = 1 << 20;
    size_t maxConnections = 1024;
    // A connection silent this long (in the TLS handshake, sending a
    // request, or between requests) is closed.
    unsigned idleTimeoutSeconds = 60;
  };

  HttpsServer(Options options, RequestRunner& runner);
  ~HttpsServer() override;

  bool StartListening() override;
  bool StopListening() override;
  // `addInfo` is the in-flight request the reply belongs to.
  bool SendResponse(const std::string& response, void* addInfo = nullptr) override;

  // Stops accepting new connections; requests in flight still complete.
  void quiesce();
  std::string lastError() const { return lastError_; }

  struct Request;  // per-request state, internal

  // Called once a request's headers are in: the HTTP status and reply
  // refusing it (client not allowed, cross-origin, not JSON, too large),
  // or nullopt to read its body and run it.
  std::optional<std::pair<unsigned, std::string>> refusal(MHD_Connection* connection, const std::string& method,
                                                          const std::string& url) const;
  std::string tooLargeReply() const;

 private:
  Options options_;
  RequestRunner& runner_;
  std::string cert_, key_, ca_;
  // Resumes `request`'s connection if it waits suspended (under its mutex).
  void resume(Request& request);

  MHD_Daemon* daemon_ = nullptr;
  std::string lastError_;
  // The requests whose connections wait suspended for their reply: resumed
  // before the daemon stops, which may not meet one suspended.
  std::mutex suspendedMutex_;
  std::map<const Request*, std::shared_ptr<Request>> suspended_;
};

}  // namespace gdr
