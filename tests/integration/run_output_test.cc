// What reaches the logs: masked secrets in every usual disguise, complete and exact output,
// JUnit results in the summary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

TEST(RunOutput, SecretsAreMaskedInEveryForm) {
  TempRepo repo;
  std::string pem =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw\n"
      "ggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R\n-----END PRIVATE KEY-----\n";
  std::ofstream(repo.scratch() / "key.pem") << pem;
  repo.write(".boucle.yml", R"YML(jobs:
  leak:
    shell: bash
    run: |
      echo "plain: $API_TOKEN"
      printf 'split: %s' "${API_TOKEN:0:5}"; sleep 0.2; printf '%s\n' "${API_TOKEN:5}"
      echo "b64: $(printf %s "$API_TOKEN" | base64)"
      echo "basic: $(printf 'ci:%s' "$API_TOKEN" | base64)"
      echo "url: $(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$API_TOKEN")"
      printf '%s\n' "$DEPLOY_KEY" | sed 's/^/  /'
      echo "done"
)YML");
  repo.commit("c");
  std::string token = "tok3n/with+odd chars";
  Output o = repo.boucle({"run", "--secret", "API_TOKEN=" + token, "--secret-file",
                          "DEPLOY_KEY=" + (repo.scratch() / "key.pem").string()});
  EXPECT_EQ(o.exitCode, 0) << o.all();
  std::string log = repo.readLog(1, "leak");
  for (const std::string& leaked :
       {token, std::string("tok3n"), std::string("dG9rM24vd2l0aCtvZGQgY2hhcnM="),
        std::string("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw"),
        std::string("ggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R"),
        std::string("tok3n%2Fwith%2Bodd%20chars")}) {
    EXPECT_THAT(log, Not(HasSubstr(leaked))) << log;
    EXPECT_THAT(o.all(), Not(HasSubstr(leaked)));
  }
  EXPECT_THAT(log, HasSubstr("plain: ***\n"));
  EXPECT_THAT(log, HasSubstr("split: ***\n"));
  EXPECT_THAT(log, HasSubstr("b64: ***\n"));
  EXPECT_THAT(log, HasSubstr("url: ***\n"));
  EXPECT_THAT(log, HasSubstr("  -----BEGIN PRIVATE KEY-----"));  // not secret on its own line
  EXPECT_THAT(log, HasSubstr("done"));
}

TEST(RunOutput, LogIsCompleteAndByteIdenticalToTheJobsOutput) {
  TempRepo repo;
  repo.write(".boucle.yml", R"(jobs:
  noisy:
    run: head -c 5000000 /dev/urandom > data.bin && cat data.bin
    artifacts: [data.bin]
)");
  repo.commit("c");
  Output o = repo.boucle({"run", "-q", "--secret", "UNUSED=a-secret-that-is-not-printed-x"});
  EXPECT_EQ(o.exitCode, 0) << o.err;
  auto manifest = nlohmann::json::parse(readFile(repo.runDir(1) / "artifacts/noisy.json"));
  std::string hash = manifest["artifacts"][0]["sha256"];
  std::string expected = readFile(repo.data() / "blobs/sha256" / hash.substr(0, 2) / hash);
  ASSERT_EQ(expected.size(), 5000000u);
  std::string log = repo.readLog(1, "noisy");
  EXPECT_EQ(log.size(), expected.size());
  EXPECT_TRUE(log == expected);
}

TEST(RunOutput, JUnitFailuresAreListedWithTheirLocation) {
  TempRepo repo;
  repo.write("report.xml", R"(<?xml version="1.0"?>
<testsuites><testsuite name="Calc" tests="2" failures="1">
  <testcase name="adds" classname="Calc" file="calc_test.cc" line="8"/>
  <testcase name="divides" classname="Calc" file="calc_test.cc" line="12">
    <failure message="Expected 2, got 3">calc_test.cc:14
Expected 2, got 3</failure>
  </testcase>
</testsuite></testsuites>)");
  repo.write(".boucle.yml", R"(jobs:
  test:
    run: mkdir -p out && cp report.xml out/test-calc.xml && cp report.xml out/test-broken.xml && echo '<testsuite><oops' > out/test-broken.xml && exit 1
    reports: { junit: "out/test-*.xml" }
)");
  repo.commit("c");
  Output o = repo.boucle({"run", "--json"});
  EXPECT_EQ(o.exitCode, 1);
  EXPECT_THAT(o.err, HasSubstr("tests: 1 passed, 1 failed, 0 skipped"));
  EXPECT_THAT(o.err, HasSubstr("calc_test.cc:12: Calc.divides: Expected 2, got 3"));
  EXPECT_THAT(repo.readLog(1, "test"), HasSubstr("warning: out/test-broken.xml: "));
  auto run = nlohmann::json::parse(o.out);
  EXPECT_EQ(run["jobs"][0]["tests"]["failures"], 1);
  EXPECT_EQ(run["jobs"][0]["tests"]["failed"][0]["location"], "calc_test.cc:12");
}

}  // namespace
}  // namespace boucle::testing
