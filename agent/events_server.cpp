#include "agent/events_server.h"

#include <microhttpd.h>

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "agent/socket_address.h"

namespace gdr {

struct EventsServer::Request {
  std::string body;
  bool tooLarge = false;
};

namespace {

MHD_Result reply(MHD_Connection* connection, unsigned status) {
  MHD_Response* response = MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
  const MHD_Result result = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return result;
}

void completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  delete static_cast<EventsServer::Request*>(*con_cls);
  *con_cls = nullptr;
}

// Compares in time that does not depend on where the texts differ.
bool sameSecret(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return diff == 0;
}

}  // namespace

EventsServer::EventsServer(Options options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

EventsServer::~EventsServer() { stop(); }

void EventsServer::start() {
  if (daemon_) return;
  sockaddr_storage addr{};
  bool v6 = false;
  if (!numericSocketAddress(options_.host, options_.port, addr, v6)) {
    throw std::runtime_error("events listener: '" + options_.host + "' is not a numeric address");
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;

  auto access = [](void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                   const char* upload_data, size_t* upload_data_size, void** con_cls) -> MHD_Result {
    auto* server = static_cast<EventsServer*>(cls);
    if (!*con_cls) {
      *con_cls = new Request;
      return MHD_YES;
    }
    auto* request = static_cast<Request*>(*con_cls);
    if (*upload_data_size > 0) {
      if (request->body.size() + *upload_data_size > server->options_.maxBodyBytes) {
        request->tooLarge = true;
      } else {
        request->body.append(upload_data, *upload_data_size);
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (std::string(method) != "POST") return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED);
    if (std::string(url) != "/") return reply(connection, MHD_HTTP_NOT_FOUND);
    if (request->tooLarge) return reply(connection, MHD_HTTP_CONTENT_TOO_LARGE);
    if (!server->options_.token.empty()) {
      const char* auth = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization");
      if (!auth || !sameSecret(auth, "Bearer " + server->options_.token)) {
        spdlog::warn("events: refused an event without the expected bearer token");
        return reply(connection, MHD_HTTP_UNAUTHORIZED);
      }
    }
    ++server->received_;
    try {
      server->handler_(request->body);
    } catch (const std::exception& e) {
      spdlog::warn("events: handling an event: {}", e.what());
    }
    return reply(connection, MHD_HTTP_OK);
  };

  daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, access, this, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, nullptr, MHD_OPTION_END);
  if (!daemon_) {
    throw std::runtime_error("events listener: cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port));
  }
  spdlog::info("receiving gluster events on http://{}:{}/", options_.host, port());
}

int EventsServer::port() const {
  if (!daemon_) return options_.port;
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  return info ? info->port : options_.port;
}

void EventsServer::stop() {
  if (!daemon_) return;
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

}  // namespace gdr
