#pragma once
// What a deploy does to the environment's database: the `down` of each release whose
// migration is applied there and is newer than the release coming (newest first), then the
// coming release's own `up`. Releases are ordered as they were made.
//
// What is applied is kept per environment (store::AppliedMigration): a release's migration is
// recorded when its `up` ends and taken off when its `down` does, so that a release that
// never ran here never counts, a migration a rollback undid is not undone twice, and a deploy
// that failed after migrating still counts.

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

namespace boucle::deploy {

// A release as migrations see it: its place in the order releases were made, and what its
// pipeline file's `deploy.migrate` says.
struct ReleaseMigration {
  int64_t id = 0;
  std::string version;
  std::optional<pipeline::Migration> migrate;
};

struct MigrationPlan {
  struct Step {
    int64_t releaseId = 0;
    std::string version;  // the release whose command it is, run in that release's folder
    std::string command;
  };
  std::vector<Step> downs;                // newest first
  std::vector<std::string> irreversible;  // applied, newer, and cannot be undone: in the way
  std::optional<Step> up;                 // the coming release's own, before its steps
  bool upIsNew = false;  // its migration was not applied here before: a failed deploy undoes it

  std::string irreversibleNames() const;  // "0.3.0, 0.5.0"
  // Lines for the deploy's log and its dry run: what would run and where, what stands in the
  // way.
  std::vector<std::string> describe() const;
  // Why going back is refused ("" when it is not): names each irreversible release.
  std::string refusal(const std::string& env, const std::string& from, const std::string& to) const;
};

// Going to `to` with `applied` (oldest release first) in place.
MigrationPlan planMigrations(const std::vector<ReleaseMigration>& applied,
                             const ReleaseMigration& to);

// The same, read from the store: the environment's applied migrations and the releases'
// pipeline files. A release whose migration cannot be read counts as irreversible.
Result<MigrationPlan> planMigrations(store::Store& store, const std::string& project,
                                     const std::string& env, const store::Release& to);

// The release's `deploy.migrate` (nullopt when none, or when its file does not parse).
std::optional<pipeline::Migration> migrationOf(const store::Release& release);

}  // namespace boucle::deploy
