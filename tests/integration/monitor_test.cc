// Monitors through the real server: a deployed release's probes (http, tcp, run, prometheus)
// run against a real service; its failure opens an incident naming the live release, a deploy
// during it joins the timeline, and its recovery resolves it. A secret reaches a `run` probe
// in its environment and nowhere else.
#include <gmock/gmock.h>
#include <signal.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "server_fixture.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
namespace fs = std::filesystem;

// The watched service: /health answers 200 "OK" while HEALTHY exists beside it, 503 then;
// /api/v1/query plays Prometheus (a query naming "ghost" has no series); /metrics answers
// Prometheus' text format.
constexpr const char* kService = R"py(import http.server, json, os, sys, urllib.parse
here = os.path.dirname(os.path.abspath(__file__))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == '/health':
            ok = os.path.exists(os.path.join(here, 'HEALTHY'))
            code, body = (200, 'OK') if ok else (503, 'sick')
        elif url.path == '/api/v1/query':
            q = urllib.parse.parse_qs(url.query).get('query', [''])[0]
            result = [] if 'ghost' in q else [{'metric': {'job': 'web'}, 'value': [1, '0.25']}]
            code, body = 200, json.dumps({'status': 'success',
                                          'data': {'resultType': 'vector', 'result': result}})
        elif url.path == '/metrics':
            code, body = 200, '# TYPE requests_total counter\nrequests_total{code="200"} 7\n'
        else:
            code, body = 404, 'no'
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
)py";

constexpr const char* kSecret = "mon-secret-7c1e5a";

class MonitorTest : public ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    serviceDir_ = repo_.scratch() / "service";
    fs::create_directories(serviceDir_);
    {
      std::ofstream(serviceDir_ / "serve.py") << kService;
      std::ofstream(serviceDir_ / "HEALTHY") << "yes\n";
    }
    port_ = freePort();
    service_ = startProcess({"/usr/bin/python3", "serve.py", std::to_string(port_)}, serviceDir_,
                            serviceDir_ / "log");
    ASSERT_TRUE(waitFor([&] { return curl("GET", url() + "/health").status == 200; }));
    repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: 'true'}
release: {branches: [main]}
environments:
  prod: {auto: true}
deploy:
  driver: command
  command: 'true'
monitor:
  - name: health
    http: "{{ env.url }}/health"
    every: 1s
    timeout: 1s
    expect: {status: 200, contains: OK}
    fail_after: 2
    recover_after: 2
    slo: {availability: 99%}
  - name: port
    tcp: "127.0.0.1:{{ env.port }}"
    every: 1s
    timeout: 1s
  - name: queue
    run: 'test "$BOUCLE_ENV_TOKEN" = "{{ env.token }}" && echo "token $BOUCLE_ENV_TOKEN ok"'
    every: 1s
    timeout: 1s
  - name: errors
    prometheus: "{{ env.url }}"
    query: sum(rate(errors_total[5m]))
    below: 1
    every: 1s
    timeout: 1s
  - name: ghost
    prometheus: "{{ env.url }}"
    query: ghost_metric
    below: 1
    every: 1s
    timeout: 1s
    fail_after: 2
  - name: scrape
    prometheus: "{{ env.url }}/metrics"
    every: 1s
    timeout: 1s
)yml");
    repo_.commit("feat: the service", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    ASSERT_EQ(client({"env", "set", "web", "prod", "url=" + url(), "port=" + std::to_string(port_)})
                  .exitCode,
              0);
    Output set =
        runCommand({"/usr/bin/sh", "-c", "printf '%s' \"$1\" | \"$0\" secret set web prod token",
                    BOUCLE_BIN, kSecret},
                   repo_.dir(), server_->clientEnv());
    ASSERT_EQ(set.exitCode, 0) << set.err;
    ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
    ASSERT_TRUE(deploySucceeded("web", "prod"));
  }
  void TearDown() override {
    ServerFixture::TearDown();
    if (service_ > 0) ::kill(service_, SIGTERM);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The monitor named `name`, once `pred` holds for it.
  json monitorWhen(const std::string& name, const std::function<bool(const json&)>& pred) {
    json found;
    waitFor([&] {
      json all = api("/api/projects/web/monitors");  // kept: the loop reads into it
      for (const auto& m : all["monitors"]) {
        if (m["monitor"] == name && pred(m)) {
          found = m;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  fs::path serviceDir_;
  int port_ = 0;
  pid_t service_ = -1;
};

TEST_F(MonitorTest, EachKindOfProbeJudgesTheLiveRelease) {
  auto up = [](const json& m) { return m["state"] == "up"; };
  json health = monitorWhen("health", up);
  ASSERT_FALSE(health.is_null()) << api("/api/projects/web/monitors").dump(2);
  EXPECT_EQ(health["release"], "0.1.0");
  EXPECT_EQ(health["kind"], "http");
  EXPECT_THAT(health["detail"].get<std::string>(), HasSubstr("HTTP 200"));
  EXPECT_EQ(health["slo"]["availability"], 99.0);
  EXPECT_EQ(monitorWhen("port", up)["kind"], "tcp");
  // The secret reached the command in its environment, and is masked in what it said.
  json queue = monitorWhen("queue", up);
  ASSERT_FALSE(queue.is_null()) << api("/api/projects/web/monitors").dump(2);
  EXPECT_THAT(queue["detail"].get<std::string>(), HasSubstr("token *** ok"));
  json errors = monitorWhen("errors", up);
  EXPECT_EQ(errors["detail"], "value 0.25");
  json scrape = monitorWhen("scrape", up);
  EXPECT_THAT(scrape["detail"].get<std::string>(), HasSubstr("1 samples"));

  // A query without series is its own verdict, never a pass, and opens an incident too.
  json ghost = monitorWhen("ghost", [](const json& m) { return m["incident_id"].is_number(); });
  ASSERT_FALSE(ghost.is_null()) << api("/api/projects/web/monitors").dump(2);
  EXPECT_EQ(ghost["verdict"], "no_data");
  EXPECT_EQ(ghost["state"], "down");
  json incident = api("/api/incidents/" + std::to_string(ghost["incident_id"].get<int64_t>()));
  EXPECT_EQ(incident["source"], "monitor");
  EXPECT_EQ(incident["monitor"], "ghost");
  EXPECT_THAT(incident["title"].get<std::string>(), HasSubstr("no data"));

  // The CLI shows the same, the secret nowhere.
  Output shown = client({"monitors", "web"});
  ASSERT_EQ(shown.exitCode, 0) << shown.all();
  EXPECT_THAT(shown.out, HasSubstr("health"));
  EXPECT_THAT(shown.out, HasSubstr("no_data: the query returned no series"));
  EXPECT_THAT(shown.all(), Not(HasSubstr(kSecret)));
  EXPECT_THAT(api("/api/projects/web/monitors").dump(), Not(HasSubstr(kSecret)));
}

TEST_F(MonitorTest, AFailureOpensAnIncidentThatADeployJoinsAndRecoveryResolves) {
  ASSERT_FALSE(monitorWhen("health", [](const json& m) { return m["state"] == "up"; }).is_null());
  // The monitor's changes are live events too.
  fs::path events = repo_.scratch() / "events.txt";
  pid_t reader = startProcess(
      {"/usr/bin/curl", "-sN", "-o", events.string(), "-H",
       "Authorization: Bearer " + server_->token(), server_->url() + "/api/events?project=web"},
      repo_.scratch(), repo_.scratch() / "curl.log");
  ASSERT_TRUE(waitFor([&] { return readFile(events).find("retry:") != std::string::npos; }));
  fs::remove(serviceDir_ / "HEALTHY");
  json down = monitorWhen("health", [](const json& m) { return m["incident_id"].is_number(); });
  ASSERT_FALSE(down.is_null()) << api("/api/projects/web/monitors").dump(2);
  EXPECT_THAT(down["detail"].get<std::string>(), HasSubstr("HTTP 503"));
  std::string id = std::to_string(down["incident_id"].get<int64_t>());
  json i = api("/api/incidents/" + id);
  EXPECT_EQ(i["state"], "open");
  EXPECT_EQ(i["env"], "prod");
  EXPECT_EQ(i["release"], "0.1.0");
  EXPECT_EQ(i["deploy_id"], 1);
  EXPECT_EQ(i["opened_by"], "boucle");

  // A fix is deployed while it is open: the timeline says so.
  repo_.write("FIX", "1\n");
  repo_.commit("fix: the health check", "Ada");
  ASSERT_EQ(triggerAndWait("web", 2)["state"], "passed");
  ASSERT_TRUE(deploySucceeded("web", "prod", 2));
  // The new release is watched, its failures still count toward the same incident.
  json watched = monitorWhen("health", [](const json& m) { return m["release"] == "0.1.1"; });
  ASSERT_FALSE(watched.is_null()) << api("/api/projects/web/monitors").dump(2);
  EXPECT_EQ(watched["incident_id"].get<int64_t>(), std::stoll(id));

  std::ofstream(serviceDir_ / "HEALTHY") << "yes\n";
  ASSERT_TRUE(waitFor([&] { return api("/api/incidents/" + id)["state"] == "resolved"; }))
      << api("/api/incidents/" + id).dump(2);
  i = api("/api/incidents/" + id);
  EXPECT_EQ(i["resolved_by"], "boucle");
  std::vector<std::string> kinds;
  for (const auto& e : i["timeline"]) kinds.push_back(e["kind"]);
  EXPECT_THAT(kinds, ::testing::ElementsAre("opened", "failures", "deploy", "resolved"))
      << i.dump(2);
  EXPECT_THAT(i["timeline"][2]["text"].get<std::string>(), HasSubstr("0.1.1 succeeded"));
  EXPECT_EQ(monitorWhen("health", [](const json& m) { return m["state"] == "up"; })["incident_id"],
            nullptr);
  // Its moves, in order: failing, down (the incident), then up again (told once the incident
  // is resolved: waited for).
  auto downThenUp = [&] {
    std::istringstream lines(readFile(events));
    bool down = false;
    for (std::string line; std::getline(lines, line);) {
      if (line.find(R"("monitor":"health")") == std::string::npos) continue;
      if (line.find(R"("state":"down")") != std::string::npos) down = true;
      if (down && line.find(R"("state":"up")") != std::string::npos) return true;
    }
    return false;
  };
  ASSERT_TRUE(waitFor(downThenUp)) << readFile(events);
  std::vector<std::string> moves;
  std::string text = readFile(events);
  std::regex frame("event: monitor\ndata: ([^\n]*)\n");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), frame);
       it != std::sregex_iterator(); ++it) {
    json m = json::parse((*it)[1].str(), nullptr, false);
    if (m["monitor"] == "health") moves.push_back(m["state"].get<std::string>());
  }
  ::kill(reader, SIGTERM);
  waitExit(reader);
  EXPECT_THAT(moves, ::testing::IsSupersetOf({"failing", "down", "up"})) << text;
  ASSERT_FALSE(moves.empty());
  EXPECT_EQ(moves.back(), "up");

  // DORA counts the release live when the first incident began (the ghost's, or this one) as
  // failed.
  json dora = api("/api/projects/web/dora?env=prod");
  bool counted = false;
  for (const auto& row : dora["change_failure_rate"]["rows"]) {
    if (row["version"] == "0.1.0") counted = row["cause"] == "incident";
  }
  EXPECT_TRUE(counted) << dora["change_failure_rate"].dump(2) << i.dump(2);
}

// /metrics in Prometheus' text format, read by a scraper's `metrics` token (which reads
// nothing else), checked by promtool, and scraped by a real Prometheus that then answers a
// PromQL query about boucle's own monitors.
TEST_F(MonitorTest, PrometheusScrapesMetricsWithAMetricsToken) {
  ASSERT_FALSE(monitorWhen("health", [](const json& m) { return m["state"] == "up"; }).is_null());
  ASSERT_FALSE(
      monitorWhen("ghost", [](const json& m) { return m["incident_id"].is_number(); }).is_null());
  Output made = client({"token", "add", "scraper", "--role", "metrics"});
  ASSERT_EQ(made.exitCode, 0) << made.err;
  std::string scraper = made.out.substr(0, made.out.find('\n'));
  Output viewerMade = client({"token", "add", "vic", "--role", "viewer"});
  std::string viewer = viewerMade.out.substr(0, viewerMade.out.find('\n'));
  auto get = [&](const std::string& path, const std::string& token) {
    std::vector<std::string> h;
    if (!token.empty()) h.push_back("Authorization: Bearer " + token);
    return curl("GET", server_->url() + path, "", h);
  };
  EXPECT_EQ(get("/metrics", "").status, 401);
  EXPECT_EQ(get("/metrics", viewer).status, 200);
  EXPECT_EQ(get("/api/projects", scraper).status, 403);  // a scraper reads metrics only
  EXPECT_EQ(get("/api/projects/web/monitors", scraper).status, 403);
  Http metrics = get("/metrics", scraper);
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body,
              HasSubstr("boucle_monitor_up{project=\"web\",environment=\"prod\",monitor=\"health\","
                        "host=\"\",release=\"0.1.0\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("boucle_monitor_up{project=\"web\",environment=\"prod\","
                                      "monitor=\"ghost\",host=\"\",release=\"0.1.0\"} 0\n"));
  EXPECT_THAT(metrics.body, HasSubstr("boucle_deploys{project=\"web\",environment=\"prod\","
                                      "state=\"succeeded\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("boucle_runs{project=\"web\",state=\"passed\"} 1\n"));
  EXPECT_THAT(metrics.body,
              HasSubstr("boucle_incidents_open{project=\"web\",environment=\"prod\"} 1\n"));
  EXPECT_THAT(metrics.body,
              HasSubstr("boucle_dora_deploys_per_day{project=\"web\",environment=\"prod\"}"));
  EXPECT_THAT(metrics.body, Not(HasSubstr(kSecret)));
  fs::path file = repo_.scratch() / "metrics.txt";
  std::ofstream(file) << metrics.body;
  Output lint = runCommand({"/usr/bin/sh", "-c", "promtool check metrics < \"$0\"", file.string()},
                           repo_.scratch());
  EXPECT_EQ(lint.exitCode, 0) << lint.all();

  // A real Prometheus scrapes boucle with the scraper's token, then answers about it.
  fs::path prom = repo_.scratch() / "prometheus";
  fs::create_directories(prom / "data");
  std::ofstream(prom / "token") << scraper;
  std::string target = server_->url().substr(std::string("http://").size());
  std::ofstream(prom / "prometheus.yml") << "global: {scrape_interval: 1s}\n"
                                            "scrape_configs:\n"
                                            "  - job_name: boucle\n"
                                            "    authorization: {credentials_file: "
                                         << (prom / "token").string()
                                         << "}\n"
                                            "    static_configs: [{targets: ['"
                                         << target << "']}]\n";
  int port = freePort();
  pid_t pid =
      startProcess({"/usr/bin/prometheus", "--config.file=" + (prom / "prometheus.yml").string(),
                    "--storage.tsdb.path=" + (prom / "data").string(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                   prom, prom / "log");
  std::string query = "http://127.0.0.1:" + std::to_string(port) +
                      "/api/v1/query?query=boucle_monitor_up%7Bmonitor%3D%22health%22%7D";
  json answer;
  bool answered = waitFor(
      [&] {
        answer = json::parse(curl("GET", query).body, nullptr, false);
        return answer.is_object() && answer["data"]["result"].is_array() &&
               !answer["data"]["result"].empty();
      },
      std::chrono::seconds(60));
  ::kill(pid, SIGTERM);
  waitExit(pid);
  ASSERT_TRUE(answered) << readFile(prom / "log");
  const json& series = answer["data"]["result"][0];
  EXPECT_EQ(series["metric"]["project"], "web");
  EXPECT_EQ(series["metric"]["release"], "0.1.0");
  EXPECT_EQ(series["value"][1], "1");
}

// A monitor that fails all the time burns its SLO's error budget far faster than 14.4 times
// the allowed rate over the last hour and the last 5 minutes: a page-level burn, which opens
// an incident of its own, before (here: without) `fail_after` failures in a row.
class BurnTest : public ServerFixture {};

TEST_F(BurnTest, APageLevelBurnOpensAnIncidentOfItsOwn) {
  int closed = freePort();  // nothing listens there
  repo_.write(".boucle.yml", R"yml(jobs:
  build: {run: 'true'}
release: {branches: [main]}
environments:
  prod: {auto: true}
deploy:
  driver: command
  command: 'true'
monitor:
  - name: api
    tcp: "127.0.0.1:)yml" + std::to_string(closed) +
                                 R"yml("
    every: 2s
    timeout: 1s
    fail_after: 100
    slo: {availability: 99.9%}
)yml");
  repo_.commit("feat: watched", "Ada");
  ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
  ASSERT_EQ(triggerAndWait("web", 1)["state"], "passed");
  ASSERT_TRUE(deploySucceeded("web", "prod"));
  json incident;
  ASSERT_TRUE(waitFor(
      [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a minute or so: gently
        json list = api("/api/projects/web/incidents");
        for (const auto& i : list["incidents"]) {
          if (i["title"].get<std::string>().find("burning its error budget") != std::string::npos)
            incident = i;
        }
        return !incident.is_null();
      },
      std::chrono::seconds(150)))
      << api("/api/projects/web/incidents").dump(2) << api("/api/projects/web/monitors").dump(2);
  EXPECT_EQ(incident["state"], "open");
  EXPECT_EQ(incident["monitor"], "api");
  EXPECT_EQ(incident["env"], "prod");
  EXPECT_EQ(incident["release"], "0.1.0");
  // No incident from the streak: 100 failures in a row have not come yet.
  EXPECT_EQ(api("/api/projects/web/incidents")["incidents"].size(), 1u);
  json monitor = api("/api/projects/web/monitors")["monitors"][0];
  EXPECT_EQ(monitor["slo"]["burn"], "page");
}

}  // namespace
}  // namespace boucle::testing
