#include "deploy/migrations.h"

#include <algorithm>
#include <map>

#include "pipeline/parser.h"

namespace boucle::deploy {

std::optional<pipeline::Migration> migrationOf(const store::Release& release) {
  auto parsed = pipeline::parsePipeline(release.pipeline);
  if (!parsed.ok() || !parsed.pipeline.deploy) return std::nullopt;
  return parsed.pipeline.deploy->migrate;
}

std::vector<ReleaseMigration> appliedMigrations(const std::vector<ReleaseMigration>& deployed) {
  std::vector<ReleaseMigration> applied;
  for (const auto& r : deployed) {
    // Going back to r took off what was newer; going forward to it added its own.
    while (!applied.empty() && applied.back().id > r.id) applied.pop_back();
    if (r.migrate && (applied.empty() || applied.back().id < r.id)) applied.push_back(r);
  }
  return applied;
}

MigrationPlan planMigrations(const std::vector<ReleaseMigration>& applied,
                             const std::optional<ReleaseMigration>& current,
                             const ReleaseMigration& to) {
  MigrationPlan plan;
  plan.back = current && to.id < current->id;
  if (!plan.back) {
    // A release deployed again migrates again: migration tools do nothing when nothing is due,
    // and a blank environment's database may be new.
    if (to.migrate) plan.up = MigrationPlan::Step{to.version, to.migrate->up};
    return plan;
  }
  for (auto it = applied.rbegin(); it != applied.rend() && it->id > to.id; ++it) {
    if (it->migrate->down.empty()) {
      plan.irreversible.push_back(it->version);
    } else {
      plan.downs.push_back({it->version, it->migrate->down});
    }
  }
  return plan;
}

std::vector<std::string> MigrationPlan::describe() const {
  std::vector<std::string> lines;
  if (up) lines.push_back("migrate up: " + up->command + " (in releases/" + up->version + ")");
  for (const auto& d : downs) {
    lines.push_back("undo " + d.version + "'s migration: " + d.command + " (in releases/" +
                    d.version + ")");
  }
  for (const auto& v : irreversible) {
    lines.push_back(v + "'s migration is irreversible: its database changes stay");
  }
  if (back && downs.empty() && irreversible.empty()) {
    lines.push_back("no migration to undo: none applied here is newer than this release");
  }
  return lines;
}

std::string MigrationPlan::irreversibleNames() const {
  std::string names;
  for (const auto& v : irreversible) names += (names.empty() ? "" : ", ") + v;
  return names;
}

std::string MigrationPlan::refusal(const std::string& env, const std::string& from,
                                   const std::string& to) const {
  if (irreversible.empty()) return "";
  return "going back from " + from + " to " + to + " in " + env + " crosses " +
         irreversibleNames() +
         (irreversible.size() > 1 ? ", whose migrations are" : ", whose migration is") +
         " irreversible (no 'down'); nothing was touched. Force it with a reason (--force "
         "REASON) to go back anyway, the database keeping those changes";
}

Result<MigrationPlan> planMigrations(store::Store& store, const std::string& project,
                                     const std::string& env, const store::Release& to,
                                     int64_t exceptDeploy) {
  auto list = store.listDeploys(project, env, 1000);
  if (!list.ok()) return list.status();
  std::map<std::string, ReleaseMigration> known;
  auto describe = [&](const std::string& version) -> Result<ReleaseMigration> {
    if (auto it = known.find(version); it != known.end()) return it->second;
    auto r = store.getRelease(project, version);
    if (!r.ok()) return r.status();
    ReleaseMigration m{r->id, r->version, migrationOf(*r)};
    known.emplace(version, m);
    return m;
  };
  std::vector<ReleaseMigration> deployed;  // newest first, as listed
  for (const auto& d : *list) {
    if (d.id == exceptDeploy || d.dryRun || d.state != store::DeployState::kSucceeded) continue;
    auto m = describe(d.version);
    if (!m.ok()) return m.status();
    deployed.push_back(*m);
  }
  std::optional<ReleaseMigration> current;
  if (!deployed.empty()) current = deployed.front();
  std::reverse(deployed.begin(), deployed.end());
  return planMigrations(appliedMigrations(deployed), current,
                        ReleaseMigration{to.id, to.version, migrationOf(to)});
}

}  // namespace boucle::deploy
