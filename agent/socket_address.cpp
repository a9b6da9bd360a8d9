#include "agent/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace gdr {

bool numericSocketAddress(const std::string& host, int port, sockaddr_storage& addr, bool& v6) {
  addr = sockaddr_storage{};
  auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    v6 = true;
    return true;
  }
  return false;
}

}  // namespace gdr
