#pragma once
// Who a TLS client is, as its verified certificate says, and whether the
// agent lets it in. The check is pure; reading the certificate off a
// GnuTLS session is in https_server.cpp.
#include <string>
#include <vector>

namespace gdr {

struct ClientIdentity {
  std::string commonName;               // the subject's CN, empty when none
  std::vector<std::string> altNames;    // SAN entries: DNS names, IP addresses (text), e-mail, URIs
};

// True when the subject CN or any SAN entry equals an entry of `allowed`
// exactly (case-sensitive; no wildcards: an allow-list names clients).
bool clientAllowed(const ClientIdentity& identity, const std::vector<std::string>& allowed);

// "CN=gdr-engine, SAN=[127.0.0.1, engine.lab]" for log lines.
std::string describe(const ClientIdentity& identity);

}  // namespace gdr
