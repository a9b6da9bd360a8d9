#include "client/rpc_client.h"

#include <curl/curl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/json_util.h"

namespace gdr::client {

namespace {

using Kind = ClientError::Kind;

class UnixTransport : public Transport {
 public:
  UnixTransport(std::string path, std::chrono::milliseconds timeout) : path_(std::move(path)), timeout_(timeout) {}
  ~UnixTransport() override {
    if (fd_ >= 0) ::close(fd_);
  }

  std::string roundTrip(const std::string& request, const std::string& flowId) override {
    (void)flowId;  // carried inside the request object on this transport
    connect();
    const std::string line = request + "\n";
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot send to " + path_ + ": " + std::strerror(errno));
      sent += n;
    }
    for (;;) {
      const auto newline = pending_.find('\n');
      if (newline != std::string::npos) {
        std::string reply = pending_.substr(0, newline);
        pending_.erase(0, newline + 1);
        return reply;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{fd_, POLLIN, 0};
      const int ready = left.count() > 0 ? ::poll(&pfd, 1, int(left.count())) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) fail("no reply from " + path_ + " within " + std::to_string(timeout_.count()) + " ms");
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) fail("agent at " + path_ + " closed the connection");
      if (n < 0) fail("cannot read from " + path_ + ": " + std::strerror(errno));
      pending_.append(buf, n);
    }
  }

 private:
  void connect() {
    if (fd_ >= 0 && !closedByPeer()) return;
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
      pending_.clear();
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) throw ClientError(Kind::Connection, "socket path too long: " + path_);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string why = std::strerror(errno);
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      throw ClientError(Kind::Connection, "cannot connect to " + path_ + ": " + why);
    }
  }

  // A kept connection the agent closed meanwhile (its idle timeout): it
  // owes no reply between calls, so anything readable is its end of file
  // (or an error), and the request would only meet a broken pipe.
  bool closedByPeer() const {
    pollfd pfd{fd_, POLLIN, 0};
    return ::poll(&pfd, 1, 0) != 0;
  }

  [[noreturn]] void fail(const std::string& message) {
    ::close(fd_);
    fd_ = -1;
    pending_.clear();
    throw ClientError(Kind::Connection, message);
  }

  std::string path_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string pending_;
};

class HttpsTransport : public Transport {
 public:
  HttpsTransport(std::string url, const TlsOptions& tls, std::chrono::milliseconds timeout) : url_(std::move(url)) {
    static const bool initialized = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    (void)initialized;
    curl_ = curl_easy_init();
    if (!curl_) throw ClientError(Kind::Connection, "cannot initialize libcurl");
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, long(timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl_, CURLOPT_NOPROXY, "*");  // the agent is never behind a proxy
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &HttpsTransport::onData);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &reply_);
    if (!tls.caFile.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, tls.caFile.c_str());
    if (!tls.certFile.empty()) curl_easy_setopt(curl_, CURLOPT_SSLCERT, tls.certFile.c_str());
    if (!tls.keyFile.empty()) curl_easy_setopt(curl_, CURLOPT_SSLKEY, tls.keyFile.c_str());
    if (tls.insecure) {
      curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }
  ~HttpsTransport() override { curl_easy_cleanup(curl_); }

  std::string roundTrip(const std::string& request, const std::string& flowId) override {
    reply_.clear();
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!flowId.empty()) headers = curl_slist_append(headers, ("FlowID: " + flowId).c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, request.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, long(request.size()));
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) throw ClientError(Kind::Connection, url_ + ": " + curl_easy_strerror(rc));
    return reply_;
  }

 private:
  static size_t onData(char* data, size_t size, size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
  }

  std::string url_;
  CURL* curl_ = nullptr;
  std::string reply_;
};

}  // namespace

std::unique_ptr<Transport> makeTransport(const std::string& endpoint, const TlsOptions& tls,
                                         std::chrono::milliseconds timeout) {
  if (endpoint.rfind("unix:", 0) == 0) return std::make_unique<UnixTransport>(endpoint.substr(5), timeout);
  if (!endpoint.empty() && endpoint.front() == '/') return std::make_unique<UnixTransport>(endpoint, timeout);
  if (endpoint.rfind("https://", 0) == 0 || endpoint.rfind("http://", 0) == 0) {
    return std::make_unique<HttpsTransport>(endpoint, tls, timeout);
  }
  throw ClientError(Kind::Connection, "endpoint '" + endpoint + "': expected unix:PATH or https://HOST:PORT");
}

Json::Value RpcClient::call(const std::string& method, const Json::Value& params, const std::string& flowId) {
  Json::Value request;
  request["jsonrpc"] = "2.0";
  request["method"] = method;
  request["params"] = params;
  request["id"] = Json::Int64(nextId_++);
  if (!flowId.empty()) request["flowId"] = flowId;
  const std::string text = transport_->roundTrip(json::compact(request), flowId);
  std::string error;
  auto reply = json::parse(text, &error);
  if (!reply || !reply->isObject() || (*reply)["jsonrpc"] != "2.0") {
    throw ClientError(Kind::Protocol, "malformed reply to " + method + ": " + (error.empty() ? text.substr(0, 200) : error));
  }
  if (reply->isMember("error")) {
    const Json::Value& e = (*reply)["error"];
    throw ClientError(Kind::Verb, e["message"].asString(), e["code"].asInt(), e.get("data", Json::Value()));
  }
  if (!reply->isMember("result") || (*reply)["id"] != request["id"]) {
    throw ClientError(Kind::Protocol, "reply to " + method + " has no result or a wrong id");
  }
  return (*reply)["result"];
}

}  // namespace gdr::client
