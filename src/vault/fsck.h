#pragma once
// The whole vault checked, as `boucle fsck DATA` does: every blob hashed again against its
// name, every release's artifacts present, and the database's own integrity check. Read-only:
// it may run beside a server.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace boucle::vault {

struct VaultCheck {
  uint64_t blobs = 0, bytes = 0;
  std::vector<std::string> corrupt;  // blob files whose content does not match their name
  std::vector<std::string> missing;  // "PROJECT VERSION NAME (sha)" of releases
  std::string database = "ok";       // SQLite's integrity check
  bool clean() const { return corrupt.empty() && missing.empty() && database == "ok"; }
};

// `progress(blobsDone, bytesDone)` after each blob.
Result<VaultCheck> checkVault(store::Store& store, const std::filesystem::path& blobRoot,
                              const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace boucle::vault
