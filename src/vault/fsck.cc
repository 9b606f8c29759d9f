#include "vault/fsck.h"

#include <nlohmann/json.hpp>

#include "vault/blob_store.h"

namespace boucle::vault {
namespace fs = std::filesystem;

Result<VaultCheck> checkVault(store::Store& store, const fs::path& blobRoot,
                              const std::function<void(uint64_t, uint64_t)>& progress) {
  VaultCheck c;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(blobRoot / "sha256", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    auto got = hashFile(it->path());
    ++c.blobs;
    if (got.ok()) c.bytes += got->size;
    if (!got.ok() || got->sha256 != name) c.corrupt.push_back(it->path().string());
    if (progress) progress(c.blobs, c.bytes);
  }
  BlobStore blobs(blobRoot);
  auto projects = store.listProjects();
  if (!projects.ok()) return projects.status();
  for (const auto& p : *projects) {
    auto releases = store.listReleases(p.name, 100000);
    if (!releases.ok()) return releases.status();
    for (const auto& r : *releases) {
      for (const auto& a : nlohmann::json::parse(r.artifactsJson, nullptr, false)) {
        if (!a.is_object()) continue;
        std::string sha = a.value("sha256", "");
        if (!blobs.contains(sha)) {
          c.missing.push_back(p.name + " " + r.version + " " + a.value("name", "?") + " (" + sha +
                              ")");
        }
      }
    }
  }
  auto integrity = store.integrityCheck();
  if (!integrity.ok()) return integrity.status();
  c.database = *integrity;
  return c;
}

}  // namespace boucle::vault
