#include "deploy/migrations.h"

#include "pipeline/parser.h"

namespace boucle::deploy {

std::optional<pipeline::Migration> migrationOf(const store::Release& release) {
  auto parsed = pipeline::parsePipeline(release.pipeline);
  if (!parsed.ok() || !parsed.pipeline.deploy) return std::nullopt;
  return parsed.pipeline.deploy->migrate;
}

MigrationPlan planMigrations(const std::vector<ReleaseMigration>& applied,
                             const ReleaseMigration& to) {
  MigrationPlan plan;
  bool toApplied = false;
  for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
    if (it->id == to.id) toApplied = true;
    if (it->id <= to.id) continue;
    if (!it->migrate || it->migrate->down.empty()) {
      plan.irreversible.push_back(it->version);
    } else {
      plan.downs.push_back({it->id, it->version, it->migrate->down});
    }
  }
  // Deployed again, a release migrates again: migration tools do nothing when nothing is due,
  // and a blank environment's database may be new.
  if (to.migrate) {
    plan.up = MigrationPlan::Step{to.id, to.version, to.migrate->up};
    plan.upIsNew = !toApplied;
  }
  return plan;
}

std::string MigrationPlan::irreversibleNames() const {
  std::string names;
  for (const auto& v : irreversible) names += (names.empty() ? "" : ", ") + v;
  return names;
}

std::vector<std::string> MigrationPlan::describe() const {
  std::vector<std::string> lines;
  for (const auto& d : downs) {
    lines.push_back("undo " + d.version + "'s migration: " + d.command + " (in releases/" +
                    d.version + ")");
  }
  for (const auto& v : irreversible) {
    lines.push_back(v + "'s migration is irreversible: its database changes stay");
  }
  if (up) {
    lines.push_back("migrate up: " + up->command + " (in releases/" + up->version + ")" +
                    (upIsNew ? "" : ", applied here before"));
  }
  return lines;
}

std::string MigrationPlan::refusal(const std::string& env, const std::string& from,
                                   const std::string& to) const {
  if (irreversible.empty()) return "";
  return "going back from " + (from.empty() ? std::string("what runs") : from) + " to " + to +
         " in " + env + " crosses " + irreversibleNames() +
         (irreversible.size() > 1 ? ", whose migrations are" : ", whose migration is") +
         " irreversible (no 'down'); nothing was touched. Force it with a reason (--force "
         "REASON) to go back anyway, the database keeping those changes";
}

Result<MigrationPlan> planMigrations(store::Store& store, const std::string& project,
                                     const std::string& env, const store::Release& to) {
  auto rows = store.appliedMigrations(project, env);
  if (!rows.ok()) return rows.status();
  std::vector<ReleaseMigration> applied;
  for (const auto& row : *rows) {
    ReleaseMigration m{row.releaseId, row.version, std::nullopt};
    if (auto r = store.getRelease(project, row.version); r.ok()) m.migrate = migrationOf(*r);
    applied.push_back(std::move(m));
  }
  return planMigrations(applied, ReleaseMigration{to.id, to.version, migrationOf(to)});
}

}  // namespace boucle::deploy
