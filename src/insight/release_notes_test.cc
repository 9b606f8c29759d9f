#include "insight/release_notes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace boucle::insight {
namespace {

using ::testing::HasSubstr;

TEST(Conventional, ReadsTypeScopeBangAndFooter) {
  auto c = parseConventional("feat(api)!: drop v1 routes\n\nbody");
  EXPECT_EQ(c.type, "feat");
  EXPECT_EQ(c.scope, "api");
  EXPECT_EQ(c.description, "drop v1 routes");
  EXPECT_TRUE(c.breaking);

  c = parseConventional("fix: off by one\n\nBREAKING CHANGE: limits now count from 1\nsee #4");
  EXPECT_EQ(c.type, "fix");
  EXPECT_TRUE(c.breaking);
  EXPECT_EQ(c.breakingNote, "limits now count from 1 see #4");

  c = parseConventional("Fix: capitalised types count too");
  EXPECT_EQ(c.type, "fix");
}

TEST(Conventional, OtherSubjectsAreKeptWhole) {
  EXPECT_EQ(parseConventional("feat: ").type, "") << "no description";
  for (const char* m : {"Update README", "feat:no space", "feat(: x", "wip", ": nothing",
                        "mention BREAKING CHANGE: inside a line"}) {
    auto c = parseConventional(m);
    EXPECT_EQ(c.type, "") << m;
    EXPECT_FALSE(c.breaking) << m;
    EXPECT_EQ(c.description, m);
  }
}

TEST(ReleaseNotes, TheBiggestChangeDecidesTheBump) {
  EXPECT_EQ(bumpFor({}), Bump::kNone);
  EXPECT_EQ(bumpFor({{"a", "x", "chore: deps"}, {"b", "x", "docs"}}), Bump::kPatch);
  EXPECT_EQ(bumpFor({{"a", "x", "fix: y"}, {"b", "x", "feat: z"}}), Bump::kMinor);
  EXPECT_EQ(bumpFor({{"a", "x", "feat: z"}, {"b", "x", "refactor!: w"}}), Bump::kMajor);
}

TEST(ReleaseNotes, GroupsChangesWithBreakingOnesFirst) {
  std::string md = notesMarkdown("1.3.0", "2026-11-26",
                                 {{"aaaaaaa111", "Ada", "feat(ui): dark mode"},
                                  {"bbbbbbb222", "Bob", "fix: crash on empty log"},
                                  {"ccccccc333", "Eve", "Tidy up"},
                                  {"ddddddd444", "Ada", "feat!: new config format"}});
  EXPECT_THAT(md, HasSubstr("## 1.3.0 (2026-11-26)\n"));
  EXPECT_THAT(md, HasSubstr("### Breaking changes\n\n- new config format (ddddddd)\n"));
  EXPECT_THAT(md, HasSubstr("- **ui**: dark mode (aaaaaaa, Ada)\n"));
  EXPECT_THAT(md, HasSubstr("### Fixes\n\n- crash on empty log (bbbbbbb, Bob)\n"));
  EXPECT_THAT(md, HasSubstr("### Other changes\n\n- Tidy up (ccccccc, Eve)\n"));
  EXPECT_LT(md.find("Breaking"), md.find("### Features"));
  EXPECT_LT(md.find("### Features"), md.find("### Fixes"));
  EXPECT_THAT(notesMarkdown("1.0.0", "d", {}), HasSubstr("No changes"));
}

}  // namespace
}  // namespace boucle::insight
