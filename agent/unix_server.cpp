#include "agent/unix_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "core/dispatcher.h"
#include "agent/worker_pool.h"

namespace gdr {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

class UnixSocketServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(UnixSocketServer& server, stream::socket socket)
      : server_(server), socket_(std::move(socket)), buffer_(server.maxRequestBytes_ + 1),
        idle_(socket_.get_executor()) {}

  void start() { readNext(); }

  // Called from any thread with the reply of the request in progress; on
  // the io thread itself (inline verbs) it writes at once.
  void deliver(std::optional<std::string> reply) {
    auto self = shared_from_this();
    asio::dispatch(socket_.get_executor(), [self, reply = std::move(reply)]() mutable {
      if (reply) {
        self->write(std::move(*reply) + "\n", false);
      } else {
        self->busy_ = false;
        self->readNext();
      }
    });
  }

  // On the io thread.
  void closeWhenIdle() {
    closing_ = true;
    if (!busy_) close();
  }

 private:
  // A peer that neither sends a whole request nor takes its reply within
  // the idle timeout is cut off: it would hold a connection slot forever.
  void armIdleTimer() {
    idle_.expires_after(server_.idleTimeout_);
    std::weak_ptr<Connection> weak = shared_from_this();
    idle_.async_wait([weak](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      spdlog::warn("unix {}: connection idle for {}s; closing it", self->server_.path_,
                   self->server_.idleTimeout_.count());
      self->close();
    });
  }

  void readNext() {
    if (closing_) return close();
    armIdleTimer();
    auto self = shared_from_this();
    asio::async_read_until(socket_, buffer_, '\n', [self](boost::system::error_code ec, size_t length) {
      self->onRead(ec, length);
    });
  }

  void onRead(boost::system::error_code ec, size_t length) {
    idle_.cancel();
    if (ec == asio::error::not_found) {
      // The line outgrew the limit; the stream cannot be resynchronized.
      const std::string reply =
          Dispatcher::errorReply(Code::InvalidRequest, "Invalid Request: request exceeds " +
                                                           std::to_string(server_.maxRequestBytes_) + " bytes");
      spdlog::warn("unix {}: request over {} bytes; closing connection", server_.path_, server_.maxRequestBytes_);
      closing_ = true;
      return write(reply + "\n", true);
    }
    std::string line;
    if (ec) {
      // EOF (or reset): a last request without its newline is still answered.
      if (ec != asio::error::eof || buffer_.size() == 0) return close();
      line.assign(asio::buffers_begin(buffer_.data()), asio::buffers_end(buffer_.data()));
      buffer_.consume(buffer_.size());
      closing_ = true;
    } else {
      line.assign(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + length - 1);
      buffer_.consume(length);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) return readNext();
    busy_ = true;
    auto self = shared_from_this();
    server_.runner_.submit(std::move(line), {}, [self](std::optional<std::string> reply) {
      if (reply) {
        self->server_.SendResponse(*reply, self.get());
      } else {
        self->deliver(std::nullopt);
      }
    });
  }

  void write(std::string text, bool thenClose) {
    auto self = shared_from_this();
    auto data = std::make_shared<std::string>(std::move(text));
    armIdleTimer();
    asio::async_write(socket_, asio::buffer(*data), [self, data, thenClose](boost::system::error_code ec, size_t) {
      self->idle_.cancel();
      self->busy_ = false;
      if (ec || thenClose) return self->close();
      self->readNext();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    idle_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
    server_.forget(this);
  }

  UnixSocketServer& server_;
  stream::socket socket_;
  asio::streambuf buffer_;
  asio::steady_timer idle_;
  bool busy_ = false;     // a request is being processed or its reply written
  bool closing_ = false;
  bool closed_ = false;

  friend class UnixSocketServer;
};

UnixSocketServer::UnixSocketServer(asio::io_context& io, std::string path, RequestRunner& runner,
                                   size_t maxRequestBytes, size_t maxConnections, std::chrono::seconds idleTimeout)
    : io_(io), path_(std::move(path)), runner_(runner), maxRequestBytes_(maxRequestBytes),
      maxConnections_(maxConnections), idleTimeout_(idleTimeout), acceptBackoff_(io) {}

UnixSocketServer::~UnixSocketServer() {
  StopListening();
}

bool UnixSocketServer::StartListening() {
  namespace fs = std::filesystem;
  try {
    const fs::path socketPath(path_);
    fs::create_directories(socketPath.parent_path());
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        lastError_ = path_ + " exists and is not a socket; not touching it";
        return false;
      }
      // A socket file: live if someone answers, stale otherwise.
      stream::socket probe(io_);
      boost::system::error_code ec;
      probe.connect(stream::endpoint(path_), ec);
      if (!ec) {
        lastError_ = "another agent is listening on " + path_;
        return false;
      }
      ::unlink(path_.c_str());
    }
    acceptor_ = std::make_unique<stream::acceptor>(io_, stream::endpoint(path_));
    ::chmod(path_.c_str(), 0660);
  } catch (const std::exception& e) {
    lastError_ = "cannot listen on " + path_ + ": " + e.what();
    return false;
  }
  accept();
  spdlog::info("listening on unix:{}", path_);
  return true;
}

void UnixSocketServer::accept() {
  acceptor_->async_accept([this](boost::system::error_code ec, stream::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open()) return;
      // Out of descriptors: accepting again at once fails again at once
      // (a busy loop writing a log line each time). Wait, longer each time
      // up to a second, and say so once per pause.
      const bool exhausted = ec == asio::error::no_descriptors || ec.value() == ENFILE || ec.value() == ENOBUFS ||
                             ec.value() == ENOMEM;
      const auto pause = exhausted ? std::min(std::chrono::milliseconds(1000),
                                              std::max(std::chrono::milliseconds(50), acceptPause_ * 2))
                                   : std::chrono::milliseconds(10);
      acceptPause_ = pause;
      spdlog::error("unix accept: {}; pausing {} ms", ec.message(), pause.count());
      acceptBackoff_.expires_after(pause);
      acceptBackoff_.async_wait([this](boost::system::error_code waitError) {
        if (!waitError) accept();
      });
      return;
    }
    acceptPause_ = std::chrono::milliseconds(0);
    std::shared_ptr<Connection> connection;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (connections_.size() >= maxConnections_) {
        const std::string reply =
            Dispatcher::errorReply(Code::Busy, "agent busy: too many connections; retry later") + "\n";
        boost::system::error_code ignored;
        asio::write(socket, asio::buffer(reply), ignored);
        socket.close(ignored);
        spdlog::warn("unix {}: connection refused, {} open", path_, connections_.size());
      } else {
        connection = std::make_shared<Connection>(*this, std::move(socket));
        connections_.insert(connection);
      }
    }
    if (connection) connection->start();
    accept();
  });
}

bool UnixSocketServer::StopListening() {
  acceptBackoff_.cancel();
  if (acceptor_ && acceptor_->is_open()) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    ::unlink(path_.c_str());
  }
  return true;
}

bool UnixSocketServer::SendResponse(const std::string& response, void* addInfo) {
  auto* connection = static_cast<Connection*>(addInfo);
  if (!connection) return false;
  connection->deliver(response);
  return true;
}

void UnixSocketServer::closeConnections() {
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    all.assign(connections_.begin(), connections_.end());
  }
  for (auto& connection : all) connection->closeWhenIdle();
}

void UnixSocketServer::forget(Connection* connection) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() == connection) {
      connections_.erase(it);
      return;
    }
  }
}

}  // namespace gdr
