#include "scheduler/agent_protocol.h"

#include <gtest/gtest.h>

namespace boucle::scheduler {
namespace {

TEST(AgentProtocol, ASpecAndAReportSurviveTheTrip) {
  AgentJobSpec s;
  s.project = "web";
  s.runId = 7;
  s.job = "build";
  s.attempt = 2;
  s.commit = std::string(40, 'c');
  s.branch = "main";
  s.pipeline = "jobs:\n  build: {run: make}\n";
  s.source = true;
  s.needed = {{"dist/app.tar", std::string(64, 'a'), 12, 0755}};
  s.env = {"BOUCLE_PERF_URL=http://10.0.0.7:8080", "BOUCLE_ENV_URL=http://10.0.0.7:8080"};
  auto back = specFromJson(specToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->pipeline, s.pipeline);
  EXPECT_EQ(back->env, s.env);
  // Only the job's own BOUCLE_ variables: never one that would change how the agent runs it.
  for (const char* bad : {"LD_PRELOAD=/tmp/x.so", "BOUCLE_NO_EQUALS", "PATH=/tmp"}) {
    s.env = {bad};
    EXPECT_FALSE(specFromJson(specToJson(s)).ok()) << bad;
  }
  EXPECT_EQ(back->attempt, 2);
  ASSERT_EQ(back->needed.size(), 1u);
  EXPECT_EQ(back->needed[0].mode, 0755);

  AgentReport r;
  r.state = runner::JobState::kTimedOut;
  r.exitCode = 143;
  r.duration = Millis(1500);
  r.reason = "timed out after 1s";
  r.logSize = 99;
  r.tests = runner::TestReport{};
  r.tests->tests = 3;
  r.tests->failures = 1;
  r.tests->failed.push_back({"suite", "case", "failure", "boom", "a.cc:3", "details"});
  r.tests->cases.push_back({"suite", "case", "a.cc", runner::Outcome::kFailed, 1500});
  auto rb = reportFromJson(reportToJson(r));
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_EQ(rb->state, runner::JobState::kTimedOut);
  EXPECT_EQ(rb->logSize, 99u);
  ASSERT_TRUE(rb->tests.has_value());
  EXPECT_EQ(rb->tests->failed[0].location, "a.cc:3");
  ASSERT_EQ(rb->tests->cases.size(), 1u);
  EXPECT_EQ(rb->tests->cases[0].outcome, runner::Outcome::kFailed);
  EXPECT_EQ(rb->tests->cases[0].micros, 1500);
  EXPECT_EQ(rb->tests->cases[0].file, "a.cc");
}

TEST(AgentProtocol, AReportIsCheckedBeforeItIsBelieved) {
  const char* base =
      R"({"state":"passed","exit_code":0,"duration_ms":1,"reason":"","log_size":0,"artifacts":)";
  EXPECT_TRUE(reportFromJson(std::string(base) + "[]}").ok());
  for (const char* bad :
       {R"([{"path":"/etc/passwd","sha256":"x","size":1,"mode":420}])",
        R"([{"path":"a/../../b","sha256":"x","size":1,"mode":420}])",
        R"([{"path":"ok.txt","sha256":"ABC","size":1,"mode":420}])", R"("not a list")"}) {
    EXPECT_FALSE(reportFromJson(std::string(base) + bad + "}").ok()) << bad;
  }
  EXPECT_FALSE(reportFromJson(R"({"state":"running"})").ok());
  EXPECT_FALSE(reportFromJson("not json").ok());
  EXPECT_TRUE(safeArtifactPath("dist/app.tar"));
  EXPECT_FALSE(safeArtifactPath("dist//app.tar"));
  EXPECT_FALSE(safeArtifactPath(""));
}

}  // namespace
}  // namespace boucle::scheduler
