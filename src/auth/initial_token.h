#pragma once
// The server's first admin token, as Jenkins does with its initial admin password: made at the
// first start, shown once and left in DATA/initial-admin-token (0600) so that the operator can
// sign in. The file goes as soon as another admin token exists: a copy of an admin token on
// disk is one more thing to steal. An operator with shell access to DATA makes a new admin
// token with `boucle admin-token --data DATA` (newAdminToken).

#include <filesystem>
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace boucle::auth {

inline constexpr const char* kInitialTokenName = "initial admin token";
inline constexpr const char* kInitialTokenFile = "initial-admin-token";

// When the store has no token at all: makes the initial one, writes its file, and returns it
// ("" when tokens existed already).
Result<std::string> ensureInitialAdminToken(store::Store& store, const std::filesystem::path& data);
// Removes DATA/initial-admin-token when an admin token other than the initial one exists.
// Returns whether the file was removed.
Result<bool> retireInitialTokenFile(store::Store& store, const std::filesystem::path& data);
// A new admin token named `name` (its hash stored, the token returned once).
Result<std::string> newAdminToken(store::Store& store, const std::string& name,
                                  const std::string& createdBy);

}  // namespace boucle::auth
