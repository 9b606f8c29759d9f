#include "pipeline/job_alone.h"

#include <gtest/gtest.h>

#include "pipeline/parser.h"

namespace boucle::pipeline {
namespace {

TEST(JobAlone, AJobCutOutParsesAsItselfWithoutItsNeeds) {
  const char* file = R"(version: 1
jobs:
  build:
    run: make
    artifacts: [out/app]
  test:
    needs: [build]
    runs-on: [linux, arm64]
    run:
      - ./configure --prefix="/opt/x y"
      - |
        make check
        echo "done: $BOUCLE_JOB"
    env: {A: "1", B: "two words"}
    timeout: 7m
    reports: {junit: "out/*.xml"}
    cache: [~/.npm]
notify:
  - on: [broken]
    webhook: https://example.com/hook
)";
  JobTexts texts(file);
  auto alone = texts.alone("test");
  ASSERT_TRUE(alone.ok()) << alone.status().message();
  auto whole = parsePipeline(file);
  ASSERT_TRUE(whole.ok());
  auto one = parsePipeline(*alone);
  ASSERT_TRUE(one.ok()) << *alone;
  ASSERT_EQ(one.pipeline.jobs.size(), 1u);
  const Job& a = one.pipeline.jobs[0];
  const Job& b = *whole.pipeline.findJob("test");
  EXPECT_TRUE(a.needs.empty());
  EXPECT_EQ(a.commands, b.commands);
  EXPECT_EQ(a.env, b.env);
  EXPECT_EQ(a.timeout, b.timeout);
  EXPECT_EQ(a.junit, b.junit);
  EXPECT_EQ(a.cache, b.cache);
  EXPECT_EQ(a.runsOn, b.runsOn);
  EXPECT_TRUE(one.pipeline.notifications.empty()) << "nothing but the job goes to the agent";
  EXPECT_EQ(texts.alone("deploy").status().code(), Code::kNotFound);
  EXPECT_FALSE(JobTexts("jobs: [").alone("x").ok());
}

}  // namespace
}  // namespace boucle::pipeline
