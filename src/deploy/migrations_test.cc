#include "deploy/migrations.h"

#include <gtest/gtest.h>

namespace boucle::deploy {
namespace {

ReleaseMigration plain(int64_t id) {
  return {id, "1." + std::to_string(id) + ".0", std::nullopt};
}

ReleaseMigration reversible(int64_t id) {
  auto r = plain(id);
  r.migrate = pipeline::Migration{"up " + r.version, "down " + r.version, false, {}};
  return r;
}

ReleaseMigration irreversible(int64_t id) {
  auto r = plain(id);
  r.migrate = pipeline::Migration{"up " + r.version, "", true, {}};
  return r;
}

std::vector<std::string> versions(const std::vector<ReleaseMigration>& list) {
  std::vector<std::string> out;
  for (const auto& r : list) out.push_back(r.version);
  return out;
}

TEST(Migrations, ForwardDeploysAddTheirMigrationAndGoingBackTakesOffTheNewerOnes) {
  // 1 → 2 (migrates) → 3 → 4 (migrates) → back to 3 → 5 (migrates)
  auto applied = appliedMigrations(
      {plain(1), reversible(2), plain(3), reversible(4), plain(3), reversible(5)});
  EXPECT_EQ(versions(applied), (std::vector<std::string>{"1.2.0", "1.5.0"}));
}

TEST(Migrations, TheSameReleaseDeployedTwiceIsAppliedOnce) {
  auto applied = appliedMigrations({reversible(2), reversible(2)});
  EXPECT_EQ(versions(applied), (std::vector<std::string>{"1.2.0"}));
}

TEST(Migrations, ForwardRunsTheReleasesOwnUpEvenWhenDeployedAgain) {
  auto plan = planMigrations({}, plain(1), reversible(2));
  EXPECT_FALSE(plan.back);
  ASSERT_TRUE(plan.up);
  EXPECT_EQ(plan.up->command, "up 1.2.0");
  auto again = planMigrations({reversible(2)}, reversible(2), reversible(2));
  ASSERT_TRUE(again.up);
  EXPECT_TRUE(again.downs.empty());
  EXPECT_TRUE(planMigrations({}, std::nullopt, plain(1)).empty());
}

TEST(Migrations, GoingBackUndoesTheNewerAppliedMigrationsNewestFirst) {
  auto applied = appliedMigrations({plain(1), reversible(2), plain(3), reversible(4)});
  auto plan = planMigrations(applied, reversible(4), plain(1));
  EXPECT_TRUE(plan.back);
  EXPECT_FALSE(plan.up);
  ASSERT_EQ(plan.downs.size(), 2u);
  EXPECT_EQ(plan.downs[0].command, "down 1.4.0");
  EXPECT_EQ(plan.downs[1].command, "down 1.2.0");
  EXPECT_EQ(plan.refusal("prod", "1.4.0", "1.1.0"), "");
  // Back to 2 keeps 2's own migration.
  auto toTwo = planMigrations(applied, reversible(4), reversible(2));
  ASSERT_EQ(toTwo.downs.size(), 1u);
  EXPECT_EQ(toTwo.downs[0].version, "1.4.0");
}

TEST(Migrations, GoingBackPastAnIrreversibleMigrationIsRefusedAndSaysWhich) {
  auto applied = appliedMigrations({plain(1), irreversible(2), reversible(3)});
  auto plan = planMigrations(applied, reversible(3), plain(1));
  EXPECT_EQ(plan.irreversible, (std::vector<std::string>{"1.2.0"}));
  ASSERT_EQ(plan.downs.size(), 1u);
  std::string why = plan.refusal("prod", "1.3.0", "1.1.0");
  EXPECT_NE(why.find("crosses 1.2.0, whose migration is irreversible"), std::string::npos) << why;
  EXPECT_NE(why.find("--force"), std::string::npos);
  // Above it, nothing stands in the way.
  EXPECT_TRUE(planMigrations(applied, reversible(3), irreversible(2)).irreversible.empty());
}

TEST(Migrations, AReleaseThatNeverRanHereIsNotUndone) {
  // 1 → 3 directly: 2's migration never ran here.
  auto applied = appliedMigrations({plain(1), plain(3)});
  auto plan = planMigrations(applied, plain(3), plain(1));
  EXPECT_TRUE(plan.back);
  EXPECT_TRUE(plan.downs.empty());
  EXPECT_TRUE(plan.irreversible.empty());
  auto lines = plan.describe();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("no migration to undo"), std::string::npos);
}

TEST(Migrations, AMigrationUndoneByARollbackIsNotUndoneTwice) {
  // 1 → 2 (migrates) → back to 1 (2's undone) → 3: going back to 1 undoes nothing of 2's.
  auto applied = appliedMigrations({plain(1), reversible(2), plain(1), plain(3)});
  auto plan = planMigrations(applied, plain(3), plain(1));
  EXPECT_TRUE(plan.back);
  EXPECT_TRUE(plan.downs.empty());
}

}  // namespace
}  // namespace boucle::deploy
