#include "vault/retention.h"

#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "vault/blob_store.h"

namespace boucle::vault {
namespace fs = std::filesystem;

namespace {

void addShas(const std::vector<std::string>& manifests, std::set<std::string>& out) {
  for (const auto& m : manifests) {
    auto list = nlohmann::json::parse(m, nullptr, false);
    if (!list.is_array()) continue;
    for (const auto& a : list) {
      if (a.is_object() && a.contains("sha256") && a["sha256"].is_string()) {
        out.insert(a["sha256"].get<std::string>());
      }
    }
  }
}

struct Blob {
  std::string sha;
  fs::path path;
  uint64_t size = 0;
  int64_t mtimeMs = 0;
};

}  // namespace

Result<PruneReport> pruneBlobs(store::Store& store, const fs::path& blobRoot,
                               const RetentionPolicy& policy, int64_t nowMs, Millis grace) {
  PruneReport report;
  if (!policy.maxAge && !policy.maxBytes) return report;
  std::set<std::string> released, recent;
  auto rel = store.releasedArtifactManifests();
  if (!rel.ok()) return rel.status();
  addShas(*rel, released);
  int64_t since = policy.maxAge ? nowMs - policy.maxAge->count() : 0;
  auto rec = store.recentArtifactManifests(since);
  if (!rec.ok()) return rec.status();
  addShas(*rec, recent);

  std::vector<Blob> blobs;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(blobRoot / "sha256", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string name = it->path().filename().string();
    if (!isSha256Hex(name)) continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0) continue;
    int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
    blobs.push_back({name, it->path(), static_cast<uint64_t>(st.st_size), mtime});
  }
  std::sort(blobs.begin(), blobs.end(),
            [](const Blob& a, const Blob& b) { return a.mtimeMs < b.mtimeMs; });
  uint64_t total = 0;
  for (const auto& b : blobs) total += b.size;
  auto removable = [&](const Blob& b) {
    return !released.count(b.sha) && b.mtimeMs < nowMs - grace.count();
  };
  auto remove = [&](const Blob& b) {
    if (::unlink(b.path.c_str()) != 0) return;
    ++report.removed;
    report.bytesFreed += b.size;
    total -= b.size;
  };
  std::vector<bool> gone(blobs.size(), false);
  if (policy.maxAge) {
    for (size_t i = 0; i < blobs.size(); ++i) {
      if (removable(blobs[i]) && !recent.count(blobs[i].sha)) {
        remove(blobs[i]);
        gone[i] = true;
      }
    }
  }
  if (policy.maxBytes) {
    // Oldest first, recent runs' artifacts included, released ones never.
    for (size_t i = 0; i < blobs.size() && total > *policy.maxBytes; ++i) {
      if (!gone[i] && removable(blobs[i])) {
        remove(blobs[i]);
        gone[i] = true;
      }
    }
  }
  report.bytesLeft = total;
  return report;
}

}  // namespace boucle::vault
