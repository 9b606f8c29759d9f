// The test book on a real SQLite store: flakes found from retries and re-runs, quarantines
// given only to flaky tests and ended by clean runs or expiry, failures that gather on a machine.
#include "quality/test_book.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "core/clock.h"

namespace boucle::quality {
namespace {

namespace fs = std::filesystem;
using runner::Outcome;

constexpr int64_t kDay = int64_t{24} * 3600 * 1000;

runner::TestReport report(std::vector<std::pair<std::string, Outcome>> cases) {
  runner::TestReport r;
  for (auto& [name, outcome] : cases) {
    ++r.tests;
    if (outcome == Outcome::kFailed) {
      ++r.failures;
      r.failed.push_back({"suite", name, "failure", name + " broke", "t.py:1", ""});
    }
    if (outcome == Outcome::kSkipped) ++r.skipped;
    r.cases.push_back({"suite", name, "t.py", outcome, 1500});
  }
  return r;
}

class TestBookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/boucle-book-XXXXXX";
    dir_ = mkdtemp(t);
    auto s = store::openSqliteStore((dir_ / "boucle.db").string());
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    store::Project p;
    p.name = "web";
    p.url = "/srv/web";
    p.branches = {"main"};
    ASSERT_TRUE(store_->addProject(p).ok());
    book_ = std::make_unique<TestBook>(*store_);
  }
  void TearDown() override {
    book_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  store::Run run(const std::string& commit) {
    store::Run r;
    r.project = "web";
    r.ref = r.branch = "main";
    r.commit = commit;
    auto made = store_->createRun(r);
    EXPECT_TRUE(made.ok());
    return *made;
  }
  // One run of `job` on `commit` whose one attempt reported `tests`, on `agent`.
  Recorded once(const std::string& commit, runner::TestReport tests, const std::string& agent = "",
                const std::string& job = "test") {
    runner::JobResult j;
    j.name = job;
    j.attempts = 1;
    j.agent = agent;
    j.tests = std::move(tests);
    auto got = book_->record(run(commit), j);
    EXPECT_TRUE(got.ok()) << got.status().message();
    return got.ok() ? *got : Recorded{};
  }
  QuarantineAsk ask(const std::string& test) {
    return {"web",
            runner::testKey("suite", test),
            "times out on busy machines",
            "alice",
            nowMs() + 14 * kDay,
            2};
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TestBook> book_;
};

TEST_F(TestBookTest, AFailureARetryPassedIsFlakyAndSoIsOneAnotherRunOfTheCommitPassed) {
  runner::JobResult j;
  j.name = "test";
  j.attempts = 2;
  j.retried.push_back(
      {1, "box-1", "exit code 1", report({{"a", Outcome::kFailed}, {"b", Outcome::kPassed}})});
  j.tests = report({{"a", Outcome::kPassed}, {"b", Outcome::kPassed}});
  auto got = book_->record(run("c1"), j);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->flaky, std::vector<std::string>{runner::testKey("suite", "a")});
  auto flakes = store_->listTestFlakes("web", 0);
  ASSERT_EQ(flakes->size(), 1u);
  EXPECT_EQ((*flakes)[0].how, "retry");
  EXPECT_EQ((*flakes)[0].agent, "box-1");
  EXPECT_EQ(store_->testExecutions({"web", "c1", 0, 10, true})->size(), 2u);  // both attempts

  // Another commit: c is red in one run, green in the next run of the same commit.
  EXPECT_TRUE(once("c2", report({{"c", Outcome::kFailed}})).flaky.empty());
  // Another job running the same tests elsewhere is no second opinion.
  EXPECT_TRUE(once("c2", report({{"c", Outcome::kPassed}}), "", "test-arm").flaky.empty());
  auto rerun = once("c2", report({{"c", Outcome::kPassed}}));
  EXPECT_EQ(rerun.flaky, std::vector<std::string>{runner::testKey("suite", "c")});
  // A test that fails on every run of a commit is no flake.
  once("c3", report({{"d", Outcome::kFailed}}));
  EXPECT_TRUE(once("c3", report({{"d", Outcome::kFailed}})).flaky.empty());

  auto flaky = book_->summary("web", true);
  ASSERT_TRUE(flaky.ok());
  ASSERT_EQ(flaky->size(), 2u);
  std::set<std::string> names{(*flaky)[0].test.name, (*flaky)[1].test.name};
  EXPECT_EQ(names, (std::set<std::string>{"a", "c"}));
  auto all = book_->summary("web", false);
  EXPECT_EQ(all->size(), 4u);
}

TEST_F(TestBookTest, ARequestsRunsNeverMakeATestFlakyAndARepeatedNameKeepsItsFailure) {
  store::Run r = run("c1");
  r.pr.number = 4;
  r.branch = "pr/4";
  runner::JobResult j;
  j.name = "test";
  j.attempts = 2;
  j.retried.push_back({1, "", "exit code 1", report({{"a", Outcome::kFailed}})});
  j.tests = report({{"a", Outcome::kPassed}});
  auto got = book_->record(r, j);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(got->flaky.empty());
  // The branch's own run of the commit is not compared with the request's either.
  EXPECT_TRUE(once("c1", report({{"a", Outcome::kFailed}})).flaky.empty());
  EXPECT_TRUE(store_->listTestFlakes("web", 0)->empty());
  // Twice in one report, passed once and failed once: a failure.
  once("c2", report({{"twice", Outcome::kPassed}, {"twice", Outcome::kFailed}}));
  auto h = book_->history("web", runner::testKey("suite", "twice"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->points[0].outcome, "failed");
}

TEST_F(TestBookTest, OnlyAFlakyTestIsQuarantinedAndABrokenOneIsRefused) {
  // never failed
  once("c1", report({{"steady", Outcome::kPassed},
                     {"broken", Outcome::kPassed},
                     {"wobbly", Outcome::kPassed}}));
  auto none = book_->quarantine(ask("steady"));
  EXPECT_EQ(none.status().code(), Code::kInvalid);
  EXPECT_NE(none.status().message().find("nothing to quarantine"), std::string::npos);
  // broken: fails every time since it began failing
  once("c2", report({{"broken", Outcome::kFailed}, {"wobbly", Outcome::kFailed}}));
  once("c3", report({{"broken", Outcome::kFailed}, {"wobbly", Outcome::kPassed}}));
  once("c4", report({{"broken", Outcome::kFailed}, {"wobbly", Outcome::kFailed}}));
  auto broken = book_->quarantine(ask("broken"));
  EXPECT_EQ(broken.status().code(), Code::kInvalid);
  EXPECT_NE(broken.status().message().find("broken, not flaky"), std::string::npos)
      << broken.status().message();
  EXPECT_NE(broken.status().message().find("each of its 3 runs"), std::string::npos)
      << broken.status().message();
  // wobbly passed between its failures: flaky.
  auto q = book_->quarantine(ask("wobbly"));
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->owner, "alice");
  EXPECT_EQ(book_->quarantine(ask("wobbly")).status().code(), Code::kConflict);
  auto missing = book_->quarantine(ask("wobbli"));
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("did you mean"), std::string::npos);

  auto far = ask("wobbly");
  far.expiresAt = nowMs() + 91 * kDay;
  EXPECT_EQ(book_->quarantine(far).status().code(), Code::kInvalid);
  auto past = ask("wobbly");
  past.expiresAt = nowMs() - 1;
  EXPECT_EQ(book_->quarantine(past).status().code(), Code::kInvalid);
  auto noReason = ask("wobbly");
  noReason.reason.clear();
  EXPECT_EQ(book_->quarantine(noReason).status().code(), Code::kInvalid);

  EXPECT_EQ(*book_->quarantined("web"), std::set<std::string>{runner::testKey("suite", "wobbly")});
  auto released = book_->release("web", runner::testKey("suite", "wobbly"), "bob");
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released->endedBy, "bob");
  EXPECT_TRUE(book_->quarantined("web")->empty());
  EXPECT_EQ(book_->release("web", runner::testKey("suite", "wobbly"), "bob").status().code(),
            Code::kNotFound);
}

TEST_F(TestBookTest, AQuarantineEndsAfterItsCleanRunsOrAtItsExpiry) {
  once("c1", report({{"w", Outcome::kFailed}}));
  once("c1", report({{"w", Outcome::kPassed}}));  // a flake
  ASSERT_TRUE(book_->quarantine(ask("w")).ok());
  once("c2", report({{"w", Outcome::kPassed}}));
  once("c3", report({{"w", Outcome::kFailed}}));  // the count starts again
  once("c4", report({{"w", Outcome::kPassed}}));
  EXPECT_EQ(book_->quarantined("web")->size(), 1u);
  once("c5", report({{"w", Outcome::kPassed}}));
  EXPECT_TRUE(book_->quarantined("web")->empty());
  auto all = store_->listQuarantines("web", false);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].state, "released");
  EXPECT_EQ((*all)[0].endedWhy, "2 clean runs in a row");

  // A quarantine past its expiry counts no more, and says so.
  store::Quarantine past;
  past.project = "web";
  past.test = (*store_->listTestCases("web"))[0].id;
  past.reason = "slow";
  past.owner = "alice";
  past.expiresAt = nowMs() - 1;
  ASSERT_TRUE(store_->addQuarantine(past).ok());
  EXPECT_TRUE(book_->quarantined("web")->empty());
  auto ended = store_->listQuarantines("web", false);
  EXPECT_EQ((*ended)[0].state, "expired");
}

TEST_F(TestBookTest, FailuresGatheredOnOneAgentAreTheMachinesNotTheTests) {
  for (int i = 0; i < 3; ++i)
    once("c" + std::to_string(i), report({{"t", Outcome::kFailed}}), "old-box");
  for (int i = 3; i < 10; ++i)
    once("c" + std::to_string(i), report({{"t", Outcome::kPassed}}), "new-box");
  auto list = book_->summary("web", false);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].clusterAgent, "old-box");
  EXPECT_NE((*list)[0].clusterText.find("3 of its 3 failures were on old-box"), std::string::npos)
      << (*list)[0].clusterText;
  EXPECT_EQ((*list)[0].runs, 10);
  EXPECT_EQ((*list)[0].medianMicros, 1500);

  // Spread over both machines: no such reading.
  once("c20", report({{"t", Outcome::kFailed}}), "new-box");
  once("c21", report({{"t", Outcome::kFailed}}), "new-box");
  once("c22", report({{"t", Outcome::kFailed}}), "new-box");
  EXPECT_EQ((*book_->summary("web", false))[0].clusterAgent, "");
}

TEST_F(TestBookTest, HistoryListsATestsResultsNewestFirstWithItsFailureMessages) {
  once("c1", report({{"h", Outcome::kPassed}}));
  once("c2", report({{"h", Outcome::kFailed}}));
  auto h = book_->history("web", runner::testKey("suite", "h"));
  ASSERT_TRUE(h.ok()) << h.status().message();
  ASSERT_EQ(h->points.size(), 2u);
  EXPECT_EQ(h->points[0].outcome, "failed");
  EXPECT_EQ(h->points[0].message, "h broke");
  EXPECT_EQ(h->points[0].commit, "c2");
  EXPECT_EQ(h->points[1].outcome, "passed");
  EXPECT_EQ(h->points[1].micros, 1500);
  EXPECT_EQ(book_->history("web", "suite \u203a nothing").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace boucle::quality
