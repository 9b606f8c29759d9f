#pragma once
// Making a release: a passing run's commit and artifacts pinned under a version, with notes
// generated from the commits since the previous release. Releases are never changed after.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace boucle::vault {

struct ReleaseRequest {
  std::string project;
  std::optional<int64_t> fromRun;  // default: the project's newest passing run
  std::string version;             // default: a semver tag on the commit, else the next one
  std::string actor;               // who asked (a token's name), for the record
};

// Conflict when the run did not pass, the version exists or is not after the latest release,
// or nothing changed since it; Invalid for a malformed version; NotFound for a missing run.
// `mirror`: the project's repository mirror (commits, tags and the pipeline file are read
// there). Conflict too when an artifact's blob is no longer in `blobRoot` (pruned): a release
// never points at content that is gone.
Result<store::Release> createRelease(store::Store& store, const std::filesystem::path& mirror,
                                     const std::filesystem::path& blobRoot,
                                     const ReleaseRequest& request);

}  // namespace boucle::vault
