#pragma once
// Secrets at rest: sealed with libsodium's secretbox (XSalsa20-Poly1305) under a key kept in
// the data folder (DATA/secret.key, mode 0600, made at first start), so a copy of the database
// alone reveals no token or private key.

#include <array>
#include <filesystem>
#include <string>

#include "core/status.h"

namespace boucle::auth {

class SecretBox {
 public:
  // Reads the key file, or creates it when it does not exist. A missing key file is made with
  // `seed`'s key when that file exists (a data folder moving to a shared one), else a new one.
  // Servers starting at once on one shared folder all end up with the one key that was written
  // first.
  static Result<SecretBox> openOrCreate(const std::filesystem::path& keyFile,
                                        const std::filesystem::path& seed = {});

  // base64 of nonce + ciphertext; a fresh nonce each time.
  std::string seal(std::string_view plain) const;
  // Invalid when the text was not sealed with this key (or was altered).
  Result<std::string> unseal(std::string_view sealed) const;

 private:
  std::array<unsigned char, 32> key_{};
};

}  // namespace boucle::auth
