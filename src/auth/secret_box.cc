#include "auth/secret_box.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "core/encoding.h"
#include "os/files.h"

namespace boucle::auth {

static_assert(crypto_secretbox_KEYBYTES == 32);

Result<SecretBox> SecretBox::openOrCreate(const std::filesystem::path& keyFile,
                                          const std::filesystem::path& seed) {
  if (sodium_init() < 0) return Status::Internal("libsodium could not start");
  SecretBox box;
  std::error_code ec;
  std::optional<std::string> seeded;
  if (!seed.empty() && std::filesystem::exists(seed, ec)) {
    auto text = os::readFile(seed);
    if (!text.ok()) return text.status();
    if (text->size() != box.key_.size())
      return Status::Invalid(seed.string() + ": not a boucle secret key");
    seeded = std::move(text).value();
  }
  if (!std::filesystem::exists(keyFile, ec)) {
    std::string bytes;
    if (seeded) {
      bytes = *seeded;
    } else {
      crypto_secretbox_keygen(box.key_.data());
      bytes.assign(box.key_.begin(), box.key_.end());
    }
    // Written aside, then linked in: a link never replaces a key another server put there.
    auto tmp = keyFile;
    tmp += ".new-" + std::to_string(::getpid()) + "-" + std::to_string(randombytes_random());
    if (auto st = os::writeFileAtomic(tmp, bytes, 0600); !st.ok()) return st;
    int linked = ::link(tmp.c_str(), keyFile.c_str());
    int err = errno;
    std::filesystem::remove(tmp, ec);
    if (linked != 0 && err != EEXIST)
      return Status::Io(keyFile.string() + ": " + std::strerror(err));
  }
  auto text = os::readFile(keyFile);
  if (!text.ok()) return text.status();
  if (text->size() != box.key_.size()) {
    return Status::Invalid(keyFile.string() + ": not a boucle secret key (" +
                           std::to_string(text->size()) + " bytes, expected 32)");
  }
  // A seed that is not the key in use sealed credentials this key cannot open: said now, not
  // at the first fetch that fails.
  if (seeded && *seeded != *text) {
    return Status::Invalid(seed.string() + " is not the key in " + keyFile.string() +
                           ": the credentials it sealed would not open. Keep one key: copy the "
                           "one that sealed this database's credentials over the other");
  }
  std::copy(text->begin(), text->end(), box.key_.begin());
  return box;
}

std::string SecretBox::seal(std::string_view plain) const {
  std::vector<unsigned char> out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 plain.size());
  randombytes_buf(out.data(), crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(out.data() + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                        out.data(), key_.data());
  return base64Of(out.data(), out.size());
}

Result<std::string> SecretBox::unseal(std::string_view sealed) const {
  if (sealed.empty()) return Status::Invalid("a stored secret is damaged");
  std::vector<unsigned char> bin(sealed.size());
  size_t len = 0;
  if (sodium_base642bin(bin.data(), bin.size(), sealed.data(), sealed.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return Status::Invalid("a stored secret is damaged");
  }
  std::string plain(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 bin.data() + crypto_secretbox_NONCEBYTES,
                                 len - crypto_secretbox_NONCEBYTES, bin.data(), key_.data()) != 0) {
    return Status::Invalid("a stored secret cannot be opened with this server's key");
  }
  return plain;
}

}  // namespace boucle::auth
