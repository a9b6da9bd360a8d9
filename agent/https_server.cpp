#include "agent/https_server.h"

#include <microhttpd.h>

#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "core/dispatcher.h"
#include "agent/socket_address.h"
#include "agent/worker_pool.h"

namespace gdr {

struct HttpsServer::Request {
  std::string body;
  bool tooLarge = false;
  bool submitted = false;
  bool suspended = false;
  bool ready = false;
  std::optional<std::string> reply;
  std::mutex mutex;
  MHD_Connection* connection = nullptr;
};

namespace {

struct Holder {
  std::shared_ptr<HttpsServer::Request> request;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

MHD_Result respond(MHD_Connection* connection, unsigned status, const std::string& body) {
  MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (!body.empty()) MHD_add_response_header(response, "Content-Type", "application/json");
  const MHD_Result result = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return result;
}

void completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  delete static_cast<Holder*>(*con_cls);
  *con_cls = nullptr;
}

}  // namespace

// GnuTLS priorities: TLS 1.2 and 1.3 only, forward-secret key exchange
// (no static RSA), AEAD ciphers only (no CBC, no SHA-1 MACs).
constexpr const char* kTlsPriorities =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:"
    "-MAC-ALL:+AEAD:%SERVER_PRECEDENCE";

HttpsServer::HttpsServer(Options options, RequestRunner& runner) : options_(std::move(options)), runner_(runner) {}

HttpsServer::~HttpsServer() { StopListening(); }

bool HttpsServer::StartListening() {
  if (daemon_) return true;
  if (options_.certFile.empty() || options_.keyFile.empty()) {
    lastError_ = "https listener on " + options_.host + ":" + std::to_string(options_.port) +
                 " needs a certificate and its key (tls_cert and tls_key, or --tls-cert and --tls-key); "
                 "gdr-agent does not serve plain HTTP";
    return false;
  }
  try {
    cert_ = readFile(options_.certFile);
    key_ = readFile(options_.keyFile);
  } catch (const std::exception& e) {
    lastError_ = std::string("https listener: ") + e.what();
    return false;
  }
  sockaddr_storage addr{};
  unsigned flags =
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TLS;
  bool v6 = false;
  if (!numericSocketAddress(options_.host, options_.port, addr, v6)) {
    lastError_ = "https listener: '" + options_.host + "' is not a numeric address";
    return false;
  }
  if (v6) flags |= MHD_USE_IPv6;

  auto handler = [](void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                    const char* upload_data, size_t* upload_data_size, void** con_cls) -> MHD_Result {
    auto* server = static_cast<HttpsServer*>(cls);
    if (!*con_cls) {
      auto* holder = new Holder{std::make_shared<Request>()};
      holder->request->connection = connection;
      *con_cls = holder;
      return MHD_YES;
    }
    auto request = static_cast<Holder*>(*con_cls)->request;
    if (*upload_data_size > 0) {
      if (request->body.size() + *upload_data_size > server->options_.maxRequestBytes) {
        request->tooLarge = true;
      } else {
        request->body.append(upload_data, *upload_data_size);
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    {
      std::lock_guard<std::mutex> lock(request->mutex);
      if (request->ready) {
        if (!request->reply) return respond(connection, MHD_HTTP_NO_CONTENT, "");
        return respond(connection, MHD_HTTP_OK, *request->reply);
      }
      if (request->submitted) return MHD_YES;  // woken early; still waiting
    }
    if (std::string(method) != "POST") {
      return respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                     Dispatcher::errorReply(Code::InvalidRequest, "Invalid Request: use HTTP POST"));
    }
    if (std::string(url) != "/" && std::string(url) != "/jsonrpc") {
      return respond(connection, MHD_HTTP_NOT_FOUND,
                     Dispatcher::errorReply(Code::InvalidRequest, "Invalid Request: no endpoint " + std::string(url)));
    }
    // A browser can POST text/plain across origins without asking first;
    // it cannot send application/json so. Only JSON is served.
    const char* type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!type || std::string(type).rfind("application/json", 0) != 0) {
      return respond(connection, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                     Dispatcher::errorReply(Code::InvalidRequest,
                                            "Invalid Request: Content-Type must be application/json"));
    }
    if (request->tooLarge) {
      return respond(connection, MHD_HTTP_CONTENT_TOO_LARGE,
                     Dispatcher::errorReply(Code::InvalidRequest,
                                            "Invalid Request: request exceeds " +
                                                std::to_string(server->options_.maxRequestBytes) + " bytes"));
    }
    const char* flow = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "FlowID");
    request->submitted = true;
    server->runner_.submit(request->body, flow ? flow : "", [server, request](std::optional<std::string> reply) {
      if (reply) {
        server->SendResponse(*reply, request.get());
      } else {
        std::lock_guard<std::mutex> lock(request->mutex);
        request->ready = true;
        if (request->suspended) MHD_resume_connection(request->connection);
      }
    });
    std::lock_guard<std::mutex> lock(request->mutex);
    if (request->ready) {
      if (!request->reply) return respond(connection, MHD_HTTP_NO_CONTENT, "");
      return respond(connection, MHD_HTTP_OK, *request->reply);
    }
    request->suspended = true;
    MHD_suspend_connection(connection);
    return MHD_YES;
  };

  MHD_AccessHandlerCallback callback = handler;
  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, callback, this, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_CONNECTION_LIMIT, unsigned(options_.maxConnections),
                             MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_NOTIFY_COMPLETED, completed, nullptr,
                             MHD_OPTION_HTTPS_MEM_KEY, key_.c_str(), MHD_OPTION_HTTPS_MEM_CERT, cert_.c_str(),
                             MHD_OPTION_HTTPS_PRIORITIES, kTlsPriorities, MHD_OPTION_END);
  if (!daemon_) {
    lastError_ = "https listener: cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                 (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ? " (libmicrohttpd has no TLS)" : "");
    return false;
  }
  spdlog::info("listening on https://{}:{}", options_.host, options_.port);
  return true;
}

bool HttpsServer::SendResponse(const std::string& response, void* addInfo) {
  auto* request = static_cast<Request*>(addInfo);
  if (!request) return false;
  std::lock_guard<std::mutex> lock(request->mutex);
  request->reply = response;
  request->ready = true;
  if (request->suspended) MHD_resume_connection(request->connection);
  return true;
}

void HttpsServer::quiesce() {
  if (daemon_) MHD_quiesce_daemon(daemon_);
}

bool HttpsServer::StopListening() {
  if (daemon_) {
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
  return true;
}

}  // namespace gdr
