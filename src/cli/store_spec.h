#pragma once
// Which database a data folder's server uses. A server started with --db leaves the spec in
// DATA/database (it holds no password: those are refused), so the commands an operator runs on
// the folder (fsck, admin-token) reach the same database without being told again.

#include <filesystem>
#include <string>

#include "core/status.h"

namespace boucle::cli {

// `given` when set, else DATA/database's spec, else sqlite:DATA/boucle.db.
std::string storeSpecFor(const std::filesystem::path& data, const std::string& given);

// Records `given` in DATA/database, or removes that file when the server uses the default.
Status rememberStoreSpec(const std::filesystem::path& data, const std::string& given);

}  // namespace boucle::cli
