#include "auth/passwords.h"

#include <sodium.h>

namespace boucle::auth {

namespace {

// Interactive limits (2 passes over 64 MiB): about 0.1 s a check on our machines, a few MB of
// work per guess for an attacker with the database.
constexpr unsigned long long kOps = crypto_pwhash_OPSLIMIT_INTERACTIVE;
constexpr size_t kMem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

// Made once, for a password nobody knows: what a check of an unknown name is run against.
const std::string& decoy() {
  static const std::string text = [] {
    unsigned char random[24];
    randombytes_buf(random, sizeof random);
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, reinterpret_cast<const char*>(random), sizeof random, kOps, kMem,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
      return std::string();
    return std::string(out);
  }();
  return text;
}

}  // namespace

std::string passwordProblem(std::string_view password) {
  if (password.size() < 10) return "a password has at least 10 characters";
  if (password.size() > 1024) return "a password has at most 1024 bytes";
  return "";
}

Result<std::string> hashPassword(std::string_view password) {
  if (auto problem = passwordProblem(password); !problem.empty()) return Status::Invalid(problem);
  if (sodium_init() < 0) return Status::Internal("libsodium cannot start");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kOps, kMem,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Status::Internal("not enough memory to hash a password");
  return std::string(out);
}

bool checkPassword(std::string_view stored, std::string_view password) {
  if (sodium_init() < 0) return false;
  bool known = !stored.empty() && stored.size() < crypto_pwhash_STRBYTES;
  std::string text(known ? stored : std::string_view(decoy()));
  bool match = crypto_pwhash_str_verify(text.c_str(), password.data(), password.size()) == 0;
  return known && match;
}

}  // namespace boucle::auth
