#include "auth/initial_token.h"

#include <unistd.h>

#include "auth/roles.h"
#include "auth/tokens.h"
#include "os/files.h"

namespace boucle::auth {
namespace fs = std::filesystem;

Result<std::string> ensureInitialAdminToken(store::Store& store, const fs::path& data) {
  auto n = store.countTokens();
  if (!n.ok()) return n.status();
  if (*n > 0) return std::string();
  auto token = newAdminToken(store, kInitialTokenName, "");
  if (!token.ok()) return token.status();
  if (auto st = os::writeFileAtomic(data / kInitialTokenFile, *token + "\n", 0600); !st.ok()) {
    return st;
  }
  return token;
}

Result<bool> retireInitialTokenFile(store::Store& store, const fs::path& data) {
  fs::path file = data / kInitialTokenFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return false;
  auto tokens = store.listTokens();
  if (!tokens.ok()) return tokens.status();
  bool another = false;
  for (const auto& t : *tokens) {
    auto roles = parseRoles(t.role);
    another =
        another || (t.name != kInitialTokenName && roles.ok() && Principal{t.name, *roles}.admin());
  }
  if (!another) return false;
  if (::unlink(file.c_str()) != 0 && errno != ENOENT)
    return errnoStatus("rm " + file.string(), errno);
  return true;
}

Result<std::string> newAdminToken(store::Store& store, const std::string& name,
                                  const std::string& createdBy) {
  std::string token = newToken();
  store::Token t = store::tokenNamed(name, "admin");
  t.createdBy = createdBy;
  if (auto added = store.addToken(t, hashToken(token)); !added.ok()) return added.status();
  return token;
}

}  // namespace boucle::auth
