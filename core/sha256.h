#pragma once
// SHA-256 over OpenSSL's EVP, with the context held by RAII.
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace gdr {

class Sha256 {
 public:
  Sha256();
  void update(const char* data, size_t length);
  void update(std::string_view text) { update(text.data(), text.size()); }
  // The digest in lowercase hex; the object is spent afterwards.
  std::string hex();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

// The lowercase hex SHA-256 of `text`.
std::string sha256Hex(std::string_view text);

}  // namespace gdr
