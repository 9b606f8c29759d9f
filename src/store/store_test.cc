// One suite for every Store backend: SQLite, and PostgreSQL on a real server the test starts.
#include "store/store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "store/postgres/test_cluster.h"

namespace boucle::store {
namespace {
namespace fs = std::filesystem;

struct Backend {
  std::string name;
  std::function<Result<std::unique_ptr<Store>>(const fs::path& dir)> open;
};

// ctest lists each test by its backend's name, not the parameter's bytes.
void PrintTo(const Backend& b, std::ostream* os) {
  *os << b.name;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    char t[] = "/tmp/boucle-store-XXXXXX";
    dir_ = mkdtemp(t);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    auto s = GetParam().open(dir_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }
  Project project(const std::string& name) {
    Project p;
    p.name = name;
    p.url = "/srv/git/" + name;
    p.branches = {"main", "release/*"};
    p.webhookSecret = "s3cret";
    return p;
  }
  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, ProjectsAreAddedListedAndRemoved) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  ASSERT_TRUE(store_->addProject(project("api")).ok());
  auto dup = store_->addProject(project("web"));
  EXPECT_EQ(dup.status().code(), Code::kConflict);
  auto list = store_->listProjects();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "api");
  EXPECT_EQ((*list)[1].branches, (std::vector<std::string>{"main", "release/*"}));
  EXPECT_TRUE(store_->removeProject("api").ok());
  EXPECT_EQ(store_->removeProject("api").code(), Code::kNotFound);
  EXPECT_EQ(store_->getProject("api").status().code(), Code::kNotFound);
}

TEST_P(StoreTest, ProjectSettingsAreReplacedAndTheRestKept) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  auto p = store_->getProject("web");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->allowProcessJobs);
  EXPECT_TRUE(p->releaseBranches.empty());
  p->allowProcessJobs = true;
  p->releaseBranches = {"main", "release/*"};
  p->pollSeconds = 0;
  p->url = "/elsewhere";  // not a setting: stays
  ASSERT_TRUE(store_->updateProjectSettings(*p).ok());
  auto again = store_->getProject("web");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->allowProcessJobs);
  EXPECT_EQ(again->releaseBranches, (std::vector<std::string>{"main", "release/*"}));
  EXPECT_EQ(again->pollSeconds, 0);
  EXPECT_EQ(again->url, "/srv/git/web");
  EXPECT_EQ(again->webhookSecret, "s3cret");
  p->name = "nope";
  EXPECT_EQ(store_->updateProjectSettings(*p).code(), Code::kNotFound);
}

TEST_P(StoreTest, RunsAreNumberedPerProjectAndQueuedInOrder) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  ASSERT_TRUE(store_->addProject(project("api")).ok());
  store::Run r;
  r.project = "web";
  r.ref = "main";
  r.trigger = "manual";
  auto a = store_->createRun(r);
  auto b = store_->createRun(r);
  r.project = "api";
  auto c = store_->createRun(r);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->number, 1);
  EXPECT_EQ(b->number, 2);
  EXPECT_EQ(c->number, 1);
  auto next = store_->claimNextQueued(42);
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->id, a->id);
  EXPECT_EQ((*next)->state, RunState::kRunning);
  EXPECT_EQ((*next)->branch, "main");  // a ref stands in for the branch
  // web's main is busy with run a: b waits, api's run goes ahead of it.
  auto second = store_->claimNextQueued(43);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->id, c->id);
  EXPECT_FALSE(store_->claimNextQueued(44)->has_value());
  store::Run started = **next;
  started.commit = "abc";
  started.state = RunState::kPassed;
  ASSERT_TRUE(store_->updateRun(started).ok());
  EXPECT_EQ((*store_->claimNextQueued(45))->id, b->id);
  auto got = store_->getRun(a->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, RunState::kPassed);
  EXPECT_EQ(got->startedAt, 42);
  EXPECT_EQ(got->commit, "abc");
  auto web = store_->listRuns("web", 10);
  ASSERT_TRUE(web.ok());
  ASSERT_EQ(web->size(), 2u);
  EXPECT_EQ((*web)[0].id, b->id);  // newest first
  auto page = store_->listRuns("", 10, b->id);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, a->id);
}

TEST_P(StoreTest, UnfinishedRunsAreInterruptedAfterARestart) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  store::Run r;
  r.project = "web";
  auto a = store_->createRun(r);
  auto b = store_->createRun(r);
  r.branch = "other";
  auto c = store_->createRun(r);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  store::Run done = *b;
  done.state = RunState::kPassed;
  ASSERT_TRUE(store_->updateRun(done).ok());
  ASSERT_EQ((*store_->claimNextQueued(1))->id, a->id);
  reopen();  // as after kill -9: the record is still there
  auto n = store_->interruptUnfinished("the server stopped while it ran", {});
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->size(), 1u);
  EXPECT_EQ((*n)[0].id, a->id);
  EXPECT_EQ((*n)[0].state, RunState::kInterrupted);
  EXPECT_EQ(store_->getRun(a->id)->state, RunState::kInterrupted);
  EXPECT_EQ(store_->getRun(a->id)->reason, "the server stopped while it ran");
  EXPECT_EQ(store_->getRun(b->id)->state, RunState::kPassed);
  EXPECT_EQ(store_->getRun(c->id)->state, RunState::kQueued);  // still to do
  EXPECT_EQ(*store_->integrityCheck(), "ok");
}

TEST_P(StoreTest, LastJudgedRunSkipsCancelledRunsAndOtherBranches) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  auto make = [&](const std::string& branch, RunState state) {
    store::Run r;
    r.project = "web";
    r.branch = branch;
    auto run = store_->createRun(r);
    run->state = state;
    run->brokenSince = state == RunState::kFailed ? std::optional<int64_t>(run->id) : std::nullopt;
    EXPECT_TRUE(store_->updateRun(*run).ok());
    return run->id;
  };
  int64_t failed = make("main", RunState::kFailed);
  make("main", RunState::kCancelled);
  make("dev", RunState::kPassed);
  int64_t now = make("main", RunState::kRunning);
  auto prev = store_->lastJudgedRun("web", "main", now);
  ASSERT_TRUE(prev.ok() && prev->has_value());
  EXPECT_EQ((*prev)->id, failed);
  EXPECT_EQ((*prev)->brokenSince, failed);
  EXPECT_FALSE(store_->lastJudgedRun("web", "main", failed)->has_value());
}

TEST_P(StoreTest, AHookDeliveryIsRecordedOnceAndForgottenAfterAWeek) {
  const int64_t day = 24LL * 3600 * 1000;
  EXPECT_TRUE(*store_->recordHookDelivery("web", "abc", 1000));
  EXPECT_FALSE(*store_->recordHookDelivery("web", "abc", 2000));
  EXPECT_TRUE(*store_->recordHookDelivery("api", "abc", 2000));  // per project
  EXPECT_TRUE(*store_->recordHookDelivery("web", "later", 1000 + 8 * day));
  EXPECT_TRUE(*store_->recordHookDelivery("web", "abc", 1000 + 8 * day));  // forgotten
  ASSERT_TRUE(store_->forgetHookDelivery("web", "abc").ok());
  EXPECT_TRUE(*store_->recordHookDelivery("web", "abc", 1000 + 8 * day));  // forgotten at once
  EXPECT_EQ(*store_->lastSeenHead("web", "main"), std::nullopt);
}

TEST_P(StoreTest, AHeadSeenOnceQueuesOneRun) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  store::Run r;
  r.project = "web";
  r.branch = "main";
  r.ref = "c1";
  auto first = store_->createRunForNewHead(r);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->ref, "c1");
  EXPECT_FALSE(store_->createRunForNewHead(r)->has_value());  // the same head again
  r.branch = "dev";
  EXPECT_TRUE(store_->createRunForNewHead(r)->has_value());  // another branch's head
  r.branch = "main";
  r.ref = "c2";
  EXPECT_TRUE(store_->createRunForNewHead(r)->has_value());  // main moved on
  EXPECT_EQ(store_->listRuns("web", 10)->size(), 3u);
}

TEST_P(StoreTest, ARequestsRunKeepsWhatItBuildsAndItsUnfinishedRunsAreFound) {
  auto p = project("web");
  p.requestBuilds = "both";
  p.forkSecrets = true;
  ASSERT_TRUE(store_->addProject(p).ok());
  EXPECT_EQ(store_->getProject("web")->requestBuilds, "both");
  EXPECT_TRUE(store_->getProject("web")->forkSecrets);
  store::Run r;
  r.project = "web";
  r.branch = "pr/7/merge";
  r.ref = "c1";
  r.pr.number = 7;
  r.pr.title = "Faster";
  r.pr.author = "octocat";
  r.pr.source = "topic";
  r.pr.target = "main";
  r.pr.head = "c1";
  r.pr.ref = "refs/pull/7/head";
  r.pr.fork = true;
  r.pr.merge = true;
  auto first = store_->createRunForNewHead(r);
  ASSERT_TRUE(first.ok() && first->has_value());
  (*first)->pr.base = "b1";
  (*first)->state = RunState::kRunning;
  ASSERT_TRUE(store_->updateRun(**first).ok());
  auto got = store_->getRun((*first)->id);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->isRequest());
  EXPECT_EQ(got->pr.number, 7);
  EXPECT_EQ(got->pr.title, "Faster");
  EXPECT_EQ(got->pr.author, "octocat");
  EXPECT_EQ(got->pr.source, "topic");
  EXPECT_EQ(got->pr.target, "main");
  EXPECT_EQ(got->pr.head, "c1");
  EXPECT_EQ(got->pr.ref, "refs/pull/7/head");
  EXPECT_EQ(got->pr.base, "b1");
  EXPECT_TRUE(got->pr.fork && got->pr.merge);
  r.ref = "c2";
  auto second = store_->createRunForNewHead(r);
  ASSERT_TRUE(second.ok() && second->has_value());
  auto going = store_->unfinishedRuns("web", "pr/7/merge");
  ASSERT_TRUE(going.ok());
  ASSERT_EQ(going->size(), 2u);
  EXPECT_EQ((*going)[0].id, (*first)->id);  // oldest first
  (*second)->state = RunState::kPassed;
  ASSERT_TRUE(store_->updateRun(**second).ok());
  EXPECT_EQ(store_->unfinishedRuns("web", "pr/7/merge")->size(), 1u);
  EXPECT_TRUE(store_->unfinishedRuns("web", "pr/7")->empty());
  // A repeat is still the request's, merged afresh.
  store::Run again = store::runAgain(*got, "rerun");
  EXPECT_EQ(again.pr.number, 7);
  EXPECT_TRUE(again.pr.fork);
  EXPECT_EQ(again.pr.base, "");
  EXPECT_EQ(again.ref, "c1");
}

TEST_P(StoreTest, BisectionsAndTheirRunsAreKeptApart) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  store::Run r;
  r.project = "web";
  r.branch = "main";
  auto broken = store_->createRun(r);
  ASSERT_TRUE(broken.ok());
  broken->state = RunState::kFailed;
  broken->suspects = 3;
  broken->bisectState = "running";
  ASSERT_TRUE(store_->updateRun(*broken).ok());
  r.bisectOf = broken->id;
  r.trigger = "bisect";
  auto probe = store_->createRun(r);
  ASSERT_TRUE(probe.ok());
  probe->state = RunState::kPassed;
  ASSERT_TRUE(store_->updateRun(*probe).ok());
  // A bisection run builds an older commit: it says nothing about the branch's state.
  r.bisectOf.reset();
  auto next = store_->createRun(r);
  EXPECT_EQ((*store_->lastJudgedRun("web", "main", next->id))->id, broken->id);
  EXPECT_EQ(store_->getRun(probe->id)->bisectOf, broken->id);

  store::Bisection b{broken->id, {"c1", "c2", "c3"}, -1, 2, 1, probe->id, 1};
  ASSERT_TRUE(store_->saveBisection(b).ok());
  auto active = store_->activeBisections();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].commits, b.commits);
  EXPECT_EQ((*active)[0].probeRun, probe->id);
  b.good = 1;
  b.probe = -1;
  b.probeRun.reset();
  ASSERT_TRUE(store_->saveBisection(b).ok());
  auto got = store_->getBisection(broken->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->good, 1);
  EXPECT_FALSE(got->probeRun.has_value());
  broken->bisectState = "found";
  broken->culpritCommit = "c3";
  ASSERT_TRUE(store_->updateRun(*broken).ok());
  EXPECT_TRUE(store_->activeBisections()->empty());
  EXPECT_EQ(store_->getRun(broken->id)->culpritCommit, "c3");
  EXPECT_EQ(store_->getBisection(999).status().code(), Code::kNotFound);
}

TEST_P(StoreTest, JobsAreSavedAndReplaced) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  store::Run r;
  r.project = "web";
  auto run = store_->createRun(r);
  ASSERT_TRUE(run.ok());
  JobRecord j{run->id, "build", "running", -1, 1, 10, std::nullopt, "", "", "", ""};
  ASSERT_TRUE(store_->saveJob(j).ok());
  j.state = "passed";
  j.exitCode = 0;
  j.finishedAt = 20;
  ASSERT_TRUE(store_->saveJob(j).ok());
  ASSERT_TRUE(store_->saveJob({run->id, "test", "pending", -1, 0, {}, {}, "", "", "", ""}).ok());
  auto jobs = store_->listJobs(run->id);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].state, "passed");
  EXPECT_EQ((*jobs)[0].finishedAt, 20);
  EXPECT_FALSE((*jobs)[1].startedAt.has_value());
}

TEST_P(StoreTest, TokensAreFoundByHashOnly) {
  EXPECT_EQ(*store_->countTokens(), 0);
  ASSERT_TRUE(store_->addToken(tokenNamed("initial admin", "admin"), "hash-1").ok());
  auto t = store_->findToken("hash-1");
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->role, "admin");
  EXPECT_FALSE((*t)->expiresAt.has_value());
  EXPECT_FALSE(store_->findToken("hash-2")->has_value());
  EXPECT_EQ(*store_->countTokens(), 1);
}

TEST_P(StoreTest, TokensAreListedTouchedAndRevokedByName) {
  store::Token ci = store::tokenNamed("ci", "developer");
  ci.expiresAt = 5000;
  ci.createdBy = "root";
  ASSERT_TRUE(store_->addToken(ci, "hash-ci").ok());
  ASSERT_TRUE(store_->addToken(tokenNamed("alice", "viewer"), "hash-alice").ok());
  EXPECT_EQ(store_->addToken(tokenNamed("ci", "admin"), "hash-other").status().code(),
            Code::kConflict);
  auto found = store_->findToken("hash-ci");
  ASSERT_TRUE(found.ok() && found->has_value());
  ASSERT_TRUE(store_->touchToken((*found)->id, 4242).ok());
  auto list = store_->listTokens();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alice");
  EXPECT_EQ((*list)[1].expiresAt, 5000);
  EXPECT_EQ((*list)[1].lastUsedAt, 4242);
  EXPECT_EQ((*list)[1].createdBy, "root");
  ASSERT_TRUE(store_->revokeToken("ci").ok());
  EXPECT_FALSE(store_->findToken("hash-ci")->has_value());
  EXPECT_EQ(store_->revokeToken("ci").code(), Code::kNotFound);
}

TEST_P(StoreTest, ReopeningKeepsDataAndSchema) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  reopen();
  reopen();
  EXPECT_TRUE(store_->getProject("web").ok());
}

TEST_P(StoreTest, ReleasesAreImmutableAndListedNewestFirst) {
  Release r;
  r.project = "web";
  r.version = "1.0.0";
  r.runId = 7;
  r.commit = std::string(40, 'a');
  r.notes = "## 1.0.0";
  r.artifactsJson = "[]";
  r.createdBy = "admin";
  ASSERT_TRUE(store_->addRelease(r).ok());
  r.version = "1.1.0";
  r.previousVersion = "1.0.0";
  ASSERT_TRUE(store_->addRelease(r).ok());
  r.notes = "rewritten";
  auto again = store_->addRelease(r);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kConflict);
  EXPECT_EQ(store_->getRelease("web", "1.1.0")->notes, "## 1.0.0") << "the first one stays";
  auto list = store_->listReleases("web", 10);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].version, "1.1.0");
  EXPECT_EQ((*list)[0].previousVersion, "1.0.0");
  EXPECT_FALSE(store_->getRelease("web", "9.9.9").ok());
  EXPECT_TRUE(store_->listReleases("api", 10)->empty());
}

TEST_P(StoreTest, EnvironmentValuesAreSetReplacedAndRemoved) {
  ASSERT_TRUE(store_->setEnvValue({"web", "qa", "url", "http://qa", false}).ok());
  ASSERT_TRUE(store_->setEnvValue({"web", "qa", "url", "http://qa2", false}).ok());
  ASSERT_TRUE(store_->setEnvValue({"web", "qa", "db_password", "sealed", true}).ok());
  ASSERT_TRUE(store_->setEnvValue({"web", "prod", "url", "http://prod", false}).ok());
  auto qa = store_->listEnvValues("web", "qa");
  ASSERT_EQ(qa->size(), 2u);
  EXPECT_EQ((*qa)[0].key, "db_password");
  EXPECT_TRUE((*qa)[0].secret);
  EXPECT_EQ((*qa)[1].value, "http://qa2");
  EXPECT_EQ(store_->listEnvValues("web", "")->size(), 3u);
  ASSERT_TRUE(store_->removeEnvValue("web", "qa", "url").ok());
  EXPECT_EQ(store_->removeEnvValue("web", "qa", "url").code(), Code::kNotFound);
  EXPECT_EQ(store_->listEnvValues("web", "qa")->size(), 1u);
}

TEST_P(StoreTest, OneDeployAtATimePerEnvironment) {
  auto deploy = [&](const std::string& env, const std::string& version) {
    Deploy d;
    d.project = "web";
    d.env = env;
    d.version = version;
    d.requestedBy = "admin";
    return store_->createDeploy(d).value();
  };
  auto qa1 = deploy("qa", "1.0.0");
  auto qa2 = deploy("qa", "1.1.0");
  auto prod = deploy("prod", "0.9.0");
  auto a = store_->claimNextDeploy(100);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->id, qa1.id);
  EXPECT_EQ((*a)->state, DeployState::kRunning);
  auto b = store_->claimNextDeploy(101);
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->id, prod.id) << "qa is busy, prod is not";
  EXPECT_FALSE(store_->claimNextDeploy(102)->has_value());

  Deploy done = **a;
  done.state = DeployState::kSucceeded;
  done.finishedAt = 200;
  done.smokeJson = "[{}]";
  ASSERT_TRUE(store_->updateDeploy(done).ok());
  auto c = store_->claimNextDeploy(300);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->id, qa2.id);
  // A cancel that lost the race with the claim changes nothing: qa2 is running now.
  Deploy late = qa2;
  late.state = DeployState::kCancelled;
  EXPECT_EQ(store_->updateDeployFrom(late, DeployState::kQueued).code(), Code::kConflict);
  EXPECT_EQ(store_->getDeploy(qa2.id)->state, DeployState::kRunning);
  Deploy running = **c;
  running.reason = "still going";
  EXPECT_TRUE(store_->updateDeployFrom(running, DeployState::kRunning).ok());
  EXPECT_EQ(store_->getDeploy(qa2.id)->reason, "still going");

  // A crash releases the environments' locks.
  auto interrupted = store_->interruptDeploys("server stopped", {});
  EXPECT_EQ(interrupted->size(), 2u);
  EXPECT_EQ(store_->getDeploy(qa2.id)->state, DeployState::kInterrupted);
  EXPECT_EQ(store_->getDeploy(qa1.id)->smokeJson, "[{}]");
  auto listed = store_->listDeploys("web", "qa", 10);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, qa2.id);
  EXPECT_EQ(store_->listDeploys("web", "", 10)->size(), 3u);
}

TEST_P(StoreTest, TheAuditLogKeepsWhoDidWhat) {
  ASSERT_TRUE(store_->addAudit({0, 1, "admin", "release", "web", "1.0.0", "from run 3"}).ok());
  ASSERT_TRUE(store_->addAudit({0, 2, "ops", "deploy", "web", "qa", "1.0.0"}).ok());
  ASSERT_TRUE(store_->addAudit({0, 3, "ops", "deploy", "api", "qa", "2.0.0"}).ok());
  auto web = store_->listAudit("web", 10);
  ASSERT_EQ(web->size(), 2u);
  EXPECT_EQ((*web)[0].actor, "ops");
  EXPECT_EQ((*web)[1].detail, "from run 3");
  EXPECT_EQ(store_->listAudit("", 10)->size(), 3u);
}

// However many incidents came and went since, an old one still open is found: a deploy
// joins the timeline of every incident open in its environment.
TEST_P(StoreTest, OpenIncidentsAreFoundBehindAnyNumberOfResolvedOnes) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  auto incident = [&](const std::string& env, const std::string& title) {
    Incident i;
    i.project = "web";
    i.env = env;
    i.source = "manual";
    i.title = title;
    i.openedBy = "ops";
    i.openedAt = 1000;
    return store_->openIncident(i);
  };
  auto old = incident("prod", "old and still open");
  ASSERT_TRUE(old.ok()) << old.status().message();
  ASSERT_TRUE(incident("qa", "elsewhere").ok());
  for (int n = 0; n < 150; ++n) {
    auto i = incident("prod", "came and went");
    ASSERT_TRUE(i.ok());
    ASSERT_TRUE(store_->resolveIncident(i->id, "ops", 2000, "fixed").ok());
  }
  auto fresh = incident("prod", "new");
  ASSERT_TRUE(fresh.ok());
  auto open = store_->listOpenIncidents("web", "prod");
  ASSERT_TRUE(open.ok()) << open.status().message();
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[0].id, fresh->id);
  EXPECT_EQ((*open)[1].id, old->id);
  EXPECT_EQ((*open)[1].state, "open");
  EXPECT_TRUE(store_->listOpenIncidents("web", "dev")->empty());

  // What /metrics reports: open incidents per environment (the resolved ones left out).
  auto counts = store_->countByState(Counted::kOpenIncidents);
  ASSERT_TRUE(counts.ok()) << counts.status().message();
  std::map<std::string, int64_t> byEnv;
  for (const auto& c : *counts) {
    EXPECT_EQ(c.state, "open");
    byEnv[c.env] = c.count;
  }
  EXPECT_EQ(byEnv, (std::map<std::string, int64_t>{{"prod", 2}, {"qa", 1}}));
}

TEST_P(StoreTest, ARunIsOrphanedOnlyOnceItsServerFellSilent) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  auto queue = [&](const std::string& branch) {
    store::Run r;
    r.project = "web";
    r.ref = branch;
    r.branch = branch;
    r.trigger = "push";
    return store_->createRun(r);
  };
  ASSERT_TRUE(queue("main").ok() && queue("next").ok());
  // Two servers share the database; each claims a run.
  store_->setServer("alpha:/data");
  ASSERT_TRUE(store_->heartbeat({"alpha:/data", "alpha", 10, 900, 1000}).ok());
  auto a = store_->claimNextQueued(1000);
  store_->setServer("beta:/data");
  ASSERT_TRUE(store_->heartbeat({"beta:/data", "beta", 20, 900, 1000}).ok());
  auto b = store_->claimNextQueued(1000);
  ASSERT_TRUE(a.ok() && *a && b.ok() && *b);

  // Beta's sweep while alpha answers: nothing; once alpha is silent: alpha's run, not its own.
  auto none = store_->interruptUnfinished("gone", {500, false, {}});
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_TRUE(none->empty());
  auto taken = store_->interruptUnfinished("gone", {2000, false, {}});
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].id, (*a)->id);
  EXPECT_EQ((*taken)[0].state, RunState::kInterrupted);
  EXPECT_EQ((*taken)[0].reason, "gone");
  EXPECT_EQ(store_->getRun((*b)->id)->state, RunState::kRunning);
  // Beta restarted: what its previous life left is its own to end.
  auto own = store_->interruptUnfinished("restarted", {500, true, {}});
  ASSERT_TRUE(own.ok());
  ASSERT_EQ(own->size(), 1u);
  EXPECT_EQ((*own)[0].id, (*b)->id);

  // Heartbeats change no cached answer; a server that stops cleanly is forgotten.
  uint64_t revision = store_->revision();
  ASSERT_TRUE(store_->heartbeat({"beta:/data", "beta", 20, 900, 5000}).ok());
  EXPECT_EQ(store_->revision(), revision);
  ASSERT_TRUE(store_->forgetServer("alpha:/data").ok());
  auto servers = store_->listServers();
  ASSERT_TRUE(servers.ok());
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_EQ((*servers)[0].id, "beta:/data");
  EXPECT_EQ((*servers)[0].seenAt, 5000);
}

TEST_P(StoreTest, ADueScheduleIsTakenOnceWhoeverAsks) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  Schedule nightly{"web", "main", {"0 2 * * *"}, 1000};
  ASSERT_TRUE(store_->setSchedule(nightly).ok());
  auto due = store_->dueSchedules(2000);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  // Two servers saw it due: the first to move it fires it, the other finds it moved.
  EXPECT_EQ(*store_->takeSchedule((*due)[0], 5000), true);
  EXPECT_EQ(*store_->takeSchedule((*due)[0], 5000), false);
  EXPECT_TRUE(store_->dueSchedules(2000)->empty());
  // Its last firing: taken once, then it is gone.
  auto later = store_->dueSchedules(6000);
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ(later->front().nextAt, 5000);
  EXPECT_EQ(*store_->takeSchedule(later->front(), std::nullopt), true);
  EXPECT_EQ(*store_->takeSchedule(later->front(), std::nullopt), false);
  EXPECT_TRUE(store_->dueSchedules(1'000'000)->empty());
}

TEST_P(StoreTest, RunsAndJobsAreCountedByState) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  for (int i = 0; i < 3; ++i) {
    store::Run r;
    r.project = "web";
    r.ref = "main";
    r.trigger = "manual";
    auto made = store_->createRun(r);
    ASSERT_TRUE(made.ok());
    ASSERT_TRUE(store_
                    ->saveJob({made->id, "build", i == 0 ? "failed" : "passed", 0, 1, std::nullopt,
                               std::nullopt, "", "", "", ""})
                    .ok());
  }
  auto claimed = store_->claimNextQueued(5);
  ASSERT_TRUE(claimed.ok() && *claimed);
  std::map<std::string, int64_t> runs, jobs;
  auto runCounts = store_->countByState(Counted::kRuns);
  auto jobCounts = store_->countByState(Counted::kJobs);
  ASSERT_TRUE(runCounts.ok() && jobCounts.ok());
  for (const auto& c : *runCounts) runs[c.project + ":" + c.state] = c.count;
  for (const auto& c : *jobCounts) jobs[c.project + ":" + c.state] = c.count;
  EXPECT_EQ(runs, (std::map<std::string, int64_t>{{"web:queued", 2}, {"web:running", 1}}));
  EXPECT_EQ(jobs, (std::map<std::string, int64_t>{{"web:failed", 1}, {"web:passed", 2}}));
}

TEST_P(StoreTest, MonitorSamplesRollUpAndAgeOutWithoutTouchingTheRevision) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  uint64_t revision = store_->revision();
  auto a = store_->monitorSeries({0, "web", "prod", "health", "", "1.0.0"});
  auto b = store_->monitorSeries({0, "web", "prod", "health", "", "1.1.0"});
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().message();
  EXPECT_NE(*a, *b);  // a new release, a new series
  EXPECT_EQ(*store_->monitorSeries({0, "web", "prod", "health", "", "1.0.0"}), *a);
  ASSERT_TRUE(
      store_
          ->addMonitorSamples(
              {{*a, 1'000, 0, 12}, {*a, 61'000, 1, 30}, {*b, 62'000, 2, 5}, {*b, 130'000, 0, 7}})
          .ok());
  auto minute = store_->monitorSamples(60'000, 120'000);
  ASSERT_EQ(minute->size(), 2u);
  EXPECT_EQ((*minute)[0].series, *a);
  EXPECT_EQ((*minute)[0].verdict, 1);
  EXPECT_EQ((*minute)[1].verdict, 2);
  EXPECT_EQ((*minute)[1].latencyMs, 5);
  EXPECT_EQ(*store_->monitorRollupsDoneUntil(), 0);
  MonitorRollup r;
  r.series = *a;
  r.minuteMs = 60'000;
  r.count = 1;
  r.failures = 1;
  r.p50Ms = r.p95Ms = r.p99Ms = 30;
  ASSERT_TRUE(store_->putMonitorRollups({r}, 120'000).ok());
  r.count = 2;  // the same minute again replaces it
  ASSERT_TRUE(store_->putMonitorRollups({r, {*a, 0, 1, 0, 0, 0, 12, 12, 12}}, 120'000).ok());
  EXPECT_EQ(*store_->monitorRollupsDoneUntil(), 120'000);
  auto rolled = store_->monitorRollups(*a, 0);
  ASSERT_EQ(rolled->size(), 2u);
  EXPECT_EQ((*rolled)[0].minuteMs, 0);
  EXPECT_EQ((*rolled)[1].count, 2);
  EXPECT_EQ((*rolled)[1].p95Ms, 30);
  EXPECT_EQ(store_->monitorRollups(*a, 60'000)->size(), 1u);
  EXPECT_EQ(store_->listMonitorSeries("web")->size(), 2u);
  EXPECT_EQ(store_->listMonitorSeries("api")->size(), 0u);
  // A monitor's heartbeat leaves cached answers alone.
  EXPECT_EQ(store_->revision(), revision);

  ASSERT_TRUE(store_->pruneMonitorData(62'000, 60'000).ok());
  EXPECT_EQ(store_->monitorSamples(0, 1'000'000)->size(), 2u);  // 62 s and later
  EXPECT_EQ(store_->monitorRollups(*a, 0)->size(), 1u);         // the minute at 60 s
  EXPECT_EQ(store_->revision(), revision);
}

// Two servers on one PostgreSQL: each has its own connection, and SERIALIZABLE transactions
// that collide are run again, so neither a run number nor a hook delivery is given twice.
TEST(PostgresStoreTest, TwoWritersAtOnceNeverGiveARunNumberTwice) {
  auto url = postgres::newTestDatabase();
  ASSERT_TRUE(url.ok()) << url.status().message();
  auto a = openPostgresStore(*url);
  auto b = openPostgresStore(*url);
  ASSERT_TRUE(a.ok() && b.ok());
  Project p;
  p.name = "web";
  p.url = "/srv/git/web";
  ASSERT_TRUE((*a)->addProject(p).ok());
  constexpr int kEach = 40;
  std::atomic<int> failures{0}, fresh{0};
  auto write = [&](Store& s, int who) {
    for (int i = 0; i < kEach; ++i) {
      store::Run r;
      r.project = "web";
      r.ref = "main";
      r.trigger = "push";
      if (auto made = s.createRun(r); !made.ok()) {
        ++failures;
        ADD_FAILURE() << made.status().message();
      }
      // The same delivery reaching both servers is fresh for one of them only.
      auto d = s.recordHookDelivery("web", "delivery-" + std::to_string(i), 1000 + i);
      if (!d.ok()) ++failures;
      if (d.ok() && *d) ++fresh;
      (void)who;
    }
  };
  std::thread ta(write, std::ref(**a), 0), tb(write, std::ref(**b), 1);
  ta.join();
  tb.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(fresh, kEach);
  auto runs = (*a)->listRuns("web", 1000, 0);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u * kEach);
  std::set<int64_t> numbers;
  for (const auto& r : *runs) numbers.insert(r.number);
  EXPECT_EQ(numbers.size(), 2u * kEach);
  EXPECT_EQ(*numbers.begin(), 1);
  EXPECT_EQ(*numbers.rbegin(), 2 * kEach);
}

// A test's PostgreSQL database, made at its first open and found again when it reopens.
Result<std::unique_ptr<Store>> openPostgresFor(const fs::path& dir) {
  static std::map<fs::path, std::string> urls;
  auto& url = urls[dir];
  if (url.empty()) {
    auto made = postgres::newTestDatabase();
    if (!made.ok()) return made.status();
    url = *made;
  }
  return openPostgresStore(url);
}

TEST_P(StoreTest, AnAgentPinnedToProjectsClaimsOnlyTheirJobsAndTheTokenKeepsItsPins) {
  for (const char* name : {"web", "vault"}) ASSERT_TRUE(store_->addProject(project(name)).ok());
  for (const char* name : {"vault", "web"}) {
    store::Run r;
    r.project = name;
    r.ref = "main";
    auto run = store_->createRun(r);
    ASSERT_TRUE(run.ok());
    AgentJob j;
    j.runId = run->id;
    j.project = name;
    j.job = "build";
    j.logPath = "runs/x/logs/build.log";
    ASSERT_TRUE(store_->queueAgentJob(j).ok());
  }
  // The older job is the vault's: an agent pinned to web passes over it.
  auto pinned = store_->claimAgentJob("ci-web", {}, {"web"}, false, 1000, 61000);
  ASSERT_TRUE(pinned.ok() && pinned->has_value());
  EXPECT_EQ((*pinned)->project, "web");
  auto more = store_->claimAgentJob("ci-web", {}, {"web", "docs"}, false, 1000, 61000);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(more->has_value());
  // A label-pinned agent takes only jobs that ask for one of its labels: these ask for none.
  auto labelled = store_->claimAgentJob("ci-linux", {"linux"}, {}, true, 1000, 61000);
  ASSERT_TRUE(labelled.ok());
  EXPECT_FALSE(labelled->has_value());
  auto any = store_->claimAgentJob("ci", {}, {}, false, 1000, 61000);
  ASSERT_TRUE(any.ok() && any->has_value());
  EXPECT_EQ((*any)->project, "vault");

  store::Token t = store::tokenNamed("ci-web", "agent");
  t.agentLabels = {"linux", "arm64"};
  t.agentProjects = {"web"};
  ASSERT_TRUE(store_->addToken(t, "hash-ci-web").ok());
  auto found = store_->findToken("hash-ci-web");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->agentLabels, (std::vector<std::string>{"linux", "arm64"}));
  EXPECT_EQ((*found)->agentProjects, std::vector<std::string>{"web"});
}

TEST_P(StoreTest, AnAgentJobIsClaimedOnceByAnAgentWithItsLabelsAndStaleReportsAreRefused) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  store::Run r;
  r.project = "web";
  r.ref = "main";
  auto run = store_->createRun(r);
  ASSERT_TRUE(run.ok());
  uint64_t revision = store_->revision();
  auto agentJob = [&](const std::string& name) {
    AgentJob j;
    j.runId = run->id;
    j.project = "web";
    j.job = name;
    return j;
  };
  AgentJob arm = agentJob("build-arm");
  arm.labels = {"linux", "arm64"};
  arm.logPath = "runs/1/logs/build-arm.log";
  AgentJob any = agentJob("test");
  auto a = store_->queueAgentJob(arm);
  auto b = store_->queueAgentJob(any);
  ASSERT_TRUE(a.ok() && b.ok());

  // An x86 agent passes over the arm job and takes the one that asks for nothing.
  auto x86 = store_->claimAgentJob("x86", {"linux", "x86_64"}, {}, false, 1000, 61000);
  ASSERT_TRUE(x86.ok() && x86->has_value());
  EXPECT_EQ((*x86)->id, b->id);
  EXPECT_EQ((*x86)->epoch, 1);
  auto none = store_->claimAgentJob("x86", {"linux", "x86_64"}, {}, false, 1000, 61000);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto arm64 = store_->claimAgentJob("pi", {"arm64", "linux", "big"}, {}, false, 1000, 61000);
  ASSERT_TRUE(arm64.ok() && arm64->has_value());
  EXPECT_EQ((*arm64)->job, "build-arm");
  EXPECT_EQ((*arm64)->logPath, "runs/1/logs/build-arm.log");

  // The log grows only from where it is; the reply says where that is.
  EXPECT_TRUE(store_->growAgentLog(b->id, 1, 0, 10).ok());
  auto gap = store_->growAgentLog(b->id, 1, 20, 30);
  EXPECT_EQ(gap.code(), Code::kConflict);
  EXPECT_NE(gap.message().find("log_size 10"), std::string::npos) << gap.message();
  EXPECT_EQ(store_->growAgentLog(b->id, 2, 10, 20).code(), Code::kConflict);

  // The x86 agent falls silent: its job is lost, and its later reports are refused.
  auto lost = store_->sweepAgentJobs(61001);
  ASSERT_TRUE(lost.ok());
  ASSERT_EQ(lost->size(), 2u);
  auto renewed = store_->renewAgentLeases("x86", {{b->id, 1}}, 90000);
  ASSERT_TRUE(renewed.ok());
  ASSERT_EQ(renewed->size(), 1u);
  EXPECT_EQ((*renewed)[0].state, "lost");
  EXPECT_EQ(store_->endAgentJob(b->id, 1, "{}", 62000).code(), Code::kConflict);
  auto started = store_->startedAgentJobs(run->id);
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->size(), 2u);
  ASSERT_TRUE(store_->forgetAgentJob(b->id).ok());
  EXPECT_EQ(store_->getAgentJob(b->id).status().code(), Code::kNotFound);

  // A fresh job, claimed, renewed, asked to stop by its run's cancel, then ended.
  auto c = store_->queueAgentJob(any);
  ASSERT_TRUE(c.ok());
  auto claim = store_->claimAgentJob("x86", {}, {}, false, 70000, 130000);
  ASSERT_TRUE(claim.ok() && claim->has_value());
  auto fine = store_->renewAgentLeases("x86", {{c->id, (*claim)->epoch}}, 140000);
  ASSERT_TRUE(fine.ok());
  EXPECT_TRUE(fine->empty());
  ASSERT_TRUE(store_->cancelAgentJobs(run->id).ok());
  auto told = store_->renewAgentLeases("x86", {{c->id, (*claim)->epoch}}, 140000);
  ASSERT_TRUE(told.ok());
  ASSERT_EQ(told->size(), 1u);
  EXPECT_TRUE((*told)[0].cancel);
  ASSERT_TRUE(store_->endAgentJob(c->id, (*claim)->epoch, R"({"state":"cancelled"})", 71000).ok());
  auto ended = store_->getAgentJob(c->id);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(ended->state, "done");
  EXPECT_EQ(ended->result, R"({"state":"cancelled"})");
  EXPECT_EQ(store_->revision(), revision) << "agent work changes no cached answer";

  // However many jobs wait for a label no agent has, the ones an agent can run are found.
  AgentJob gpu = agentJob("train");
  gpu.labels = {"gpu"};
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(store_->queueAgentJob(gpu).ok());
  auto last = store_->queueAgentJob(agentJob("lint"));
  ASSERT_TRUE(last.ok());
  auto found = store_->claimAgentJob("x86", {"linux"}, {}, false, 80000, 90000);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, last->id);
  auto trained = store_->claimAgentJob("big", {"gpu", "linux"}, {}, false, 80000, 90000);
  ASSERT_TRUE(trained.ok() && trained->has_value());
  EXPECT_EQ((*trained)->job, "train");
  EXPECT_EQ((*trained)->labels, std::vector<std::string>{"gpu"});
}

TEST_P(StoreTest, AgentsAreListedWithTheirJobsAndCanBeDrained) {
  AgentRecord pi;
  pi.name = "pi";
  pi.labels = {"arm64"};
  pi.version = "1.0";
  pi.host = "pi.lan";
  pi.capacity = 4;
  pi.seenAt = 5000;
  auto seen = store_->agentSeen(pi);
  ASSERT_TRUE(seen.ok());
  EXPECT_FALSE(*seen);
  ASSERT_TRUE(store_->setAgentDraining("pi", true).ok());
  EXPECT_EQ(store_->setAgentDraining("nobody", true).code(), Code::kNotFound);
  pi.seenAt = 6000;
  seen = store_->agentSeen(pi);
  ASSERT_TRUE(seen.ok());
  EXPECT_TRUE(*seen) << "a draining agent stays so when it calls again";
  auto agents = store_->listAgents();
  ASSERT_TRUE(agents.ok());
  ASSERT_EQ(agents->size(), 1u);
  EXPECT_EQ((*agents)[0].labels, std::vector<std::string>{"arm64"});
  EXPECT_EQ((*agents)[0].capacity, 4);
  EXPECT_EQ((*agents)[0].seenAt, 6000);
  EXPECT_TRUE((*agents)[0].draining);
  EXPECT_EQ((*agents)[0].running, 0);
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  store::Run r;
  r.project = "web";
  r.ref = "main";
  auto run = store_->createRun(r);
  ASSERT_TRUE(run.ok());
  AgentJob j;
  j.runId = run->id;
  j.project = "web";
  j.job = "j";
  ASSERT_TRUE(store_->queueAgentJob(j).ok());
  auto none = store_->claimAgentJob("pi", {"arm64"}, {}, false, 7000, 9000);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "a draining agent takes no job";
  ASSERT_TRUE(store_->setAgentDraining("pi", false).ok());
  auto one = store_->claimAgentJob("pi", {"arm64"}, {}, false, 7000, 9000);
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->has_value());
}

TEST_P(StoreTest, RunsOnAgentsAreKeptRunningWhileTheOthersAreInterrupted) {
  ASSERT_TRUE(store_->addProject(project("web")).ok());
  store::Run r;
  r.project = "web";
  r.ref = "main";
  auto a = store_->createRun(r);
  r.ref = "dev";
  auto b = store_->createRun(r);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(store_->claimNextQueued(100).ok());
  AgentJob j;
  j.runId = a->id;
  j.project = "web";
  j.job = "remote";
  ASSERT_TRUE(store_->queueAgentJob(j).ok());
  auto on = store_->runsOnAgents();
  ASSERT_TRUE(on.ok());
  ASSERT_EQ(on->size(), 1u);
  EXPECT_EQ((*on)[0].id, a->id);
  auto jobs = store_->agentJobsOfRun(a->id);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].state, "queued");
  auto gone = store_->interruptUnfinished("restarted", {INT64_MAX, true, {a->id}});
  ASSERT_TRUE(gone.ok());
  ASSERT_EQ(gone->size(), 1u);
  EXPECT_EQ((*gone)[0].id, b->id);
  EXPECT_EQ(store_->getRun(a->id)->state, RunState::kRunning);
  // Once the run has ended without its engine, its agents' jobs are tidied away.
  ASSERT_TRUE(store_->interruptUnfinished("restarted", {}).ok());
  ASSERT_TRUE(store_->sweepAgentJobs(200).ok());
  EXPECT_TRUE(store_->agentJobsOfRun(a->id)->empty());
}

TEST_P(StoreTest, EveryTestCaseOfAnAttemptIsKeptWithItsFailuresFlakesAndQuarantines) {
  auto web = project("web");
  web.onRed = "retry_once";
  ASSERT_TRUE(store_->addProject(web).ok());
  EXPECT_EQ(store_->getProject("web")->onRed, "retry_once");
  store::Run r;
  r.project = "web";
  r.ref = r.branch = "main";
  r.commit = "c1";
  auto run = store_->createRun(r);
  ASSERT_TRUE(run.ok());
  run->qualifier = "flaky";
  ASSERT_TRUE(store_->updateRun(*run).ok());
  EXPECT_EQ(store_->getRun(run->id)->qualifier, "flaky");
  JobRecord j{run->id, "test", "passed", 0, 2, 1, 2, "", "", "", "flaky,quarantined"};
  ASSERT_TRUE(store_->saveJob(j).ok());
  EXPECT_EQ((*store_->listJobs(run->id))[0].qualifier, "flaky,quarantined");

  // Names get ids once; a file learnt later is kept.
  auto ids =
      store_->testIds("web", {{0, "Math", "Adds", "", 0}, {0, "Math", "Divides", "m.cc", 0}});
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  ASSERT_EQ(ids->size(), 2u);
  auto again = store_->testIds("web", {{0, "Math", "Divides", "m.cc", 0},
                                       {0, "Math", "Adds", "a.cc", 0},
                                       {0, "Math", "New", "", 0}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0], (*ids)[1]);
  EXPECT_EQ((*again)[1], (*ids)[0]);
  EXPECT_NE((*again)[2], (*ids)[0]);
  auto names = store_->listTestCases("web");
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 3u);
  EXPECT_EQ((*names)[0].file, "a.cc");

  TestExecution e;
  e.runId = run->id;
  e.project = "web";
  e.job = "test";
  e.attempt = 1;
  e.commit = "c1";
  e.branch = "main";
  e.agent = "box-2";
  e.at = 1000;
  e.tests = 3;
  e.failed = 1;
  e.results = {{(*again)[2], 0, 100}, {(*ids)[1], 1, 2'500'000}, {(*ids)[0], 3, 0}};
  e.failures = {{(*ids)[1], "failure", "expected 3, got 4", "m.cc:16"}};
  auto first = store_->addTestExecution(e);
  ASSERT_TRUE(first.ok()) << first.status().message();
  e.attempt = 2;
  e.failed = 0;
  e.results = {{(*ids)[1], 0, 1'000'000}};
  e.failures.clear();
  ASSERT_TRUE(store_->addTestExecution(e).ok());
  // The same attempt again replaces it (a restarted server records a job twice).
  ASSERT_TRUE(store_->addTestExecution(e).ok());

  auto list = store_->testExecutions({"web", "", 0, 10, true});
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].attempt, 2);
  const auto& one = (*list)[1];
  EXPECT_EQ(one.agent, "box-2");
  ASSERT_EQ(one.results.size(), 3u);  // sorted by test id
  EXPECT_EQ(one.results[0].test, (*ids)[0]);
  EXPECT_EQ(one.results[0].outcome, 3);
  EXPECT_EQ(one.results[1].micros, 2'500'000);
  EXPECT_EQ(one.results[1].outcome, 1);
  ASSERT_EQ(one.failures.size(), 1u);
  EXPECT_EQ(one.failures[0].message, "expected 3, got 4");
  EXPECT_EQ(store_->testExecutions({"web", "c2", 0, 10, true})->size(), 0u);
  auto counts = store_->testExecutions({"web", "c1", (*list)[0].id, 10, false});
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_TRUE((*counts)[0].results.empty());
  EXPECT_EQ((*counts)[0].tests, 3);

  TestFlake f{"web", (*ids)[1], run->id, "c1", "retry", "box-2", 1000};
  ASSERT_TRUE(store_->addTestFlakes({f, f}).ok());
  ASSERT_TRUE(store_->addTestFlakes({f}).ok());
  EXPECT_EQ(store_->listTestFlakes("web", 0)->size(), 1u);
  EXPECT_EQ(store_->listTestFlakes("web", 2000)->size(), 0u);

  Quarantine q;
  q.project = "web";
  q.test = (*ids)[1];
  q.reason = "races the clock";
  q.owner = "alice";
  q.createdAt = 1;
  q.expiresAt = 5000;
  q.cleanNeeded = 3;
  auto added = store_->addQuarantine(q);
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(store_->addQuarantine(q).status().code(), Code::kConflict);
  auto active = store_->listQuarantines("web", true);
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].name, "Divides");
  EXPECT_EQ((*active)[0].state, "active");
  // Clean runs count once per run; a failure starts again; the third in a row releases it.
  EXPECT_EQ((*store_->countQuarantineRun(added->id, 10, true, 5))->cleanRuns, 1);
  EXPECT_EQ((*store_->countQuarantineRun(added->id, 10, true, 5))->cleanRuns, 1);
  EXPECT_EQ((*store_->countQuarantineRun(added->id, 11, false, 5))->cleanRuns, 0);
  for (int64_t run : {12, 13})
    ASSERT_TRUE(store_->countQuarantineRun(added->id, run, true, 5).ok());
  auto third = store_->countQuarantineRun(added->id, 14, true, 6);
  ASSERT_TRUE(third.ok() && *third);
  EXPECT_EQ((*third)->state, "released");
  EXPECT_EQ((*third)->endedWhy, "3 clean runs in a row");
  EXPECT_EQ((*third)->endedAt, 6);
  EXPECT_TRUE(store_->listQuarantines("web", true)->empty());
  // Ended, it counts and ends no more.
  EXPECT_EQ((*store_->countQuarantineRun(added->id, 15, false, 7))->cleanRuns, 3);
  EXPECT_EQ(store_->endQuarantine(added->id, "released", "bob", "by hand", 8).code(),
            Code::kNotFound);
  auto all = store_->listQuarantines("web", false);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].endedBy, "boucle");
  EXPECT_EQ((*all)[0].cleanRuns, 3);
  // A new quarantine once the last one ended.
  EXPECT_TRUE(store_->addQuarantine(q).ok());
  // The project goes with everything it ran.
  ASSERT_TRUE(store_->removeProject("web").ok());
  EXPECT_TRUE(store_->listTestCases("web")->empty());
  EXPECT_TRUE(store_->testExecutions({"web", "", 0, 10, true})->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend{"sqlite",
                                                   [](const fs::path& dir) {
                                                     return openSqliteStore(
                                                         (dir / "boucle.db").string());
                                                   }},
                                           Backend{"postgres", openPostgresFor}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace boucle::store
