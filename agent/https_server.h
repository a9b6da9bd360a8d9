#pragma once
// JSON-RPC over HTTPS (HTTP POST, TLS with a server certificate) on a
// numeric address, built on libmicrohttpd behind libjson-rpc-cpp's
// server-connector interface. Unlike the library's own HttpServer it binds
// one address (loopback by default), keeps connections alive, and hands
// blocking verbs to the worker pool while the connection is suspended, so
// the listener thread never waits on libvirt or gluster.
#include <jsonrpccpp/server/abstractserverconnector.h>

#include <string>

struct MHD_Daemon;

namespace gdr {

class RequestRunner;

class HttpsServer : public jsonrpc::AbstractServerConnector {
 public:
  struct Options {
    std::string host;  // numeric IPv4 or IPv6
    int port = 54321;
    std::string certFile, keyFile;  // PEM; both required: JSON-RPC is never served in plain HTTP
    size_t maxRequestBytes = 1 << 20;
    size_t maxConnections = 1024;
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

 private:
  Options options_;
  RequestRunner& runner_;
  std::string cert_, key_;
  MHD_Daemon* daemon_ = nullptr;
  std::string lastError_;
};

}  // namespace gdr
