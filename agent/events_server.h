#pragma once
// A plain-HTTP webhook on a loopback address for gluster's events API
// (`gluster-eventsapi webhook-add http://ADDR:PORT/`). Each POSTed event
// is handed to a callback on the listener's thread, which must not block.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

struct MHD_Daemon;

namespace gdr {

class EventsServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 54322;
    std::string token;  // when set, "Authorization: Bearer TOKEN" is required
    size_t maxBodyBytes = 64 * 1024;
  };
  using Handler = std::function<void(const std::string& body)>;

  EventsServer(Options options, Handler handler);
  ~EventsServer();
  EventsServer(const EventsServer&) = delete;
  EventsServer& operator=(const EventsServer&) = delete;

  // Throws std::runtime_error naming the address when it cannot listen.
  void start();
  void stop();
  std::uint64_t received() const { return received_; }
  int port() const;  // the bound port (Options::port 0 picks a free one)

  struct Request;  // internal

 private:
  Options options_;
  Handler handler_;
  MHD_Daemon* daemon_ = nullptr;
  std::atomic<std::uint64_t> received_{0};
};

}  // namespace gdr
