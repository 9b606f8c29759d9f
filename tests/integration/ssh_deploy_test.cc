// Deploys to real hosts: sshd processes in network namespaces (ssh_hosts.sh), reached by the
// ssh driver over the system's OpenSSH client and by ansible-playbook. Rolling batches, one
// host that fails, an unreachable host, a dry run, rollback of exactly the hosts changed.
#include <gmock/gmock.h>

#include "server_fixture.h"
#include "ssh_hosts.h"

namespace boucle::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

// The service: answers /health with "OK VERSION HOSTNAME".
constexpr const char* kServe = R"py(import http.server, socket, sys
version = open('VERSION').read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = 'OK ' + version + ' ' + socket.gethostname() + '\n'
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *a):
        pass
http.server.HTTPServer(('0.0.0.0', int(sys.argv[1])), H).serve_forever()
)py";

// restart: refuses on the host FAIL_ON names; else replaces the running copy and waits for it.
constexpr const char* kCtl = R"sh(#!/bin/sh
set -e
if [ -f FAIL_ON ] && [ "$(cat FAIL_ON)" = "$(hostname)" ]; then
  echo "refusing to start on $(hostname)"; exit 1
fi
pidfile="$BOUCLE_ENV_DIR/app.pid"
if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; sleep 0.3; fi
nohup python3 serve.py 8080 > "$BOUCLE_ENV_DIR/app.log" 2>&1 &
echo $! > "$pidfile"
echo "started $BOUCLE_RELEASE_VERSION on $(hostname) as $BOUCLE_HOST"
for i in $(seq 50); do
  python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8080))' 2>/dev/null && exit 0
  sleep 0.1
done
exit 1
)sh";

constexpr const char* kBuild = R"yml(jobs:
  build:
    run: |
      mkdir -p dist/pkg
      cp app/serve.py app/ctl MARK dist/pkg/
      mv dist/pkg/MARK dist/pkg/VERSION
      [ ! -e FAIL_ON ] || cp FAIL_ON dist/pkg/
      tar czf dist/app.tar.gz -C dist/pkg .
    artifacts: [dist/app.tar.gz]
environments:
  staging: {}
)yml";

class SshDeployTest : public ServerFixture {
 protected:
  void start(int hostCount, const std::string& deploySection) {
    hosts_ = std::make_unique<SshHosts>(hostCount);
    ASSERT_TRUE(hosts_->up()) << hosts_->startLog();
    repo_.write(".boucle.yml", std::string(kBuild) + deploySection);
    repo_.write("app/serve.py", kServe);
    repo_.write("app/ctl", kCtl);
    runCommand({"/usr/bin/chmod", "+x", (repo_.dir() / "app/ctl").string()}, repo_.dir());
    repo_.write("deploy/app.conf.mustache",
                "env={{ env.name }} host={{ host.name }} greeting={{ env.greeting }}\n");
    repo_.write("MARK", "1\n");
    repo_.commit("feat: the service", "Ada");
    ASSERT_EQ(client({"project", "add", "web", repo_.dir().string(), "--poll", "0"}).exitCode, 0);
    Output set = client({"env", "set", "web", "staging", "dir=/srv/app", "hosts=" + hosts_->all(),
                         "ssh_config=" + hosts_->sshConfig().string(), "greeting=hi"});
    ASSERT_EQ(set.exitCode, 0) << set.err;
  }
  std::string releaseRun(int64_t run) {
    json r0 = triggerAndWait("web", run);
    EXPECT_EQ(r0["state"], "passed") << r0.dump();
    Output r = client({"release", "web", "--json"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return json::parse(r.out, nullptr, false).value("version", "");
  }
  json deploy(const std::string& version, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"deploy", "web", version, "--to", "staging", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Output r = client(args);
    EXPECT_EQ(r.exitCode, 0) << r.all();
    int64_t id = json::parse(r.out, nullptr, false).value("id", int64_t{0});
    json d;
    waitFor(
        [&] {
          d = api("/api/deploys/" + std::to_string(id));
          std::string s = d.value("state", "");
          return s != "queued" && s != "running" && !s.empty();
        },
        std::chrono::seconds(90));
    return d;
  }
  std::string log(const json& d) {
    return readFile(server_->data() / "deploys" / (std::to_string(d.value("id", 0)) + ".log"));
  }
  std::string on(int host, const std::string& command) { return hosts_->ssh(host, command).out; }
  std::string health(int host) {
    return curl("GET", "http://" + hosts_->address(host) + ":8080/health").body;
  }
  std::unique_ptr<SshHosts> hosts_;
};

TEST_F(SshDeployTest, RollingDeployStopsAtTheFailingHostAndPutsBackOnlyWhatItChanged) {
  start(3, R"yml(deploy:
  driver: ssh
  hosts: "{{ env.hosts }}"
  strategy: {rolling: 1}
  config:
    - template: deploy/app.conf.mustache
      to: "{{ release.dir }}/app.conf"
  steps:
    - ./ctl restart
  smoke:
    - http: "http://{{ host.address }}:8080/health"
      expect: {status: 200, contains: OK, within: 2s}
    - run: grep -q "host=$BOUCLE_HOST greeting=hi" app.conf
  on_failure: rollback
)yml");
  std::string v1 = releaseRun(1);
  json d = deploy(v1);
  ASSERT_EQ(d["state"], "succeeded") << d.dump() << log(d);
  std::string text = log(d);
  for (int i = 1; i <= 3; ++i) {
    std::string a = hosts_->address(i);
    EXPECT_EQ(on(i, "readlink /srv/app/current"), "releases/" + v1 + "\n") << a;
    EXPECT_THAT(health(i), HasSubstr("OK 1 " + hosts_->hostname(i)));
    EXPECT_THAT(on(i, "cat /srv/app/current/app.conf"), HasSubstr("host=" + a + " greeting=hi"));
    EXPECT_THAT(text, HasSubstr("[" + a + "] boucle: unpacked dist/app.tar.gz"));
    EXPECT_THAT(text, HasSubstr("[" + a + "] started " + v1 + " on " + hosts_->hostname(i)));
  }
  EXPECT_THAT(text, HasSubstr("checked on arrival"));
  EXPECT_THAT(text, HasSubstr("batch 3: " + hosts_->address(3)));
  EXPECT_EQ(d["smoke"].size(), 6u);

  // The next release refuses to start on the second host: the first has it by then, the third
  // is never reached; both changed hosts go back to v1.
  repo_.write("FAIL_ON", hosts_->hostname(2) + "\n");
  repo_.write("MARK", "2\n");
  repo_.commit("fix: a release that breaks host 2", "Bob");
  std::string v2 = releaseRun(2);
  json bad = deploy(v2);
  ASSERT_EQ(bad["state"], "rolled_back") << bad.dump() << log(bad);
  EXPECT_THAT(bad["reason"].get<std::string>(),
              HasSubstr("host " + hosts_->address(2) + ": step './ctl restart' failed: exit 1"));
  text = log(bad);
  EXPECT_THAT(
      text, HasSubstr("[" + hosts_->address(2) + "] refusing to start on " + hosts_->hostname(2)));
  EXPECT_THAT(text, HasSubstr("stopped: not deployed to " + hosts_->address(3)));
  EXPECT_THAT(text,
              HasSubstr("hosts to put back: " + hosts_->address(1) + ", " + hosts_->address(2)));
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(on(i, "readlink /srv/app/current"), "releases/" + v1 + "\n") << i;
    EXPECT_THAT(health(i), HasSubstr("OK 1 "));
  }
  EXPECT_EQ(on(1, "test -d /srv/app/releases/" + v2 + " && echo there"), "there\n");
  EXPECT_EQ(on(3, "test -d /srv/app/releases/" + v2 + " || echo never"), "never\n");
}

TEST_F(SshDeployTest, AllAtOnceNamesAnUnreachableHostAndADryRunTouchesNothing) {
  start(2, R"yml(deploy:
  driver: ssh
  hosts: "{{ env.hosts }}"
  steps:
    - ./ctl restart
  smoke:
    - tcp: "{{ host.address }}:8080"
)yml");
  std::string v1 = releaseRun(1);
  json dry = deploy(v1, {"--dry-run"});
  ASSERT_EQ(dry["state"], "succeeded") << dry.dump() << log(dry);
  EXPECT_THAT(log(dry),
              HasSubstr("[" + hosts_->address(2) + "] boucle: would run in /srv/app/releases/" +
                        v1 + ": ./ctl restart"));
  EXPECT_EQ(on(1, "test -e /srv/app || echo untouched"), "untouched\n");

  hosts_->stop(2);
  json d = deploy(v1);
  ASSERT_EQ(d["state"], "failed") << d.dump() << log(d);
  std::string reason = d["reason"];
  EXPECT_THAT(reason, HasSubstr("host " + hosts_->address(2) + ": connect: exit 255"));
  EXPECT_THAT(reason, HasSubstr("Connection refused"));
  // All at once: the reachable host got the release meanwhile.
  EXPECT_EQ(on(1, "readlink /srv/app/current"), "releases/" + v1 + "\n");
}

// Monitors that name {{ host.address }} run once per host, from the server; a `run` monitor
// would run on the server, where an ssh environment's release never ran, so it is refused.
// One host's service stopping opens an incident for that host only.
TEST_F(SshDeployTest, MonitorsRunOncePerHostAndARunMonitorStaysOffTheServer) {
  start(2, R"yml(deploy:
  driver: ssh
  hosts: "{{ env.hosts }}"
  steps:
    - ./ctl restart
monitor:
  - name: health
    http: "http://{{ host.address }}:8080/health"
    expect: {contains: OK}
    every: 1s
    timeout: 1s
    fail_after: 2
  - name: local check
    run: 'true'
    every: 1s
    timeout: 1s
)yml");
  std::string v1 = releaseRun(1);
  json d = deploy(v1);
  ASSERT_EQ(d["state"], "succeeded") << d.dump() << log(d);
  auto monitorOn = [&](int host, const std::function<bool(const json&)>& pred) {
    json found;
    waitFor([&] {
      json all = api("/api/projects/web/monitors");
      for (const auto& m : all["monitors"]) {
        if (m["monitor"] == "health" && m["host"] == hosts_->address(host) && pred(m)) {
          found = m;
          return true;
        }
      }
      return false;
    });
    return found;
  };
  auto up = [](const json& m) { return m["state"] == "up"; };
  json first = monitorOn(1, up);
  ASSERT_FALSE(first.is_null()) << api("/api/projects/web/monitors").dump(2);
  EXPECT_THAT(first["detail"].get<std::string>(), HasSubstr("HTTP 200"));
  ASSERT_FALSE(monitorOn(2, up).is_null()) << api("/api/projects/web/monitors").dump(2);
  json all = api("/api/projects/web/monitors");
  for (const auto& m : all["monitors"]) EXPECT_NE(m["monitor"], "local check") << m.dump();
  EXPECT_THAT(all["problems"].dump(),
              HasSubstr("run probes are for local and command environments"));

  on(2, "kill $(cat /srv/app/app.pid)");
  json down = monitorOn(2, [](const json& m) { return m["incident_id"].is_number(); });
  ASSERT_FALSE(down.is_null()) << api("/api/projects/web/monitors").dump(2);
  json incident = api("/api/incidents/" + std::to_string(down["incident_id"].get<int64_t>()));
  EXPECT_EQ(incident["env"], "staging");
  EXPECT_EQ(incident["release"], v1);
  EXPECT_THAT(incident["title"].get<std::string>(), HasSubstr(hosts_->address(2)));
  // Host 1 goes on: its line is up, and the only incident is host 2's.
  EXPECT_FALSE(monitorOn(1, up).is_null()) << api("/api/projects/web/monitors").dump(2);
  json incidents = api("/api/projects/web/incidents");
  ASSERT_EQ(incidents["incidents"].size(), 1u) << incidents.dump(2);
  EXPECT_EQ(incidents["incidents"][0]["id"], down["incident_id"]);
}

TEST_F(SshDeployTest, AnsibleRunsTheReleasesPlaybookOnEveryHostAndNamesTheOneThatFailed) {
  start(2, R"yml(deploy:
  driver: ansible
  hosts: "{{ env.hosts }}"
  playbook: deploy/site.yml
  smoke:
    - http: "http://{{ host.address }}:8080/health"
)yml");
  repo_.write("deploy/site.yml", R"yml(- hosts: all
  gather_facts: false
  tasks:
    - name: release folder
      ansible.builtin.file: {path: "{{ release_dir }}", state: directory}
    - name: unpack
      ansible.builtin.unarchive:
        src: "{{ boucle_artifacts['dist/app.tar.gz'] }}"
        dest: "{{ release_dir }}"
    - name: refuse where asked
      ansible.builtin.fail: {msg: "not on this host"}
      when: boucle_env.fail_on | default('') == inventory_hostname + ' ' + release_version
    - name: config
      ansible.builtin.copy:
        content: "greeting={{ boucle_env.greeting }} version={{ release_version }}\n"
        dest: "{{ release_dir }}/app.conf"
    - name: switch
      ansible.builtin.file: {src: "{{ release_dir }}", dest: "{{ boucle_env.dir }}/current", state: link}
    - name: start
      ansible.builtin.shell: cd {{ boucle_env.dir }}/current && ./ctl restart
      environment: {BOUCLE_ENV_DIR: "{{ boucle_env.dir }}", BOUCLE_RELEASE_VERSION: "{{ release_version }}", BOUCLE_HOST: "{{ inventory_hostname }}"}
)yml");
  repo_.commit("feat: deployed by ansible", "Ada");
  std::string v1 = releaseRun(1);
  json d = deploy(v1);
  ASSERT_EQ(d["state"], "succeeded") << d.dump() << log(d);
  for (int i = 1; i <= 2; ++i) {
    EXPECT_EQ(on(i, "cat /srv/app/current/app.conf"), "greeting=hi version=" + v1 + "\n");
    EXPECT_THAT(health(i), HasSubstr("OK 1 " + hosts_->hostname(i)));
  }
  EXPECT_THAT(log(d), HasSubstr("PLAY RECAP"));

  repo_.write("MARK", "2\n");
  repo_.commit("feat: second", "Ada");
  std::string v2 = releaseRun(2);
  Output set = client({"env", "set", "web", "staging", "fail_on=" + hosts_->address(2) + " " + v2});
  ASSERT_EQ(set.exitCode, 0);
  json bad = deploy(v2);
  // The first release comes back on both hosts (the playbook ran on both).
  ASSERT_EQ(bad["state"], "rolled_back") << bad.dump() << log(bad);
  EXPECT_THAT(bad["reason"].get<std::string>(),
              HasSubstr("[" + hosts_->address(2) + "]: FAILED! => "));
  for (int i = 1; i <= 2; ++i) EXPECT_THAT(health(i), HasSubstr("OK 1 "));
}

}  // namespace
}  // namespace boucle::testing
