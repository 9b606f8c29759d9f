#pragma once
// What a deploy does to the environment's database: the release's own `migrate.up` when it
// moves forward, or, when it goes back, the `down` of each release whose migration is applied
// there and newer than where it goes, newest first. Releases are ordered as they were made.
//
// What is applied is read from the environment's deploys: each succeeded deploy forward adds
// its release's migration, each one back takes off those newer than its release. A release
// that never ran here never migrated here, and a migration undone by a rollback is not undone
// twice.

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
    std::string version;  // the release whose command it is, run in that release's folder
    std::string command;
  };
  bool back = false;                      // the deploy goes to an older release
  std::optional<Step> up;                 // forward: the release's own, before its steps
  std::vector<Step> downs;                // back: newest first
  std::vector<std::string> irreversible;  // back past these, whose migration cannot be undone

  bool empty() const { return !up && downs.empty() && irreversible.empty(); }
  std::string irreversibleNames() const;  // "0.3.0, 0.5.0"
  // Lines for the deploy's log and its dry run: what would run, where, and what stands in the
  // way.
  std::vector<std::string> describe() const;
  // Why going back is refused ("" when it is not): names each irreversible release.
  std::string refusal(const std::string& env, const std::string& from, const std::string& to) const;
};

// The migrations applied after these succeeded deploys (oldest first), newest last.
std::vector<ReleaseMigration> appliedMigrations(const std::vector<ReleaseMigration>& deployed);

// Going from `current` (nullopt: nothing runs there) to `to`, with `applied` in place.
MigrationPlan planMigrations(const std::vector<ReleaseMigration>& applied,
                             const std::optional<ReleaseMigration>& current,
                             const ReleaseMigration& to);

// The same, read from the store: the environment's deploys and the releases' pipeline files.
// `exceptDeploy`: the deploy being planned, left out of the history.
Result<MigrationPlan> planMigrations(store::Store& store, const std::string& project,
                                     const std::string& env, const store::Release& to,
                                     int64_t exceptDeploy = 0);

// The release's `deploy.migrate` (nullopt when none, or when its file does not parse).
std::optional<pipeline::Migration> migrationOf(const store::Release& release);

}  // namespace boucle::deploy
