#include "runner/planner.h"

#include <gtest/gtest.h>

#include "pipeline/parser.h"

namespace boucle::runner {
namespace {

pipeline::Pipeline parse(const char* yaml) {
  auto r = pipeline::parsePipeline(yaml);
  EXPECT_TRUE(r.ok());
  return r.pipeline;
}

using V = std::vector<std::string>;

TEST(Planner, RunsIndependentJobsUpToTheLimitInFileOrder) {
  auto p = parse("jobs:\n  a: {run: x}\n  b: {run: x}\n  c: {run: x}\n  d: {run: x, needs: [a]}\n");
  Planner pl(p, "main");
  EXPECT_EQ(pl.takeReady(2), (V{"a", "b"}));
  EXPECT_EQ(pl.takeReady(5), (V{"c"}));
  pl.finish("a", JobState::kPassed);
  EXPECT_EQ(pl.takeReady(5), (V{"d"}));
  EXPECT_FALSE(pl.done());
  for (auto j : {"b", "c", "d"}) pl.finish(j, JobState::kPassed);
  EXPECT_TRUE(pl.done());
}

TEST(Planner, JobsRunningElsewhereTakeNoLocalSlot) {
  auto p = parse(
      "jobs:\n  a: {run: x}\n  r1: {run: x, runs-on: [arm]}\n  b: {run: x}\n"
      "  r2: {run: x, runs-on: [arm]}\n  c: {run: x}\n");
  Planner pl(p, "main");
  auto remote = [](const pipeline::Job& j) { return !j.runsOn.empty(); };
  EXPECT_EQ(pl.takeReady(1, remote), (V{"a", "r1", "r2"}));
  EXPECT_EQ(pl.takeReady(0, remote), V{});
  pl.finish("a", JobState::kPassed);
  EXPECT_EQ(pl.takeReady(1, remote), (V{"b"}));
}

TEST(Planner, FailureSkipsEverythingDownstream) {
  auto p = parse(
      "jobs:\n  a: {run: x}\n  b: {run: x, needs: [a]}\n  c: {run: x, needs: [b]}\n"
      "  d: {run: x}\n");
  Planner pl(p, "main");
  EXPECT_EQ(pl.takeReady(9), (V{"a", "d"}));
  pl.finish("a", JobState::kFailed);
  EXPECT_EQ(pl.state("b"), JobState::kSkipped);
  EXPECT_EQ(pl.state("c"), JobState::kSkipped);
  EXPECT_EQ(pl.reason("b"), "needs a, which failed");
  EXPECT_TRUE(pl.takeReady(9).empty());
  pl.finish("d", JobState::kPassed);
  EXPECT_TRUE(pl.done());
}

TEST(Planner, AllowedFailureDoesNotBlock) {
  auto p = parse("jobs:\n  lint: {run: x, allow_failure: true}\n  b: {run: x, needs: [lint]}\n");
  Planner pl(p, "main");
  EXPECT_EQ(pl.takeReady(9), (V{"lint"}));
  pl.finish("lint", JobState::kFailed);
  EXPECT_EQ(pl.takeReady(9), (V{"b"}));
}

TEST(Planner, BranchRulesSkipJobsAndTheirDependents) {
  auto p = parse(
      "jobs:\n  a: {run: x}\n  deploy: {run: x, only: [main]}\n"
      "  announce: {run: x, needs: [deploy]}\n  nightly: {run: x, except: ['feat/*']}\n");
  Planner pl(p, "feat/login");
  EXPECT_EQ(pl.state("deploy"), JobState::kSkipped);
  EXPECT_EQ(pl.state("announce"), JobState::kSkipped);
  EXPECT_EQ(pl.state("nightly"), JobState::kSkipped);
  EXPECT_EQ(pl.takeReady(9), (V{"a"}));
}

TEST(Planner, UpcomingJobsAreThoseWaitingOnlyForRunningOrPassedJobs) {
  auto p = parse(
      "jobs:\n  a: {run: x}\n  b: {run: x, needs: [a]}\n  c: {run: x, needs: [b]}\n"
      "  d: {run: x, needs: [a]}\n  e: {run: x}\n");
  Planner pl(p, "main");
  EXPECT_EQ(pl.takeReady(1), (V{"a"}));
  EXPECT_EQ(pl.upcoming(9), (V{"b", "d", "e"}));  // c waits on b, which has not started
  EXPECT_EQ(pl.upcoming(2), (V{"b", "d"}));
  EXPECT_EQ(pl.state("b"), JobState::kPending);  // asking changes nothing
  pl.finish("a", JobState::kFailed);
  EXPECT_EQ(pl.upcoming(9), (V{"e"}));  // b, c and d are skipped now
}

TEST(Planner, CancelMarksWhatHasNotStarted) {
  auto p = parse("jobs:\n  a: {run: x}\n  b: {run: x, needs: [a]}\n");
  Planner pl(p, "main");
  EXPECT_EQ(pl.takeReady(9), (V{"a"}));
  pl.cancelPending();
  EXPECT_EQ(pl.state("b"), JobState::kCancelled);
  EXPECT_FALSE(pl.done());
  pl.finish("a", JobState::kCancelled);
  EXPECT_TRUE(pl.done());
}

}  // namespace
}  // namespace boucle::runner
