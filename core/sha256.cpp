#include "core/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace gdr {

void Sha256::Free::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256: OpenSSL cannot make a digest context");
  }
}

void Sha256::update(const char* data, size_t length) { EVP_DigestUpdate(ctx_.get(), data, length); }

std::string Sha256::hex() {
  unsigned char sum[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx_.get(), sum, &size);
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < size; ++i) {
    text += digits[sum[i] >> 4];
    text += digits[sum[i] & 15];
  }
  return text;
}

std::string sha256Hex(std::string_view text) {
  Sha256 digest;
  digest.update(text);
  return digest.hex();
}

}  // namespace gdr
