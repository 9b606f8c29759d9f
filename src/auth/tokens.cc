#include "auth/tokens.h"

#include <sodium.h>

#include <stdexcept>
#include <vector>

#include "core/encoding.h"

namespace boucle::auth {

namespace {
// libsodium rather than OpenSSL for tokens and their hashes: OpenSSL 3's first use loads its
// providers (megabytes of resident memory), which the server then only needs for artifacts.
std::vector<unsigned char> randomBytes(size_t n) {
  static const bool ready = sodium_init() >= 0;
  if (!ready) {
    // No randomness means no safe token: a start-up failure, not something to paper over.
    throw std::runtime_error("the system's random number generator failed");
  }
  std::vector<unsigned char> buf(n);
  randombytes_buf(buf.data(), n);
  return buf;
}
}  // namespace

std::string newToken() {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  auto bytes = randomBytes(32);
  std::string out = "bcl_";
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      out += kAlphabet[(acc >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

std::string hashToken(std::string_view token) {
  unsigned char md[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(md, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  return hexOf(md, sizeof md);
}

std::string randomHex(size_t bytes) {
  auto b = randomBytes(bytes);
  return hexOf(b.data(), b.size());
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace boucle::auth
