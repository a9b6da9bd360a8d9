#include "agent/https_server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/dispatcher.h"
#include "core/json_util.h"
#include "agent/client_identity.h"
#include "agent/socket_address.h"
#include "agent/worker_pool.h"

namespace gdr {

struct HttpsServer::Request {
  std::string body;
  bool submitted = false;
  bool suspended = false;
  bool ready = false;
  std::optional<std::string> reply;
  std::mutex mutex;
  MHD_Connection* connection = nullptr;
  std::atomic<bool> finished{false};  // libmicrohttpd is done with it (sent or gone)
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

using Certificate = std::unique_ptr<gnutls_x509_crt_int, decltype(&gnutls_x509_crt_deinit)>;

// The subject CN and SAN entries of a client certificate.
ClientIdentity identityOf(gnutls_x509_crt_t cert) {
  ClientIdentity identity;
  size_t size = 0;
  if (gnutls_x509_crt_get_dn_by_oid(cert, GNUTLS_OID_X520_COMMON_NAME, 0, 0, nullptr, &size) ==
          GNUTLS_E_SHORT_MEMORY_BUFFER &&
      size > 0) {
    std::string cn(size, '\0');
    if (gnutls_x509_crt_get_dn_by_oid(cert, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn.data(), &size) == 0) {
      cn.resize(size);
      identity.commonName = cn;
    }
  }
  for (unsigned i = 0; i < 64; ++i) {
    char value[512];
    size_t length = sizeof value;
    const int type = gnutls_x509_crt_get_subject_alt_name(cert, i, value, &length, nullptr);
    if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    if (type == GNUTLS_SAN_IPADDRESS) {
      char text[INET6_ADDRSTRLEN] = {};
      if ((length == 4 && inet_ntop(AF_INET, value, text, sizeof text)) ||
          (length == 16 && inet_ntop(AF_INET6, value, text, sizeof text))) {
        identity.altNames.push_back(text);
      }
    } else if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_RFC822NAME || type == GNUTLS_SAN_URI) {
      identity.altNames.emplace_back(value, length);
    }
  }
  return identity;
}

// The verified identity of the client on `connection`; nullopt, with the
// reason in `why`, when it sent no certificate or one that does not verify
// against the CA (expired, not yet valid, another issuer...).
std::optional<ClientIdentity> verifiedClient(MHD_Connection* connection, std::string& why) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (!info || !info->tls_session) {
    why = "no TLS session";
    return std::nullopt;
  }
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  unsigned count = 0;
  const gnutls_datum_t* chain = gnutls_certificate_get_peers(session, &count);
  if (!chain || count == 0) {
    why = "no client certificate";
    return std::nullopt;
  }
  unsigned status = 0;
  if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0) {
    gnutls_datum_t text{};
    why = "client certificate not verified";
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
      why += ": " + std::string(reinterpret_cast<const char*>(text.data), text.size);
      gnutls_free(text.data);
    }
    return std::nullopt;
  }
  gnutls_x509_crt_t raw = nullptr;
  if (gnutls_x509_crt_init(&raw) != 0) {
    why = "out of memory";
    return std::nullopt;
  }
  Certificate cert(raw, &gnutls_x509_crt_deinit);
  if (gnutls_x509_crt_import(cert.get(), &chain[0], GNUTLS_X509_FMT_DER) != 0) {
    why = "client certificate unreadable";
    return std::nullopt;
  }
  return identityOf(cert.get());
}

void completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  if (auto* holder = static_cast<Holder*>(*con_cls)) holder->request->finished = true;
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
  if (options_.caFile.empty() || options_.allowedClients.empty()) {
    lastError_ = "https listener on " + options_.host + ":" + std::to_string(options_.port) +
                 " needs the CA of its clients and the clients it lets in (tls_ca and tls_allowed_clients, or "
                 "--tls-ca and --tls-allowed-clients); gdr-agent does not serve unauthenticated callers";
    return false;
  }
  try {
    cert_ = readFile(options_.certFile);
    key_ = readFile(options_.keyFile);
    ca_ = readFile(options_.caFile);
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
      // Headers are in; nothing of the body has been read. Whatever is
      // refused here is refused before the body is read at all.
      if (auto refusal = server->refusal(connection, method, url)) {
        return respond(connection, refusal->first, refusal->second);
      }
      auto* holder = new Holder{std::make_shared<Request>()};
      holder->request->connection = connection;
      *con_cls = holder;
      return MHD_YES;
    }
    auto request = static_cast<Holder*>(*con_cls)->request;
    if (*upload_data_size > 0) {
      if (request->body.size() + *upload_data_size > server->options_.maxRequestBytes) {
        // A body without Content-Length (chunked) outgrew the limit: the
        // connection is closed at once, the rest is never read.
        // (libmicrohttpd cannot queue a reply before the upload ends.)
        spdlog::warn("https {}:{}: request body over {} bytes; connection closed", server->options_.host,
                     server->options_.port, server->options_.maxRequestBytes);
        return MHD_NO;
      }
      request->body.append(upload_data, *upload_data_size);
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
    const char* flow = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "FlowID");
    request->submitted = true;
    server->runner_.submit(request->body, flow ? flow : "", [server, request](std::optional<std::string> reply) {
      if (reply) {
        server->SendResponse(*reply, request.get());
      } else {
        std::lock_guard<std::mutex> lock(request->mutex);
        request->ready = true;
        server->resume(*request);
      }
    });
    std::lock_guard<std::mutex> lock(request->mutex);
    if (request->ready) {
      if (!request->reply) return respond(connection, MHD_HTTP_NO_CONTENT, "");
      return respond(connection, MHD_HTTP_OK, *request->reply);
    }
    request->suspended = true;
    {
      std::lock_guard<std::mutex> registry(server->suspendedMutex_);
      server->suspended_.emplace(request.get(), request);
    }
    MHD_suspend_connection(connection);
    return MHD_YES;
  };

  MHD_AccessHandlerCallback callback = handler;
  // With a trust list libmicrohttpd asks every client for its certificate;
  // refusal() turns away those without a verified, allowed one.
  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, callback, this, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_CONNECTION_LIMIT, unsigned(options_.maxConnections),
                             MHD_OPTION_CONNECTION_TIMEOUT, options_.idleTimeoutSeconds,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, nullptr, MHD_OPTION_HTTPS_MEM_KEY, key_.c_str(),
                             MHD_OPTION_HTTPS_MEM_CERT, cert_.c_str(), MHD_OPTION_HTTPS_MEM_TRUST, ca_.c_str(),
                             MHD_OPTION_HTTPS_PRIORITIES, kTlsPriorities, MHD_OPTION_END);
  if (!daemon_) {
    lastError_ = "https listener: cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                 (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ? " (libmicrohttpd has no TLS)" : "");
    return false;
  }
  spdlog::info("listening on https://{}:{} ({} allowed clients)", options_.host, options_.port,
               options_.allowedClients.size());
  return true;
}

std::string HttpsServer::tooLargeReply() const {
  return Dispatcher::errorReply(Code::InvalidRequest, "Invalid Request: request exceeds " +
                                                          std::to_string(options_.maxRequestBytes) + " bytes");
}

std::optional<std::pair<unsigned, std::string>> HttpsServer::refusal(MHD_Connection* connection,
                                                                    const std::string& method,
                                                                    const std::string& url) const {
  auto reply = [](unsigned status, std::string body) { return std::make_optional(std::make_pair(status, body)); };
  std::string why;
  const std::optional<ClientIdentity> client = verifiedClient(connection, why);
  if (!client || !clientAllowed(*client, options_.allowedClients)) {
    if (client) why = "client " + describe(*client) + " is not in tls_allowed_clients";
    spdlog::warn("https {}:{}: refused: {}", options_.host, options_.port, json::printable(why));
    return reply(MHD_HTTP_FORBIDDEN, Dispatcher::errorReply(Code::ClientNotAllowed, "client not allowed: " + why));
  }
  if (method != "POST") {
    return reply(MHD_HTTP_METHOD_NOT_ALLOWED,
                 Dispatcher::errorReply(Code::InvalidRequest, "Invalid Request: use HTTP POST"));
  }
  if (url != "/" && url != "/jsonrpc") {
    return reply(MHD_HTTP_NOT_FOUND, Dispatcher::errorReply(Code::InvalidRequest, "Invalid Request: no endpoint " +
                                                                                      json::printable(url, 100)));
  }
  // Browsers send Origin on every cross-site POST; gdr's clients never do.
  if (MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Origin")) {
    return reply(MHD_HTTP_FORBIDDEN, Dispatcher::errorReply(Code::InvalidRequest,
                                                            "Invalid Request: cross-origin requests are refused"));
  }
  // A browser can POST text/plain across origins without asking first; it
  // cannot send application/json so. Only JSON is served.
  const char* type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (!type || std::string(type).rfind("application/json", 0) != 0) {
    return reply(MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                 Dispatcher::errorReply(Code::InvalidRequest, "Invalid Request: Content-Type must be application/json"));
  }
  const char* length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (length && std::strtoull(length, nullptr, 10) > options_.maxRequestBytes) {
    return reply(MHD_HTTP_CONTENT_TOO_LARGE, tooLargeReply());
  }
  return std::nullopt;
}

bool HttpsServer::SendResponse(const std::string& response, void* addInfo) {
  auto* request = static_cast<Request*>(addInfo);
  if (!request) return false;
  std::lock_guard<std::mutex> lock(request->mutex);
  request->reply = response;
  request->ready = true;
  resume(*request);
  return true;
}

void HttpsServer::resume(Request& request) {
  if (!request.suspended) return;
  request.suspended = false;
  MHD_resume_connection(request.connection);
  std::lock_guard<std::mutex> registry(suspendedMutex_);
  suspended_.erase(&request);
}

void HttpsServer::quiesce() {
  if (daemon_) MHD_quiesce_daemon(daemon_);
}

bool HttpsServer::StopListening() {
  if (daemon_) {
    // A call still running past the shutdown grace (a hung libvirt or
    // gluster call) gets "the agent is stopping"; its worker's late reply
    // is dropped. libmicrohttpd aborts the process if it stops with a
    // connection suspended.
    std::vector<std::shared_ptr<Request>> waiting;
    {
      std::lock_guard<std::mutex> registry(suspendedMutex_);
      for (const auto& entry : suspended_) waiting.push_back(entry.second);
    }
    for (const auto& request : waiting) {
      std::lock_guard<std::mutex> lock(request->mutex);
      if (!request->suspended) continue;
      request->reply = Dispatcher::errorReply(Code::ShuttingDown, "the agent is stopping; retry on restart");
      request->ready = true;
      resume(*request);
    }
    // Those replies go out before the daemon closes the connections (2 s at most).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (const auto& request : waiting) {
      while (!request->finished && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }
  return true;
}

}  // namespace gdr
