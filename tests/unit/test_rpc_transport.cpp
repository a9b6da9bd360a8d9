// The unix-socket transport keeps its connection between calls: when the
// agent closed it meanwhile (its idle timeout), the next call connects
// again instead of failing on a broken pipe.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "client/rpc_client.h"
#include "core/uuid.h"

namespace gdr::client {
namespace {

// Answers one line on each connection, "reply N", then closes it.
class OneLineServer {
 public:
  explicit OneLineServer(const std::string& path, int connections) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    thread_ = std::thread([this, connections] {
      for (int i = 1; i <= connections; ++i) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[256];
        std::string line;
        while (line.find('\n') == std::string::npos) {
          const ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          line.append(buf, n);
        }
        const std::string reply = "reply " + std::to_string(i) + "\n";
        (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~OneLineServer() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes an accept() still waiting (a client that gave up)
    thread_.join();
    ::close(fd_);
    std::filesystem::remove(path_);
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::thread thread_;
};

TEST(UnixTransportTest, AConnectionTheAgentClosedIsMadeAgain) {
  const std::string path = ::testing::TempDir() + "gdr-transport-" + newUuid().substr(0, 8) + ".sock";
  OneLineServer server(path, 2);
  auto transport = makeTransport("unix:" + path, {}, std::chrono::seconds(5));
  EXPECT_EQ(transport->roundTrip("{\"first\": 1}", "flow"), "reply 1");
  // The server closed that connection after its reply; let the close land.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(transport->roundTrip("{\"second\": 2}", "flow"), "reply 2");
}

}  // namespace
}  // namespace gdr::client
