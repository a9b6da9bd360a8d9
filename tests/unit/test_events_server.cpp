// The webhook that receives gluster's events: what it accepts and refuses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "agent/events_server.h"

namespace gdr {
namespace {

// One HTTP/1.0 exchange on loopback; returns the status code.
int post(int port, const std::string& method, const std::string& path, const std::string& body,
         const std::string& headers = "") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  const std::string request = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                              headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (write(fd, request.data(), request.size()) != ssize_t(request.size())) {
    close(fd);
    return -1;
  }
  std::string reply;
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, size_t(n));
  close(fd);
  if (reply.rfind("HTTP/1.", 0) != 0 || reply.size() < 12) return -1;
  return std::stoi(reply.substr(9, 3));
}

TEST(EventsServer, HandsPostedEventsToTheHandler) {
  std::mutex mutex;
  std::vector<std::string> bodies;
  EventsServer::Options options;
  options.port = 0;
  EventsServer server(options, [&](const std::string& body) {
    std::lock_guard<std::mutex> lock(mutex);
    bodies.push_back(body);
  });
  server.start();
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(post(server.port(), "POST", "/", R"({"event": "GEOREP_CHECKPOINT_COMPLETED"})"), 200);
  EXPECT_EQ(post(server.port(), "GET", "/", ""), 405);
  EXPECT_EQ(post(server.port(), "POST", "/other", "{}"), 404);
  EXPECT_EQ(post(server.port(), "POST", "/", std::string(70 * 1024, 'x')), 413);
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0], R"({"event": "GEOREP_CHECKPOINT_COMPLETED"})");
  EXPECT_EQ(server.received(), 1u);
}

TEST(EventsServer, RequiresTheBearerTokenWhenOneIsSet) {
  int calls = 0;
  EventsServer::Options options;
  options.port = 0;
  options.token = "s3cret";
  EventsServer server(options, [&](const std::string&) { ++calls; });
  server.start();
  EXPECT_EQ(post(server.port(), "POST", "/", "{}"), 401);
  EXPECT_EQ(post(server.port(), "POST", "/", "{}", "Authorization: Bearer wrong\r\n"), 401);
  EXPECT_EQ(post(server.port(), "POST", "/", "{}", "Authorization: Bearer s3cret\r\n"), 200);
  EXPECT_EQ(calls, 1);
}

TEST(EventsServer, RefusesANonNumericAddress) {
  EventsServer::Options options;
  options.host = "localhost";
  EventsServer server(options, [](const std::string&) {});
  EXPECT_THROW(server.start(), std::runtime_error);
}

}  // namespace
}  // namespace gdr

#include "agent/client_identity.h"

namespace gdr {
namespace {

TEST(ClientIdentity, OnlyExactlyListedNamesGetIn) {
  const ClientIdentity engine{"gdr-engine", {"engine.example.org", "127.0.0.9"}};
  EXPECT_TRUE(clientAllowed(engine, {"gdr-engine"}));
  EXPECT_TRUE(clientAllowed(engine, {"x", "127.0.0.9"}));  // by a SAN entry
  EXPECT_FALSE(clientAllowed(engine, {}));
  EXPECT_FALSE(clientAllowed(engine, {"GDR-ENGINE", "gdr-engine.", "*.example.org", "example.org"}));
  EXPECT_FALSE(clientAllowed(ClientIdentity{"", {""}}, {""}));  // an empty name never matches
  EXPECT_EQ(describe(ClientIdentity{"a\nb", {"c"}}), "CN=a\\x0ab, SAN=[c]");
}

}  // namespace
}  // namespace gdr
