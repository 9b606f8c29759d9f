#pragma once
// Retention: artifacts of runs nobody released are pruned after an age or beyond a total size,
// as Jenkins' "discard old builds" does; a blob any release points at is never removed, and
// neither is one a recent or unfinished run uses. Blobs are shared by content, so a blob goes
// only when nothing that must be kept refers to it.

#include <cstdint>
#include <filesystem>
#include <optional>

#include "core/duration.h"
#include "core/status.h"
#include "store/store.h"

namespace boucle::vault {

struct RetentionPolicy {
  std::optional<Millis> maxAge;      // unreleased artifacts of runs finished longer ago go
  std::optional<uint64_t> maxBytes;  // then the oldest unreleased ones go until under this
};

struct PruneReport {
  size_t removed = 0;
  uint64_t bytesFreed = 0;
  uint64_t bytesLeft = 0;
};

// A blob stored (or stored again) within `grace` of `nowMs` is never removed: its job may not
// be recorded yet.
Result<PruneReport> pruneBlobs(store::Store& store, const std::filesystem::path& blobRoot,
                               const RetentionPolicy& policy, int64_t nowMs,
                               Millis grace = std::chrono::hours(1));

}  // namespace boucle::vault
