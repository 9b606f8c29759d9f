#include "pipeline/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace boucle::pipeline {
namespace {

using ::testing::HasSubstr;

// The whole file sketched in the design, as a user would write it.
constexpr const char* kFull = R"(version: 1
jobs:
  build:
    run: make -j
    artifacts: [dist/app.tar.gz]
  test:
    needs: [build]
    run:
      - make check
      - echo done
    reports: { junit: "build/test-*.xml" }
    env: { CI_FLAVOUR: full }
    isolation: sandbox
    network: false
    retry: 2
    only: [main, "release/*"]
  perf:
    needs: [build]
    run: ./bench.sh
    timeout: 10m
    allow_failure: true

release:
  version: semver
  notes: conventional

environments:
  dev:     { auto: true }
  qa:      { after: dev }
  preprod: { after: qa, approval: [ops] }
  prod:    { after: preprod, approval: [ops], window: "Sat 02:00-05:00" }

deploy:
  driver: ssh
  hosts: "{{ env.hosts }}"
  strategy: { rolling: 1 }
  config:
    - template: deploy/app.conf.mustache
      to: "{{ release.dir }}/app.conf"
  steps:
    - run: ./bin/migrate-db
    - run: ./bin/ctl restart
  smoke:
    - http: "{{ env.url }}/health"
      expect: { status: 200, contains: "OK", within: 500ms }
  on_failure: rollback

monitor:
  - http: "{{ env.url }}/"
    every: 30s
    slo: { availability: 99.9%, p95: 300ms }
  - prometheus: "{{ env.url }}/metrics"

notify:
  - on: [broken, fixed, deploy_failed, incident]
    webhook: https://chat.example/hooks/abc
  - on: [broken]
    email: team@example.com
)";

std::vector<std::string> messages(const ParseResult& r) {
  std::vector<std::string> out;
  for (auto& d : r.errors) out.push_back(formatDiagnostic("f.yml", d));
  return out;
}

TEST(Parser, ParsesTheWholeDesignSketch) {
  auto r = parsePipeline(kFull);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const Pipeline& p = r.pipeline;
  ASSERT_EQ(p.jobs.size(), 3u);
  EXPECT_EQ(p.jobs[0].name, "build");
  EXPECT_EQ(p.jobs[1].commands, (std::vector<std::string>{"make check", "echo done"}));
  EXPECT_EQ(p.jobs[1].needs, (std::vector<std::string>{"build"}));
  EXPECT_EQ(p.jobs[1].junit, (std::vector<std::string>{"build/test-*.xml"}));
  EXPECT_EQ(p.jobs[1].isolation, Isolation::kSandbox);
  EXPECT_FALSE(p.jobs[1].network);
  EXPECT_EQ(p.jobs[1].retry, 2);
  EXPECT_EQ(p.jobs[1].env.at(0), (std::pair<std::string, std::string>{"CI_FLAVOUR", "full"}));
  EXPECT_EQ(p.jobs[2].timeout, Millis(600'000));
  EXPECT_TRUE(p.jobs[2].allowFailure);
  EXPECT_TRUE(p.jobs[1].buildsOn("release/2.1"));
  EXPECT_FALSE(p.jobs[1].buildsOn("feature/x"));
  ASSERT_EQ(p.environments.size(), 4u);
  EXPECT_EQ(p.environments[3].name, "prod");
  EXPECT_EQ(p.environments[3].after, "preprod");
  ASSERT_TRUE(p.environments[3].window.has_value());
  EXPECT_EQ(p.environments[3].window->days, 1u << 5);
  EXPECT_EQ(p.environments[3].window->startMinute, 120);
  ASSERT_TRUE(p.deploy.has_value());
  EXPECT_EQ(p.deploy->driver, Driver::kSsh);
  EXPECT_EQ(p.deploy->strategy.kind, StrategyKind::kRolling);
  EXPECT_EQ(p.deploy->steps.size(), 2u);
  ASSERT_EQ(p.deploy->smoke.size(), 1u);
  EXPECT_EQ(p.deploy->smoke[0].within, Millis(500));
  EXPECT_EQ(p.deploy->smoke[0].expectContains, "OK");
  ASSERT_EQ(p.monitors.size(), 2u);
  EXPECT_DOUBLE_EQ(*p.monitors[0].sloAvailability, 99.9);
  EXPECT_EQ(p.monitors[1].kind, MonitorKind::kPrometheus);
  ASSERT_EQ(p.notifications.size(), 2u);
  EXPECT_EQ(p.notifications[1].channel, NotifyChannel::kEmail);
  EXPECT_EQ(summarize(p),
            "3 jobs, release, 4 environments, deploy via ssh, 2 monitors, 2 notifications");
}

TEST(Parser, ReportsEveryErrorWithLineAndColumn) {
  auto r = parsePipeline(R"(version: 1
jobs:
  build:
    run: make
    timout: 10m
  test:
    needs: [biuld]
    run: make check
    timeout: ten minutes
    artifacts: [../../etc/passwd]
)");
  EXPECT_THAT(messages(r),
              ::testing::ElementsAre(
                  "f.yml:5:5: error: job 'build': unknown key 'timout' (did you mean 'timeout'?)",
                  "f.yml:7:13: error: job 'test' needs unknown job 'biuld' (did you mean "
                  "'build'?)",
                  "f.yml:9:14: error: timeout: expected a duration such as 500ms, 30s, 10m, "
                  "1h30m or 2d, found the value 'ten minutes'",
                  "f.yml:10:17: error: artifacts: bad pattern '../../etc/passwd': '..' would "
                  "leave the workspace"));
}

// A job's environment reaches the sandbox's launcher as NUL-separated options: a NUL in a
// value, or a name that is not one, is refused where it is written.
TEST(Parser, EnvironmentNamesAreNamesAndValuesHoldNoNul) {
  auto r = parsePipeline(
      "jobs:\n  a:\n    run: x\n    env: {\"A=B\": x, 1X: y, OK: \"a\\0--bind\", "
      "GOOD_1: fine}\n");
  EXPECT_THAT(messages(r),
              ::testing::ElementsAre(
                  "f.yml:4:18: error: env: 'A=B' is not a variable name (letters, digits and _)",
                  "f.yml:4:25: error: env: '1X' is not a variable name (letters, digits and _)",
                  "f.yml:4:32: error: env: value of 'OK' holds a NUL byte"));
}

TEST(Parser, CacheFoldersAreApartFromEachOther) {
  auto r = parsePipeline(
      "jobs:\n  a:\n    run: x\n    cache: [~/.cache, ~/.cache/pip, deps/, deps, ~/.npm]\n");
  EXPECT_THAT(messages(r),
              ::testing::ElementsAre("f.yml:4:23: error: cache: '~/.cache/pip' is or holds "
                                     "'~/.cache', already a cache folder; list folders apart "
                                     "from each other",
                                     "f.yml:4:44: error: cache: 'deps' is or holds 'deps', "
                                     "already a cache folder; list folders apart from each other"));
  EXPECT_THAT(r.pipeline.jobs[0].cache, ::testing::ElementsAre("~/.cache", "deps", "~/.npm"));
}

TEST(Parser, MonitorsOfEveryKindWithTheirThresholds) {
  auto r = parsePipeline(R"(jobs:
  a: {run: x}
monitor:
  - http: "{{ env.url }}/health"
    every: 10s
    timeout: 2s
    expect: {status: 204, contains: OK, within: 300ms}
    slo: {availability: 99.5%, p95: 250ms, window: 7d}
  - tcp: "{{ env.db }}:5432"
  - run: ./bin/check-queue
    fail_after: 5
    recover_after: 1
  - prometheus: "{{ env.prometheus }}"
    query: sum(rate(errors[5m]))
    below: 0.01
    above: -1
)");
  ASSERT_TRUE(r.errors.empty()) << messages(r)[0];
  const auto& m = r.pipeline.monitors;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].kind, MonitorKind::kHttp);
  EXPECT_EQ(m[0].expectStatus, 204);
  EXPECT_EQ(m[0].expectWithin, std::chrono::milliseconds(300));
  EXPECT_EQ(m[0].sloWindow, std::chrono::hours(24 * 7));
  EXPECT_EQ(m[0].failAfter, 3);
  EXPECT_EQ(m[0].recoverAfter, 2);
  EXPECT_EQ(m[2].kind, MonitorKind::kCommand);
  EXPECT_EQ(m[2].target, "./bin/check-queue");
  EXPECT_EQ(m[2].failAfter, 5);
  EXPECT_EQ(m[2].recoverAfter, 1);
  EXPECT_EQ(m[3].kind, MonitorKind::kPrometheus);
  EXPECT_EQ(m[3].query, "sum(rate(errors[5m]))");
  EXPECT_EQ(m[3].below, 0.01);
  EXPECT_EQ(m[3].above, -1);
  // Named as written, templates and all: the name stays from one release to the next.
  EXPECT_EQ(m[0].name, "http {{ env.url }}/health");
  EXPECT_EQ(m[2].name, "run ./bin/check-queue");
}

TEST(Parser, MonitorsAreNamedOnceEach) {
  auto r = parsePipeline(R"(jobs:
  a: {run: x}
monitor:
  - {name: api, http: "http://a/health"}
  - {name: api, tcp: "a:80"}
  - http: "http://a/"
  - http: "http://a/"
  - {name: "", tcp: "a:81"}
  - {tcp: "a:82", every: 500ms, timeout: 100ms}
)");
  EXPECT_THAT(messages(r),
              ::testing::ElementsAre(
                  "f.yml:5:5: error: monitor: another probe is named 'api'; give each a 'name'",
                  "f.yml:7:5: error: monitor: another probe is named 'http http://a/'; give each "
                  "a 'name'",
                  "f.yml:8:12: error: name: one line of 1 to 100 characters",
                  "f.yml:9:5: error: monitor: 'every' is at least 1s"));
}

TEST(Parser, MonitorMistakesAreNamedWhereTheyAre) {
  auto r = parsePipeline(R"(jobs:
  a: {run: x}
monitor:
  - tcp: db:5432
    expect: {status: 200}
  - prometheus: http://prom:9090
    query: up
  - http: http://x/
    below: 3
    timeout: 1m
  - run: true
    fail_after: 0
    slo: {window: 7d}
)");
  EXPECT_THAT(
      messages(r),
      ::testing::ElementsAre(
          "f.yml:5:13: error: expect: only an http monitor has one (status, contains, within)",
          "f.yml:7:12: error: query: say what its value must be: 'below: N', 'above: N' or both",
          "f.yml:8:5: error: monitor: its timeout is longer than its interval ('every')",
          "f.yml:9:12: error: below: compares a prometheus monitor's query; add 'query'",
          "f.yml:12:17: error: fail_after: 0 is out of range (1 to 100)",
          "f.yml:13:10: error: slo: give an availability (99.9%), a p95 (300ms) or both"));
}

TEST(Parser, AnEnvironmentVerifiesForAWhileWithItsOwnChecks) {
  auto r = parsePipeline(R"(jobs:
  a: {run: x}
environments:
  prod:
    verify:
      for: 10m
      checks:
        - name: errors
          prometheus: "{{ env.prometheus }}"
          query: sum(rate(http_errors_total[1m]))
          below: 0.01
          fail_after: 1
  qa:
    verify: {for: 30s}
deploy: {driver: command, command: ./deploy}
)");
  ASSERT_TRUE(r.ok()) << messages(r)[0];
  const auto& prod = r.pipeline.environments[0];
  ASSERT_TRUE(prod.verify);
  EXPECT_EQ(prod.verify->duration, std::chrono::minutes(10));
  ASSERT_EQ(prod.verify->checks.size(), 1u);
  EXPECT_EQ(prod.verify->checks[0].name, "errors");
  EXPECT_EQ(prod.verify->checks[0].kind, MonitorKind::kPrometheus);
  EXPECT_EQ(prod.verify->checks[0].failAfter, 1);
  EXPECT_EQ(prod.verify->checks[0].below, 0.01);
  EXPECT_TRUE(r.pipeline.environments[1].verify->checks.empty());
  EXPECT_TRUE(r.pipeline.monitors.empty());  // the checks are the environment's, not monitors
}

TEST(Parser, VerifyMistakesAreNamedWhereTheyAre) {
  auto r = parsePipeline(R"(jobs:
  a: {run: x}
environments:
  a:
    verify: {checks: []}
  b:
    verify: {for: 2d}
  c:
    verify:
      for: 1m
      checks:
        - http: "http://x/"
          slo: {availability: 99%}
        - tcp: "x:1"
          name: y
        - tcp: "x:2"
          name: y
      watch: 3
deploy: {driver: command, command: ./deploy}
)");
  EXPECT_THAT(
      messages(r),
      ::testing::ElementsAre(
          "f.yml:5:13: error: verify: missing 'for' (how long to watch after the smoke checks, "
          "e.g. 10m)",
          "f.yml:7:19: error: for: between 1s and 24h",
          "f.yml:13:16: error: slo: belongs to a monitor; a verification check has none",
          "f.yml:16:11: error: checks: another probe is named 'y'; give each a 'name'",
          "f.yml:18:7: error: verify: unknown key 'watch' (expected one of: for or checks)"));
}

TEST(Parser, AnEnvironmentChecksPerformanceWithAJobAgainstTheOneBefore) {
  auto r = parsePipeline(R"(jobs:
  load:
    run: locust --headless --csv load
    reports: {benchmark: load_stats.csv, junit: [a.xml]}
    retries: 2
environments:
  perf: {auto: true}
  prod:
    after: perf
    perf: {job: load, metric: p99, max_regression: 15%, floor: 5ms, name: GET /}
  edge:
    after: prod
    perf: {job: load, metric: rps, floor: 20}
deploy: {driver: command, command: ./deploy}
)");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_EQ(r.pipeline.jobs[0].benchmark, (std::vector<std::string>{"load_stats.csv"}));
  EXPECT_EQ(r.pipeline.jobs[0].retry, 2);
  const auto& prod = r.pipeline.environments[1];
  ASSERT_TRUE(prod.perf);
  EXPECT_EQ(prod.perf->job, "load");
  EXPECT_EQ(prod.perf->figure, "p99");
  EXPECT_DOUBLE_EQ(prod.perf->maxRegression, 0.15);
  EXPECT_DOUBLE_EQ(prod.perf->floor, 5);
  EXPECT_EQ(prod.perf->name, "GET /");
  const auto& edge = r.pipeline.environments[2];
  EXPECT_EQ(edge.perf->figure, "rps");
  EXPECT_DOUBLE_EQ(edge.perf->floor, 20);
  EXPECT_DOUBLE_EQ(edge.perf->maxRegression, 0.10);
}

TEST(Parser, PerformanceMistakesAreNamedWhereTheyAre) {
  auto r = parsePipeline(R"(jobs:
  a: {run: x, retry: 1, retries: 2}
environments:
  a:
    perf: {job: a}
  b:
    after: a
    perf: {job: nope, metric: p42, max_regression: lots, floor: 5 parsecs}
  c:
    after: a
    perf: {metric: p95, alpha: 0.9}
  d:
    after: a
    perf: {job: a, max_regression: 10}
deploy: {driver: command, command: ./deploy}
)");
  EXPECT_THAT(
      messages(r),
      ::testing::ElementsAre(
          "f.yml:2:25: error: job 'a': 'retry' and 'retries' are the same; give one",
          "f.yml:5:11: error: perf: needs 'after' (the job measures the environment before this "
          "one) or 'interleave' (it times both releases' artifacts in turns)",
          "f.yml:8:17: error: perf: unknown job 'nope'",
          "f.yml:8:31: error: metric: unknown value 'p42', expected mean, median, p90, p95, p99, "
          "min, max, rps or failures",
          "f.yml:8:52: error: max_regression: 'lots' is not a percentage such as 10%",
          "f.yml:8:65: error: floor: '5 parsecs' is not an amount such as 5ms or 20",
          "f.yml:11:11: error: perf: missing 'job' (the job that measures, e.g. a Locust load "
          "test)",
          "f.yml:11:32: error: alpha: between 0 and 0.5, e.g. 0.05",
          "f.yml:14:36: error: max_regression: '10' is not a percentage such as 10%"));
}

TEST(Parser, APerformanceCheckMayInterleaveTheTwoReleasesInstead) {
  auto r = parsePipeline(R"(jobs:
  bench: {run: ./bench, reports: {benchmark: out.json}}
  far: {run: ./bench, runs-on: [gpu]}
environments:
  prod:
    perf: {job: bench, metric: mean, interleave: 5}
  edge:
    perf: {job: far, interleave: 3}
  core:
    perf: {job: bench, interleave: 1}
deploy: {driver: command, command: ./deploy}
)");
  EXPECT_THAT(
      messages(r),
      ::testing::ElementsAre(
          "f.yml:8:34: error: interleave: the rounds run on the server's own agent; job 'far' has "
          "runs-on",
          "f.yml:10:11: error: perf: needs 'after' (the job measures the environment before this "
          "one) or 'interleave' (it times both releases' artifacts in turns)",
          "f.yml:10:36: error: interleave: 1 is out of range (2 to 20)"));
  EXPECT_EQ(r.pipeline.environments[0].perf->interleave, 5);
}

TEST(Parser, ABlankEnvironmentOnASchedule) {
  auto r = parsePipeline(R"(jobs:
  a: {run: x}
environments:
  dev: {auto: true}
  nightly: {after: dev, blank: true, schedule: ["0 3 * * *", "@weekly"]}
deploy:
  driver: local
  migrate: {up: ./bin/migrate up, down: ./bin/migrate down}
)");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const auto& nightly = r.pipeline.environments[1];
  EXPECT_TRUE(nightly.blank);
  EXPECT_EQ(nightly.schedule, (std::vector<std::string>{"0 3 * * *", "@weekly"}));
  EXPECT_FALSE(r.pipeline.environments[0].blank);
  ASSERT_TRUE(r.pipeline.deploy->migrate);
  EXPECT_EQ(r.pipeline.deploy->migrate->up, "./bin/migrate up");
  EXPECT_EQ(r.pipeline.deploy->migrate->down, "./bin/migrate down");
  EXPECT_FALSE(r.pipeline.deploy->migrate->irreversible);
}

TEST(Parser, AMigrationSaysHowToUndoItOrThatItCannotBe) {
  auto r = parsePipeline(R"(jobs:
  a: {run: x}
environments:
  nightly: {blank: yes please, schedule: "0 25 * * *"}
deploy:
  driver: local
  migrate: {up: ./migrate}
)");
  EXPECT_THAT(messages(r),
              ::testing::ElementsAre(
                  "f.yml:4:20: error: blank: expected true or false, found the value 'yes please'",
                  "f.yml:4:42: error: schedule: '0 25 * * *': the hour field allows 0-23",
                  "f.yml:7:12: error: migrate: give 'down' (the command that undoes it) or "
                  "'irreversible: true'"));
  auto both = parsePipeline(R"(jobs:
  a: {run: x}
deploy:
  driver: ansible
  hosts: web1
  playbook: site.yml
  migrate: {down: ./migrate down, irreversible: true}
)");
  EXPECT_THAT(
      messages(both),
      ::testing::ElementsAre(
          "f.yml:7:12: error: migrate: missing 'up' (the command that changes the database, e.g. "
          "./bin/migrate up)",
          "f.yml:7:12: error: migrate: the ansible driver runs migrations from its playbook "
          "(run_once); migrate is for the local, command and ssh drivers",
          "f.yml:7:49: error: irreversible: a migration with a 'down' can be undone; give one or "
          "the other"));
  auto fine = parsePipeline(R"(jobs:
  a: {run: x}
deploy:
  driver: ssh
  hosts: web1
  migrate: {up: ./migrate, irreversible: true}
)");
  ASSERT_TRUE(fine.ok()) << ::testing::PrintToString(messages(fine));
  EXPECT_TRUE(fine.pipeline.deploy->migrate->irreversible);
}

TEST(Parser, RunsOnNamesTheLabelsAnAgentMustHave) {
  auto r = parsePipeline(R"(version: 1
jobs:
  arm:
    run: make
    runs-on: [linux, arm64, linux]
  any:
    run: make
  bad:
    run: make
    runs-on: [linux, "a,b"]
)");
  EXPECT_THAT(messages(r), ::testing::ElementsAre("f.yml:10:22: error: runs-on: 'a,b' is not a "
                                                  "label (letters, digits, '-', '_' and '.')"));
  EXPECT_EQ(r.pipeline.jobs[0].runsOn, (std::vector<std::string>{"linux", "arm64"}));
  EXPECT_TRUE(r.pipeline.jobs[1].runsOn.empty());
}

TEST(Parser, FindsCyclesInNeeds) {
  auto r = parsePipeline(R"(jobs:
  a: { run: x, needs: [c] }
  b: { run: x, needs: [a] }
  c: { run: x, needs: [b] }
  d: { run: x, needs: [d] }
)");
  EXPECT_THAT(messages(r),
              ::testing::ElementsAre("f.yml:3:24: error: cycle in needs: a -> c -> b -> a",
                                     "f.yml:5:24: error: job 'd' needs itself"));
}

TEST(Parser, YamlSyntaxErrorHasPosition) {
  auto r = parsePipeline("jobs:\n  build:\n    run: [make\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(messages(r)[0], HasSubstr("f.yml:4:1: error: invalid YAML"));
}

TEST(Parser, RequiresJobsAndRun) {
  EXPECT_THAT(messages(parsePipeline("version: 1\n")),
              ::testing::ElementsAre(
                  "f.yml:1:1: error: missing 'jobs': a pipeline needs at least one job"));
  EXPECT_THAT(messages(parsePipeline("jobs:\n  build:\n    needs: []\n")),
              ::testing::ElementsAre("f.yml:2:3: error: job 'build': missing 'run' (the "
                                     "command(s) the job executes)"));
}

TEST(Parser, RejectsJobNamesThatAreNotFileNames) {
  auto r = parsePipeline("jobs:\n  ../x: { run: x }\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("names may only use"));
}

TEST(Parser, ChecksEnvironmentsDeployMonitorNotify) {
  auto r = parsePipeline(R"(jobs:
  b: { run: x }
environments:
  qa: { after: dev }
  dev: { auto: maybe, window: "Someday 02:00-03:00" }
deploy:
  driver: sftp
  smoke:
    - http: "{{ envv.url }}/health"
monitor:
  - http: localhost
    every: 0s
notify:
  - on: [brokn]
    email: nobody
)");
  EXPECT_THAT(
      messages(r),
      ::testing::ElementsAre(
          "f.yml:4:16: error: after: 'dev' must be listed before 'qa' (environments are in "
          "promotion order)",
          "f.yml:5:16: error: auto: expected true or false, found the value 'maybe'",
          "f.yml:5:31: error: window: days must be Mon..Sun, a range such as Mon-Fri, a list "
          "such as Sat,Sun, or daily in 'Someday 02:00-03:00'",
          "f.yml:7:11: error: driver: unknown value 'sftp', expected local, ssh, ansible or "
          "command",
          "f.yml:9:13: error: http: unknown template value '{{ envv.url }}' (use env.KEY, "
          "release.version, release.dir, project.name, commit.sha or host.name); did you mean "
          "'env'?",
          "f.yml:11:11: error: http: expected a URL starting with http:// or https://",
          "f.yml:12:12: error: every: duration must be greater than zero",
          "f.yml:14:10: error: on: unknown event 'brokn' (did you mean 'broken'?)",
          "f.yml:15:12: error: email: 'nobody' is not an e-mail address"));
}

TEST(Parser, SchedulesAreCronExpressions) {
  auto r =
      parsePipeline("jobs:\n  a: {run: x}\nschedule: ['0 2 * * *', '@weekly', '61 * * * *']\n");
  EXPECT_THAT(messages(r),
              ::testing::ElementsAre("f.yml:3:36: error: schedule: '61 * * * *': the minute field "
                                     "allows 0-59"));
  auto ok = parsePipeline("jobs:\n  a: {run: x}\nschedule: \"0 2 * * *\"\n");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.pipeline.schedule, (std::vector<std::string>{"0 2 * * *"}));
  EXPECT_EQ(summarize(ok.pipeline), "1 job, 1 schedule");
}

TEST(Parser, DuplicateKeysAreErrors) {
  auto r = parsePipeline("jobs:\n  a: { run: x }\n  a: { run: y }\n");
  EXPECT_THAT(messages(r), ::testing::ElementsAre("f.yml:3:3: error: jobs: duplicate key 'a'"));
}

TEST(Parser, EnvironmentNamesCannotBePaths) {
  auto r = parsePipeline("jobs:\n  a: {run: x}\nenvironments:\n  ../prod: {}\n");
  EXPECT_THAT(messages(r), ::testing::Contains(::testing::HasSubstr(
                               "f.yml:4:3: error: environment '../prod': names may only use")));
}

TEST(Window, ParsesRangesListsAndOvernight) {
  std::string err;
  auto w = parseWindow("Mon-Fri 22:00-06:00", &err);
  ASSERT_TRUE(w) << err;
  EXPECT_EQ(w->days, 0x1fu);
  EXPECT_EQ(w->startMinute, 22 * 60);
  EXPECT_EQ(w->endMinute, 6 * 60);
  auto we = parseWindow("Sat,Sun 00:00-24:00", &err);
  ASSERT_TRUE(we) << err;
  EXPECT_EQ(we->days, 0x60u);
  EXPECT_FALSE(parseWindow("Sat 25:00-26:00", &err));
  EXPECT_FALSE(parseWindow("Sat", &err));
  EXPECT_FALSE(parseWindow("Fri-Mon 02:00-02:00", &err));
  EXPECT_TRUE(parseWindow("Fri-Mon 02:00-03:00", &err));  // wraps over the weekend
}

TEST(Parser, DidYouMeanNeverSuggestsTheJobItself) {
  auto r = parsePipeline("jobs:\n  build: {run: x, needs: [buidl]}\n  test: {run: y}\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message.find("did you mean 'build'"), std::string::npos)
      << r.errors[0].message;
}

}  // namespace
}  // namespace boucle::pipeline
