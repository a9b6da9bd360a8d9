#pragma once
// A numeric IPv4 or IPv6 address and port as a sockaddr, for the HTTP
// listeners (libmicrohttpd binds exactly the address it is given).
#include <sys/socket.h>

#include <string>

namespace gdr {

// Fills `addr`; false when `host` is not a numeric address. `v6` tells the
// family chosen.
bool numericSocketAddress(const std::string& host, int port, sockaddr_storage& addr, bool& v6);

}  // namespace gdr
