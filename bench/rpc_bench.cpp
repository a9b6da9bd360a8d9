// gdr-rpc-bench: Host.ping throughput and p50/p99 latency at several
// concurrencies, over persistent connections, against
//   - gdr-agent (the built binary) on its Unix socket and on HTTPS;
//   - libjson-rpc-cpp 0.7.0's own UnixDomainSocketServer and HttpServer
//     serving the same verb (the library closes each Unix connection after
//     one request, so that client reconnects every time);
//   - a minimal echo over the same transport and framing, doing no JSON
//     work: the ceiling.
// Every server runs in its own process. libjson-rpc-cpp's HttpServer binds
// every interface, so scripts/bench runs all of this inside a private
// network namespace with only loopback up.
#include <arpa/inet.h>
#include <jsonrpccpp/server.h>
#include <jsonrpccpp/server/connectors/httpserver.h>
#include <jsonrpccpp/server/connectors/unixdomainsocketserver.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/process.h"
#include "client/rpc_client.h"

namespace {

using Clock = std::chrono::steady_clock;
const std::string kPing = R"({"jsonrpc":"2.0","method":"Host.ping","params":{},"id":1})";

// ---- servers (each run as `gdr-rpc-bench serve KIND ARG` in a child) ----

class LibPingServer : public jsonrpc::AbstractServer<LibPingServer> {
 public:
  explicit LibPingServer(jsonrpc::AbstractServerConnector& connector) : AbstractServer<LibPingServer>(connector) {
    bindAndAddMethod(jsonrpc::Procedure("Host.ping", jsonrpc::PARAMS_BY_NAME, jsonrpc::JSON_OBJECT, nullptr),
                     &LibPingServer::ping);
  }
  void ping(const Json::Value&, Json::Value& response) { response = Json::Value(Json::objectValue); }
};

[[noreturn]] void waitForever() {
  for (;;) pause();
}

int serveLibUnix(const std::string& path) {
  jsonrpc::UnixDomainSocketServer connector(path);
  LibPingServer server(connector);
  if (!server.StartListening()) return 1;
  waitForever();
}

int serveLibHttp(int port) {
  jsonrpc::HttpServer connector(port, "", "", 4);
  LibPingServer server(connector);
  if (!server.StartListening()) return 1;
  waitForever();
}

// Reads a line, writes it back: the same framing as gdr-agent's socket.
int serveEchoUnix(const std::string& path) {
  namespace asio = boost::asio;
  using stream = asio::local::stream_protocol;
  asio::io_context io(1);
  ::unlink(path.c_str());
  stream::acceptor acceptor(io, stream::endpoint(path));
  struct Conn : std::enable_shared_from_this<Conn> {
    explicit Conn(stream::socket s) : socket(std::move(s)) {}
    stream::socket socket;
    asio::streambuf buffer;
    std::string line;
    void read() {
      auto self = shared_from_this();
      asio::async_read_until(socket, buffer, '\n', [self](boost::system::error_code ec, size_t n) {
        if (ec) return;
        self->line.assign(asio::buffers_begin(self->buffer.data()), asio::buffers_begin(self->buffer.data()) + n);
        self->buffer.consume(n);
        asio::async_write(self->socket, asio::buffer(self->line),
                          [self](boost::system::error_code ec2, size_t) {
                            if (!ec2) self->read();
                          });
      });
    }
  };
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](boost::system::error_code ec, stream::socket s) {
      if (!ec) std::make_shared<Conn>(std::move(s))->read();
      accept();
    });
  };
  accept();
  io.run();
  return 0;
}

struct EchoRequest {
  std::string body;
};

MHD_Result echoHandler(void*, MHD_Connection* connection, const char*, const char*, const char*, const char* data,
                       size_t* size, void** state) {
  if (!*state) {
    *state = new EchoRequest;
    return MHD_YES;
  }
  auto* request = static_cast<EchoRequest*>(*state);
  if (*size) {
    request->body.append(data, *size);
    *size = 0;
    return MHD_YES;
  }
  MHD_Response* response = MHD_create_response_from_buffer(request->body.size(), request->body.data(),
                                                            MHD_RESPMEM_MUST_COPY);
  const MHD_Result r = MHD_queue_response(connection, 200, response);
  MHD_destroy_response(response);
  return r;
}

void echoDone(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
  delete static_cast<EchoRequest*>(*state);
  *state = nullptr;
}

// The same libmicrohttpd set-up as gdr-agent's HTTPS listener, echoing.
int serveEchoHttps(int port, const std::string& certFile, const std::string& keyFile) {
  auto read = [](const std::string& f) {
    std::ifstream in(f);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  const std::string cert = read(certFile), key = read(keyFile);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  MHD_Daemon* d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ITC, 0, nullptr, nullptr,
                                   &echoHandler, nullptr, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED,
                                   &echoDone, nullptr, MHD_OPTION_HTTPS_MEM_KEY, key.c_str(),
                                   MHD_OPTION_HTTPS_MEM_CERT, cert.c_str(), MHD_OPTION_END);
  if (!d) return 1;
  waitForever();
}

// ---- clients ----

// One persistent Unix connection (or one per request when `reconnect`).
class UnixPinger {
 public:
  UnixPinger(std::string path, bool reconnect) : path_(std::move(path)), reconnect_(reconnect) {}
  ~UnixPinger() { closeFd(); }
  bool ping() {
    if (fd_ < 0 && !open()) return false;
    const std::string line = kPing + "\n";
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != ssize_t(line.size())) return fail();
    for (;;) {
      if (pending_.find('\n') != std::string::npos) break;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (reconnect_ && !pending_.empty()) break;  // the library closes instead of a newline
        return fail();
      }
      pending_.append(buf, n);
    }
    const bool ok = pending_.find("\"result\"") != std::string::npos || pending_.find("Host.ping") != std::string::npos;
    pending_.clear();
    if (reconnect_) closeFd();
    return ok;
  }

 private:
  bool open() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail();
    return true;
  }
  bool fail() {
    closeFd();
    return false;
  }
  void closeFd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  std::string path_;
  bool reconnect_;
  int fd_ = -1;
  std::string pending_;
};

class HttpPinger {
 public:
  explicit HttpPinger(const std::string& url)
      : transport_(gdr::client::makeTransport(url, insecure(), std::chrono::seconds(30))) {}
  bool ping() {
    try {
      const std::string reply = transport_->roundTrip(kPing, {});
      return reply.find("\"result\"") != std::string::npos || reply.find("Host.ping") != std::string::npos;
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  static gdr::client::TlsOptions insecure() {
    gdr::client::TlsOptions tls;
    tls.insecure = true;  // a throw-away self-signed certificate
    return tls;
  }
  std::unique_ptr<gdr::client::Transport> transport_;
};

struct Result {
  double throughput = 0, p50us = 0, p99us = 0;
  long errors = 0;
};

template <typename MakePinger>
Result measure(int concurrency, std::chrono::milliseconds duration, MakePinger make) {
  std::vector<std::vector<double>> latencies(concurrency);
  std::atomic<long> errors{0};
  std::atomic<bool> go{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      auto pinger = make();
      while (!go) std::this_thread::yield();
      const auto end = Clock::now() + duration;
      while (Clock::now() < end) {
        const auto before = Clock::now();
        if (!pinger->ping()) {
          ++errors;
          continue;
        }
        latencies[t].push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
      }
    });
  }
  const auto began = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  (void)start;
  const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Result r;
  r.errors = errors;
  r.throughput = all.size() / seconds;
  if (!all.empty()) {
    r.p50us = all[all.size() / 2];
    r.p99us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return r;
}

pid_t spawnSelf(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = args;
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen(log.c_str(), "a", stderr);
    std::freopen("/dev/null", "w", stdout);
    ::execv(raw[0], raw.data());
    _exit(127);
  }
  return pid;
}

bool waitUnix(const std::string& path) {
  for (int i = 0; i < 300; ++i) {
    UnixPinger p(path, true);
    if (p.ping()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool waitHttp(const std::string& url) {
  for (int i = 0; i < 300; ++i) {
    HttpPinger p(url);
    if (p.ping()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status;
  ::waitpid(pid, &status, 0);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() >= 4 && args[1] == "serve") {
    if (args[2] == "lib-unix") return serveLibUnix(args[3]);
    if (args[2] == "lib-http") return serveLibHttp(std::stoi(args[3]));
    if (args[2] == "echo-unix") return serveEchoUnix(args[3]);
    if (args[2] == "echo-https" && args.size() == 6) return serveEchoHttps(std::stoi(args[3]), args[4], args[5]);
    return 2;
  }
  double seconds = 3;
  std::vector<int> concurrencies = {1, 8, 64};
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == "--seconds") seconds = std::stod(args[++i]);
  }
  const auto duration = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  char dirTemplate[] = "/tmp/gdr-bench-XXXXXX";
  const std::string dir = ::mkdtemp(dirTemplate);
  const std::string self = "/proc/self/exe";
  char selfPath[4096] = {};
  ::readlink(self.c_str(), selfPath, sizeof selfPath - 1);
  const std::string cert = dir + "/bench.crt", key = dir + "/bench.key";
  const auto made = gdr::runCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                                     "/CN=127.0.0.1", "-keyout", key, "-out", cert},
                                    std::chrono::seconds(60));
  if (made.exitCode != 0) {
    std::cerr << "openssl failed: " << made.err;
    return 1;
  }

  const std::string agentSock = dir + "/agent.sock", libSock = dir + "/lib.sock", echoSock = dir + "/echo.sock";
  const int agentPort = 54321, echoPort = 54322, libPort = 54323;
  const std::string log = dir + "/servers.log";
  std::vector<pid_t> pids;
  pids.push_back(spawnSelf({std::string(GDR_BIN_DIR) + "/gdr-agent", "--config", "/dev/null", "--listen",
                            "unix:" + agentSock, "--listen", "https://127.0.0.1:" + std::to_string(agentPort),
                            "--tls-cert", cert, "--tls-key", key, "--state-dir", dir + "/state", "--log-file",
                            dir + "/agent.log"},
                           log));
  pids.push_back(spawnSelf({selfPath, "serve", "lib-unix", libSock}, log));
  pids.push_back(spawnSelf({selfPath, "serve", "echo-unix", echoSock}, log));
  pids.push_back(spawnSelf({selfPath, "serve", "echo-https", std::to_string(echoPort), cert, key}, log));
  pids.push_back(spawnSelf({selfPath, "serve", "lib-http", std::to_string(libPort)}, log));
  const std::string agentUrl = "https://127.0.0.1:" + std::to_string(agentPort) + "/";
  const std::string echoUrl = "https://127.0.0.1:" + std::to_string(echoPort) + "/";
  const std::string libUrl = "http://127.0.0.1:" + std::to_string(libPort) + "/";
  if (!waitUnix(agentSock) || !waitUnix(libSock) || !waitUnix(echoSock) || !waitHttp(agentUrl) ||
      !waitHttp(echoUrl) || !waitHttp(libUrl)) {
    std::cerr << "a server did not come up; see " << log << "\n";
    for (pid_t p : pids) stop(p);
    return 1;
  }

  struct Target {
    const char* name;
    std::function<std::unique_ptr<std::function<bool()>>()> make;
  };
  auto unixTarget = [](std::string path, bool reconnect) {
    return [path, reconnect] {
      auto pinger = std::make_shared<UnixPinger>(path, reconnect);
      return std::make_unique<std::function<bool()>>([pinger] { return pinger->ping(); });
    };
  };
  auto httpTarget = [](std::string url) {
    return [url] {
      auto pinger = std::make_shared<HttpPinger>(url);
      return std::make_unique<std::function<bool()>>([pinger] { return pinger->ping(); });
    };
  };
  std::vector<Target> targets = {
      {"unix  gdr-agent", unixTarget(agentSock, false)},
      {"unix  echo (ceiling)", unixTarget(echoSock, false)},
      {"unix  libjson-rpc-cpp", unixTarget(libSock, true)},
      {"https gdr-agent", httpTarget(agentUrl)},
      {"https echo (ceiling)", httpTarget(echoUrl)},
      {"http  libjson-rpc-cpp", httpTarget(libUrl)},
  };

  std::printf("Host.ping, %.1f s per cell, persistent connections (libjson-rpc-cpp unix: one per request)\n\n",
              seconds);
  std::printf("%-24s %5s %12s %10s %10s %7s\n", "target", "conc", "req/s", "p50 us", "p99 us", "errors");
  std::map<std::string, double> at8;
  for (const auto& target : targets) {
    for (int c : concurrencies) {
      struct Wrap {
        std::unique_ptr<std::function<bool()>> f;
        bool ping() { return (*f)(); }
      };
      const Result r = measure(c, duration, [&] { return std::make_unique<Wrap>(Wrap{target.make()}); });
      std::printf("%-24s %5d %12.0f %10.1f %10.1f %7ld\n", target.name, c, r.throughput, r.p50us, r.p99us, r.errors);
      std::fflush(stdout);
      if (c == 8) at8[target.name] = r.throughput;
    }
  }
  const double agent = at8["unix  gdr-agent"], echo = at8["unix  echo (ceiling)"],
               lib = at8["unix  libjson-rpc-cpp"];
  std::printf("\nunix, concurrency 8: gdr-agent = %.0f%% of the echo ceiling, %.0fx libjson-rpc-cpp's connector\n",
              echo > 0 ? 100 * agent / echo : 0.0, lib > 0 ? agent / lib : 0.0);
  for (pid_t p : pids) stop(p);
  return 0;
}
