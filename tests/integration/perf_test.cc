// Performance as a gate before production, through the real server with a real load test:
// Locust (Debian's python3-locust) measures each release in a `perf` environment, and a
// deliberately slowed release is stopped before prod with the figures, nothing touched; the
// next, fixed release goes on.
#include <signal.h>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// /health answers after DELAY_MS (beside it) milliseconds.
constexpr const char* kServe = R"py(import http.server, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
delay = int(open(os.path.join(here, 'DELAY_MS')).read().strip()) / 1000.0
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(delay)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'OK')
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
)py";

constexpr const char* kCtl = R"sh(#!/bin/sh
set -e
pidfile="$BOUCLE_ENV_DIR/app.pid"
if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; sleep 0.3; fi
nohup python3 serve.py "$BOUCLE_ENV_PORT" > "$BOUCLE_ENV_DIR/app.log" 2>&1 &
echo $! > "$pidfile"
for i in $(seq 50); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])))' \
    "$BOUCLE_ENV_PORT" 2>/dev/null && exit 0
  sleep 0.1
done
exit 1
)sh";

constexpr const char* kLocustfile = R"py(from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health")
)py";

class PerfTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    repo_.write(".boucle.yml", R"yml(jobs:
  build:
    run: |
      mkdir -p dist/pkg
      cp app/serve.py app/ctl app/DELAY_MS dist/pkg/
      tar czf dist/app.tar.gz -C dist/pkg .
    artifacts: [dist/app.tar.gz]
  load:
    # Measures an environment only when a deploy's check asks (BOUCLE_PERF_URL is then set).
    run: |
      if [ -z "$BOUCLE_PERF_URL" ]; then echo "no environment to measure"; exit 0; fi
      locust -f app/locustfile.py --headless -u 4 -r 4 -t 3s --host "$BOUCLE_PERF_URL" --csv load --only-summary
    reports: {benchmark: load_stats.csv}
release: {branches: [main]}
environments:
  perf: {auto: true}
  prod:
    after: perf
    perf: {job: load, metric: p95, max_regression: 50%, floor: 100ms, name: GET /health}
deploy:
  driver: local
  steps:
    - ./ctl restart
  smoke:
    - http: "{{ env.url }}/health"
)yml");
    repo_.write("app/serve.py", kServe);
    repo_.write("app/ctl", kCtl);
    repo_.write("app/locustfile.py", kLocustfile);
    repo_.write("app/DELAY_MS", "0\n");
    runCommand({"/usr/bin/chmod", "+x", (repo_.dir() / "app/ctl").string()}, repo_.dir());
    repo_.commit("feat: the service", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    for (const char* env : {"perf", "prod"}) {
      int port = freePort();
      fs::path dir = repo_.scratch() / env;
      dirs_.push_back(dir);
      ports_[env] = port;
      Output set =
          client({"env", "set", "web", env, "dir=" + dir.string(), "port=" + std::to_string(port),
                  "url=http://127.0.0.1:" + std::to_string(port)});
      ASSERT_EQ(set.exitCode, 0) << set.err;
    }
  }
  void TearDown() override {
    ServerFixture::TearDown();
    for (const auto& dir : dirs_) {
      std::string pid = readFile(dir / "app.pid");
      if (!pid.empty()) ::kill(std::stoi(pid), SIGTERM);
    }
  }
  // Builds the head (released, and deployed to perf, automatically); waits until perf runs it.
  std::string releaseToPerf(size_t perfDeploys) {
    Output t = client({"trigger", "web", "--wait"});
    EXPECT_EQ(t.exitCode, 0) << t.out << t.err;
    EXPECT_TRUE(deploySucceeded("web", "perf", perfDeploys));
    return api("/api/projects/web/releases")["releases"][0].value("version", "");
  }
  // Promotes perf's release into prod; the deploy once it has ended.
  json promote() {
    Output p = client({"promote", "web", "--from", "perf", "--to", "prod", "--json"});
    json d = json::parse(p.out, nullptr, false);
    json end;
    waitFor(
        [&] {
          end = api("/api/deploys/" + d.value("id", json(0)).dump());
          std::string s = end.value("state", "");
          return s != "queued" && s != "running" && !s.empty();
        },
        std::chrono::seconds(120));
    return end;
  }
  std::vector<fs::path> dirs_;
  std::map<std::string, int> ports_;
};

TEST_F(PerfTest, ASlowerReleaseIsStoppedBeforeProdWithItsFiguresAndAFixedOneGoesOn) {
  std::string first = releaseToPerf(1);
  // prod runs nothing yet: the first release's figures become the baseline.
  json d1 = promote();
  ASSERT_EQ(d1["state"], "succeeded") << d1.dump(2);
  ASSERT_TRUE(d1["perf"].is_object()) << d1.dump(2);
  EXPECT_EQ(d1["perf"]["passed"], true);
  EXPECT_NE(d1["perf"]["summary"].get<std::string>().find("no baseline"), std::string::npos);
  int64_t baselineRun = d1["perf"]["run_id"].get<int64_t>();
  // The measuring run is a run like any other: Locust's figures are kept with it.
  json measuring = api("/api/runs/" + std::to_string(baselineRun));
  EXPECT_EQ(measuring["trigger"], "perf");
  EXPECT_EQ(measuring["perf_env"], "perf");
  json load;
  for (const auto& j : measuring["jobs"]) {
    if (j["name"] == "load") load = j;
  }
  ASSERT_TRUE(load["benchmarks"].is_array()) << measuring.dump(2);
  bool sawHealth = false;
  for (const auto& b : load["benchmarks"]) {
    if (b["name"] == "GET /health") {
      sawHealth = true;
      EXPECT_EQ(b["source"], "locust");
      EXPECT_GT(b["figures"]["rps"].get<double>(), 0);
      EXPECT_GT(b["figures"]["p95"].get<double>(), 0);
    }
  }
  EXPECT_TRUE(sawHealth) << load.dump(2);

  // A release that answers 300 ms slower: beyond the 100 ms floor, which a loaded machine's
  // noise on the fast release stays within.
  repo_.write("app/DELAY_MS", "300\n");
  repo_.commit("perf: a slower health check", "Bob");
  std::string slow = releaseToPerf(2);
  json d2 = promote();
  EXPECT_EQ(d2["state"], "failed") << d2.dump(2);
  std::string reason = d2["reason"].get<std::string>();
  EXPECT_NE(reason.find("performance regression: p95 of GET /health"), std::string::npos) << reason;
  EXPECT_NE(reason.find(first + " → " + slow), std::string::npos) << reason;
  EXPECT_EQ(d2["perf"]["baseline_run_id"], baselineRun);
  ASSERT_EQ(d2["perf"]["comparisons"].size(), 1u) << d2.dump(2);
  EXPECT_EQ(d2["perf"]["comparisons"][0]["regression"], true);
  EXPECT_GT(d2["perf"]["comparisons"][0]["candidate"].get<double>(), 250);
  // Nothing was touched: prod still runs the first release, and says so quickly.
  EXPECT_EQ(curl("GET", "http://127.0.0.1:" + std::to_string(ports_["prod"]) + "/health").body,
            "OK");
  json envs = api("/api/projects/web/environments");
  for (const auto& e : envs["environments"]) {
    if (e["name"] == "prod") {
      EXPECT_EQ(e["current"]["version"], first) << e.dump(2);
    }
  }

  // A "rollback" to a release prod never ran is measured like any deploy: still stopped.
  Output back = client({"rollback", "web", "prod", "--to", slow, "--no-wait", "--json"});
  json d3 =
      api("/api/deploys/" + json::parse(back.out, nullptr, false).value("id", json(0)).dump());
  ASSERT_TRUE(waitFor(
      [&] {
        d3 = api("/api/deploys/" + d3.value("id", json(0)).dump());
        return d3.value("state", "") == "failed";
      },
      std::chrono::seconds(120)))
      << d3.dump(2);
  EXPECT_NE(d3["reason"].get<std::string>().find("performance regression"), std::string::npos);
  // What is measured must be what goes on: with perf back on the first release, the slow one
  // is refused before anything is measured.
  ASSERT_EQ(client({"rollback", "web", "perf", "--to", first}).exitCode, 0);
  EXPECT_TRUE(deploySucceeded("web", "perf", 3));
  Output direct = client({"deploy", "web", slow, "--to", "prod"});
  EXPECT_NE(direct.exitCode, 0);
  json d4 = api("/api/projects/web/deploys?env=prod")["deploys"][0];
  EXPECT_EQ(d4["state"], "failed");
  EXPECT_NE(d4["reason"].get<std::string>().find("perf runs " + first + ", not " + slow),
            std::string::npos)
      << d4.dump(2);

  // Fixed: measured again, it holds against the baseline and goes on.
  repo_.write("app/DELAY_MS", "0\n");
  repo_.commit("fix: the health check is quick again", "Bob");
  std::string fixed = releaseToPerf(4);
  json d5 = promote();
  EXPECT_EQ(d5["state"], "succeeded") << d5.dump(2);
  EXPECT_EQ(d5["perf"]["passed"], true);
  EXPECT_NE(d5["perf"]["summary"].get<std::string>().find("performance holds"), std::string::npos);
}

// Times the program it is given, five times, and writes what it measured as Google
// Benchmark's JSON (one entry a run).
constexpr const char* kTimeit = R"py(import json, subprocess, sys, time
runs = []
for _ in range(5):
    start = time.monotonic()
    subprocess.run(['sh', sys.argv[1]], check=True)
    runs.append((time.monotonic() - start) * 1000)
json.dump({'benchmarks': [{'name': 'BM_work', 'run_type': 'iteration', 'iterations': 1,
                           'real_time': t, 'time_unit': 'ms'} for t in runs]},
          open(sys.argv[2], 'w'))
)py";

class PerfInterleavedTest : public ServerFixture {};

TEST_F(PerfInterleavedTest, BothReleasesAreTimedInTurnsInOneRunAndTheSlowerOneIsStopped) {
  TempRepo& repo = repo_;
  repo.write(".boucle.yml", R"yml(jobs:
  build:
    run: cp app/work.sh work.sh
    artifacts: [work.sh]
  bench:
    # Times the release it is given; a plain run has nothing to time.
    run: |
      if [ -z "${BOUCLE_PERF_RELEASE_DIR:-}" ]; then echo "nothing to time"; exit 0; fi
      echo "round $BOUCLE_PERF_ROUND: $BOUCLE_PERF_SIDE $BOUCLE_PERF_VERSION"
      python3 app/timeit.py "$BOUCLE_PERF_RELEASE_DIR/work.sh" bench.json
    reports: {benchmark: bench.json}
release: {branches: [main]}
environments:
  prod:
    auto: true
    perf: {job: bench, metric: mean, max_regression: 30%, floor: 50ms, interleave: 4}
deploy: {driver: command, command: 'true'}
)yml");
  repo.write("app/timeit.py", kTimeit);
  repo.write("app/work.sh", "exit 0\n");
  repo.commit("feat: the work", "Ada");
  ASSERT_EQ(client({"project", "add", "web", repo.dir().string(), "--poll", "0"}).exitCode, 0);
  auto releaseAndDeploy = [&](size_t deploys) {
    Output t = client({"trigger", "web", "--wait"});
    EXPECT_EQ(t.exitCode, 0) << t.out << t.err;
    json d;
    EXPECT_TRUE(waitFor(
        [&] {
          json list = api("/api/projects/web/deploys?env=prod")["deploys"];
          if (list.size() != deploys) return false;
          d = list[0];
          std::string s = d.value("state", "");
          return s != "queued" && s != "running";
        },
        std::chrono::seconds(100)));
    return d;
  };
  // The first release: prod runs nothing, so there is nothing to time it against.
  json d1 = releaseAndDeploy(1);
  ASSERT_EQ(d1["state"], "succeeded") << d1.dump(2);
  EXPECT_NE(d1["perf"]["summary"].get<std::string>().find("nothing to compare with"),
            std::string::npos);
  std::string first = d1["version"];

  // 200 ms slower: its rounds and the first release's, taken in turns, all say so.
  repo.write("app/work.sh", "sleep 0.2\n");
  repo.commit("perf: slower work", "Bob");
  json d2 = releaseAndDeploy(2);
  EXPECT_EQ(d2["state"], "failed") << d2.dump(2);
  ASSERT_TRUE(d2["perf"].is_object()) << d2.dump(2);
  EXPECT_EQ(d2["perf"]["interleave"], 4);
  ASSERT_EQ(d2["perf"]["comparisons"].size(), 1u) << d2.dump(2);
  json c = d2["perf"]["comparisons"][0];
  EXPECT_EQ(c["regression"], true) << c.dump(2);
  EXPECT_EQ(c["baseline_samples"], 4);
  EXPECT_EQ(c["candidate_samples"], 4);
  EXPECT_LT(c["p"].get<double>(), 0.05) << c.dump(2);
  EXPECT_GT(c["candidate"].get<double>() - c["baseline"].get<double>(), 150) << c.dump(2);
  EXPECT_NE(d2["reason"].get<std::string>().find("performance regression: mean of BM_work"),
            std::string::npos)
      << d2["reason"];
  // One run, its rounds in turns: baseline, candidate, baseline, …
  json measuring = api("/api/runs/" + d2["perf"]["run_id"].dump());
  EXPECT_EQ(measuring["trigger"], "perf");
  std::vector<std::string> names;
  for (const auto& j : measuring["jobs"]) names.push_back(j["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"bench-A1", "bench-B1", "bench-A2", "bench-B2",
                                             "bench-A3", "bench-B3", "bench-A4", "bench-B4"}));
  auto log =
      curl("GET",
           server_->url() + "/api/runs/" + d2["perf"]["run_id"].dump() + "/jobs/bench-B3/log", "",
           {"Authorization: Bearer " + server_->token()})
          .body;
  EXPECT_NE(log.find("round 3: candidate " + d2["version"].get<std::string>()), std::string::npos)
      << log;
  EXPECT_EQ(api("/api/projects/web/environments")["environments"][0]["current"]["version"], first);
}

}  // namespace
}  // namespace boucle::testing
