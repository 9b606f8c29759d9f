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

TEST(Migrations, ForwardRunsTheReleasesOwnUpAndSaysWhetherItIsNew) {
  auto plan = planMigrations({reversible(1)}, reversible(2));
  EXPECT_TRUE(plan.downs.empty());
  ASSERT_TRUE(plan.up);
  EXPECT_EQ(plan.up->command, "up 1.2.0");
  EXPECT_TRUE(plan.upIsNew);
  // Deployed again: it migrates again (nothing is due), and a failure would not undo it.
  auto again = planMigrations({reversible(2)}, reversible(2));
  ASSERT_TRUE(again.up);
  EXPECT_FALSE(again.upIsNew);
  auto none = planMigrations({}, plain(1));
  EXPECT_FALSE(none.up);
  EXPECT_TRUE(none.downs.empty());
}

TEST(Migrations, GoingBackUndoesTheNewerAppliedMigrationsNewestFirst) {
  auto plan = planMigrations({reversible(2), reversible(4)}, plain(1));
  ASSERT_EQ(plan.downs.size(), 2u);
  EXPECT_EQ(plan.downs[0].command, "down 1.4.0");
  EXPECT_EQ(plan.downs[1].command, "down 1.2.0");
  EXPECT_FALSE(plan.up);
  EXPECT_EQ(plan.refusal("prod", "1.4.0", "1.1.0"), "");
  // Back to 2 keeps 2's own migration, and runs its up again.
  auto toTwo = planMigrations({reversible(2), reversible(4)}, reversible(2));
  ASSERT_EQ(toTwo.downs.size(), 1u);
  EXPECT_EQ(toTwo.downs[0].version, "1.4.0");
  ASSERT_TRUE(toTwo.up);
  EXPECT_FALSE(toTwo.upIsNew);
}

TEST(Migrations, GoingBackPastAnIrreversibleMigrationIsRefusedAndSaysWhich) {
  auto plan = planMigrations({irreversible(2), reversible(3)}, plain(1));
  EXPECT_EQ(plan.irreversible, (std::vector<std::string>{"1.2.0"}));
  ASSERT_EQ(plan.downs.size(), 1u);
  std::string why = plan.refusal("prod", "1.3.0", "1.1.0");
  EXPECT_NE(why.find("crosses 1.2.0, whose migration is irreversible"), std::string::npos) << why;
  EXPECT_NE(why.find("--force"), std::string::npos);
  // Above it, nothing stands in the way.
  EXPECT_TRUE(
      planMigrations({irreversible(2), reversible(3)}, irreversible(2)).irreversible.empty());
  // A release whose migration cannot be read any more is not trusted to be undoable.
  EXPECT_EQ(planMigrations({plain(5)}, plain(1)).irreversible, (std::vector<std::string>{"1.5.0"}));
}

TEST(Migrations, GoingBackToAReleaseThatNeverRanHereAppliesItsOwn) {
  auto plan = planMigrations({reversible(4)}, reversible(3));
  ASSERT_EQ(plan.downs.size(), 1u);
  ASSERT_TRUE(plan.up);
  EXPECT_EQ(plan.up->version, "1.3.0");
  EXPECT_TRUE(plan.upIsNew);
  auto lines = plan.describe();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "undo 1.4.0's migration: down 1.4.0 (in releases/1.4.0)");
  EXPECT_EQ(lines[1], "migrate up: up 1.3.0 (in releases/1.3.0)");
}

}  // namespace
}  // namespace boucle::deploy
