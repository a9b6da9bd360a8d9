#pragma once
// JSON-RPC over a Unix domain socket, newline-delimited: one request (or
// batch) per line, one reply per line, nothing for a notification. A
// connection stays open for many requests, answered in order; many
// connections are served at once. Built on Boost.Asio behind
// libjson-rpc-cpp's server-connector interface.
#include <jsonrpccpp/server/abstractserverconnector.h>

#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace gdr {

class RequestRunner;

class UnixSocketServer : public jsonrpc::AbstractServerConnector {
 public:
  class Connection;

  // A connection that sends no whole request (or takes no reply) for
  // `idleTimeout` is closed.
  UnixSocketServer(boost::asio::io_context& io, std::string path, RequestRunner& runner, size_t maxRequestBytes,
                   size_t maxConnections, std::chrono::seconds idleTimeout = std::chrono::seconds(60));
  ~UnixSocketServer() override;

  // Binds (replacing a stale socket file, refusing a live one) and accepts.
  bool StartListening() override;
  // Stops accepting; open connections keep being served.
  bool StopListening() override;
  // `addInfo` is the Connection the reply belongs to.
  bool SendResponse(const std::string& response, void* addInfo = nullptr) override;

  // Closes every connection once its pending reply is written. Call on the
  // io_context's thread.
  void closeConnections();

  const std::string& path() const { return path_; }
  std::string lastError() const { return lastError_; }

 private:
  friend class Connection;
  void accept();
  void forget(Connection* connection);

  boost::asio::io_context& io_;
  std::string path_;
  RequestRunner& runner_;
  size_t maxRequestBytes_;
  size_t maxConnections_;
  std::chrono::seconds idleTimeout_;
  boost::asio::steady_timer acceptBackoff_;
  std::chrono::milliseconds acceptPause_{0};
  std::unique_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;
  std::mutex mutex_;
  std::set<std::shared_ptr<Connection>> connections_;
  std::string lastError_;
};

}  // namespace gdr
