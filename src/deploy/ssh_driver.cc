#include "deploy/ssh_driver.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/encoding.h"
#include "deploy/step.h"
#include "os/files.h"
#include "os/process.h"
#include "vault/blob_store.h"

extern char** environ;

namespace boucle::deploy {
namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

std::string q(const std::string& s) {
  return shellQuote(s);
}

// The last line of what a command printed, for failure messages ("Connection refused").
std::string lastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto nl = text.rfind('\n');
  text = nl == std::string::npos ? text : text.substr(nl + 1);
  return text.size() > 300 ? text.substr(text.size() - 300) : text;
}

// The system's OpenSSH client, with one master connection per host for the whole deploy (each
// later command on that host then costs a few milliseconds instead of a handshake). Masters
// end with the deploy, or by themselves a minute after a server that died.
class SshClient {
 public:
  explicit SshClient(const Target& t) {
    auto found = os::findOnPath("ssh");
    binary_ = found.ok() ? *found : "/usr/bin/ssh";
    if (auto cfg = t.values.find("env.ssh_config"); cfg != t.values.end() && !cfg->second.empty()) {
      options_ = {"-F", cfg->second};
    }
    // BatchMode: a host asking for a password fails at once instead of hanging the deploy.
    for (const char* o : {"BatchMode=yes", "ConnectTimeout=10", "ServerAliveInterval=15",
                          "ServerAliveCountMax=4"}) {
      options_.insert(options_.end(), {"-o", o});
    }
    // A short path: sockets' paths are limited to 107 bytes.
    char dir[] = "/tmp/boucle-ssh-XXXXXX";
    if (::mkdtemp(dir)) {
      controlDir_ = dir;
      std::vector<std::string> control{
          "ControlMaster=auto", "ControlPath=" + controlDir_.string() + "/%C", "ControlPersist=60"};
      for (const auto& o : control) options_.insert(options_.end(), {"-o", o});
    }
    for (char** e = environ; *e; ++e) env_.emplace_back(*e);
  }

  ~SshClient() {
    for (const auto& h : used_) {
      auto argv = destination(h, {"-O", "exit"});
      (void)os::runAndCapture(argv);
    }
    std::error_code ec;
    if (!controlDir_.empty()) fs::remove_all(controlDir_, ec);
  }
  SshClient(const SshClient&) = delete;
  SshClient& operator=(const SshClient&) = delete;

  // `command` for the remote shell; `input` its stdin (-1: none).
  Status run(const Host& h, const std::string& command, LogSink& log, milliseconds timeout,
             int input = -1, std::string* capture = nullptr, bool logOutput = true,
             int* exitCode = nullptr) {
    {
      std::lock_guard lock(mu_);
      used_.insert(h);
    }
    StepRun r;
    r.argv = destination(h, {});
    r.argv.push_back(command);
    r.env = env_;
    r.inputFd = input;
    r.timeout = timeout;
    r.capture = capture;
    r.logOutput = logOutput;
    r.exitCode = exitCode;
    return runLogged(r, log);
  }

 private:
  struct HostKey {
    std::string user, address;
    int port;
    HostKey(const Host& h) : user(h.user), address(h.address), port(h.port) {}
    bool operator<(const HostKey& o) const {
      return std::tie(user, address, port) < std::tie(o.user, o.address, o.port);
    }
  };

  std::vector<std::string> destination(const HostKey& h, std::vector<std::string> extra) const {
    std::vector<std::string> argv{binary_};
    argv.insert(argv.end(), options_.begin(), options_.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (h.port) argv.insert(argv.end(), {"-p", std::to_string(h.port)});
    if (!h.user.empty()) argv.insert(argv.end(), {"-l", h.user});
    argv.insert(argv.end(), {"--", h.address});
    return argv;
  }

  std::string binary_;
  std::vector<std::string> options_;
  std::vector<std::string> env_;  // ours: ssh finds the user's keys, agent and config by it
  fs::path controlDir_;
  std::mutex mu_;
  std::set<HostKey> used_;
};

// `shell` running `text` on the host, the text in the shell's environment rather than its
// command line: a step or check rendered with a secret must not show in the host's `ps`.
std::string evalling(const std::string& text, const std::string& shell) {
  return "BOUCLE_SCRIPT=" + shellQuote(text) + "; export BOUCLE_SCRIPT; exec " + shell +
         " -c 'eval \"$BOUCLE_SCRIPT\"'";
}

// The deploy's variables for a remote script, each value quoted.
std::string exportsOf(const Target& t, const Host& h) {
  std::string out;
  for (const auto& e : deployVariables(t)) {
    auto eq = e.find('=');
    out += "export " + e.substr(0, eq) + "=" + q(e.substr(eq + 1)) + "\n";
  }
  return out + "export BOUCLE_HOST=" + q(h.name) + "\n";
}

// A script run in the release folder with the deploy's variables. The braces make the remote
// shell read all of it before running any, so the command cannot read the script's rest.
std::string inReleaseDir(const Target& t, const Host& h, const std::string& command) {
  return "{\n" + exportsOf(t, h) + "cd " + q(t.values.at("release.dir")) + " || exit 1\n" +
         command + " </dev/null\n}\n";
}

struct HostResult {
  bool ok = false;
  bool touched = false;
  std::string failure;
  std::vector<SmokeResult> smoke;
};

class HostDeploy {
 public:
  HostDeploy(const Target& t, const Host& h, SshClient& ssh, const fs::path& blobRoot, LogSink& log)
      : t_(t), h_(h), ssh_(ssh), blobRoot_(blobRoot), log_(log) {
    timeout_ = std::chrono::duration_cast<milliseconds>(t.spec.timeout);
    releaseDir_ = t.values.at("release.dir");
    partial_ = (t.dir / "releases" / ("." + t.release.version + ".partial")).string();
  }

  HostResult run() {
    if (!install() || !configure() || !steps() || !switchCurrent()) return r_;
    smoke();
    return r_;
  }

  // A migration of the release, in its folder (installed first when it is not there).
  HostResult migrate(const std::string& command) {
    // Its config as a deploy of it writes it: a migration reads the database's address there.
    if (!install() || !configure()) return r_;
    log_.say("migration: " + command);
    if (!runInRelease("migration", command)) return r_;
    r_.ok = true;
    return r_;
  }

 private:
  bool fail(std::string what) {
    r_.failure = std::move(what);
    log_.say("FAILED: " + r_.failure);
    return false;
  }

  // A short command of boucle's own; its output only in the failure message.
  bool quiet(const std::string& what, const std::string& command, std::string* out = nullptr) {
    std::string captured;
    auto st = ssh_.run(h_, command, log_, timeout_, -1, &captured, false);
    if (out) *out = captured;
    if (st.ok()) return true;
    std::string last = lastLine(captured);
    return fail(what + ": " + st.message() + (last.empty() ? "" : " (" + last + ")"));
  }

  bool install() {
    std::string state;
    if (!quiet("connect",
               "if [ -d " + q(releaseDir_) + " ]; then echo reuse; else rm -rf " + q(partial_) +
                   " && mkdir -p " + q(partial_) + " && echo fresh; fi",
               &state)) {
      return false;
    }
    if (state.starts_with("reuse")) {
      log_.say("release folder " + releaseDir_ + " is already there: reused");
      return true;
    }
    vault::BlobStore blobs(blobRoot_);
    for (const auto& a : json::parse(t_.release.artifactsJson, nullptr, false)) {
      std::string name = a.value("name", ""), sha = a.value("sha256", "");
      if (!blobs.contains(sha)) return fail("artifact " + name + " is not in the store");
      std::string base = fs::path(name).filename().string();
      bool archive = base.ends_with(".tar.gz") || base.ends_with(".tgz");
      // The host checks what arrived against the release's hash before using it.
      std::string script = "set -e\ncd " + q(partial_) +
                           "\ncat > .incoming\n"
                           "got=$(sha256sum .incoming | cut -c1-64)\n"
                           "if [ \"$got\" != " +
                           q(sha) +
                           " ]; then rm -f .incoming; echo \"arrived with sha256 $got\" >&2; "
                           "exit 3; fi\n" +
                           (archive ? "tar -xzf .incoming --no-same-owner\nrm -f .incoming\n"
                                    : "mv .incoming " + q(base) + "\nchmod 644 " + q(base) + "\n");
      os::Fd blob(::open(blobs.pathOf(sha).c_str(), O_RDONLY | O_CLOEXEC));
      if (blob.get() < 0) return fail("artifact " + name + ": " + std::strerror(errno));
      std::string out;
      auto st = ssh_.run(h_, script, log_, timeout_, blob.get(), &out, false);
      if (!st.ok()) {
        (void)quiet("clean up", "rm -rf " + q(partial_));
        std::string last = lastLine(out);
        return fail("copy " + name + ": " + st.message() + (last.empty() ? "" : " (" + last + ")"));
      }
      log_.say(std::string(archive ? "unpacked " : "copied ") + name + " (sha256 " +
               sha.substr(0, 16) + "…, checked on arrival)");
    }
    if (!quiet("install", "mv " + q(partial_) + " " + q(releaseDir_))) return false;
    log_.say("installed into " + releaseDir_);
    return true;
  }

  bool configure() {
    for (const auto& [to, content] : h_.plan.configFiles) {
      auto input = textAsInput(content);
      if (!input.ok()) return fail("config " + to + ": " + input.status().message());
      os::Fd fd(*input);
      std::string tmp = to + ".boucle-new";
      std::string script = "set -e\numask 027\nmkdir -p " + q(fs::path(to).parent_path()) +
                           "\ncat > " + q(tmp) + "\nmv " + q(tmp) + " " + q(to) + "\n";
      std::string out;
      if (auto st = ssh_.run(h_, script, log_, timeout_, fd.get(), &out, false); !st.ok()) {
        return fail("config " + to + ": " + st.message() + " (" + lastLine(out) + ")");
      }
      log_.say("wrote " + to);
    }
    return true;
  }

  // `what` names it in a failure ("step", "migration").
  bool runInRelease(const std::string& what, const std::string& command) {
    auto input = textAsInput(inReleaseDir(t_, h_, evalling(command, "/bin/sh -e")));
    if (!input.ok()) return fail(what + " '" + command + "': " + input.status().message());
    os::Fd fd(*input);
    if (auto st = ssh_.run(h_, "/bin/sh -s", log_, timeout_, fd.get()); !st.ok()) {
      return fail(what + " '" + command + "' failed: " + st.message());
    }
    return true;
  }

  bool steps() {
    for (const auto& step : h_.plan.steps) {
      r_.touched = true;
      log_.say("step: " + step);
      if (!runInRelease("step", step)) return false;
    }
    return true;
  }

  bool switchCurrent() {
    r_.touched = true;
    std::string link = "releases/" + t_.release.version;
    if (!quiet("switch", "cd " + q(t_.dir) + " && ln -sfn " + q(link) +
                             " .current.boucle && mv -T .current.boucle current")) {
      return false;
    }
    log_.say("switched " + (t_.dir / "current").string() + " to " + link);
    return true;
  }

  void smoke() {
    CommandRunner remote = [&](const std::string& command,
                               int seconds) -> Result<os::CaptureResult> {
      auto input = textAsInput(inReleaseDir(
          t_, h_, evalling(command, "timeout -k 2 " + std::to_string(seconds) + " /bin/sh -e")));
      if (!input.ok()) return input.status();
      os::Fd fd(*input);
      os::CaptureResult out;
      auto st = ssh_.run(h_, "/bin/sh -s", log_, milliseconds((seconds + 15) * 1000), fd.get(),
                         &out.output, false, &out.exitCode);
      if (st.code() == Code::kTimeout) out.exitCode = 124;
      return out;
    };
    r_.ok = true;
    for (size_t i = 0; i < t_.spec.smoke.size(); ++i) {
      auto r = runSmokeCheck(t_.spec.smoke[i], h_.plan.smokeTargets[i], {}, t_.environ, remote);
      log_.say(std::string(r.ok ? "smoke ok: " : "smoke FAILED: ") + r.check + " (" + r.detail +
               ")");
      if (!r.ok && r_.ok) r_.failure = "smoke check " + r.check + " failed: " + r.detail;
      r_.ok = r_.ok && r.ok;
      r.check = h_.name + ": " + r.check;
      r_.smoke.push_back(std::move(r));
    }
  }

  const Target& t_;
  const Host& h_;
  SshClient& ssh_;
  fs::path blobRoot_;
  LogSink& log_;
  milliseconds timeout_;
  std::string releaseDir_, partial_;
  HostResult r_;
};

void dryRun(const Target& t, DeployLog& log) {
  log.say("dry run: nothing is touched");
  std::string releaseDir = t.values.at("release.dir");
  for (const auto& h : t.hosts) {
    HostLog hl(log, h.name);
    hl.say("would install into " + releaseDir + " (unless it is there)");
    for (const auto& [to, content] : h.plan.configFiles) {
      hl.say("would write " + to + " (" + std::to_string(content.size()) + " bytes)");
    }
    for (const auto& s : h.plan.steps) hl.say("would run in " + releaseDir + ": " + s);
    hl.say("would switch " + (t.dir / "current").string() + " to releases/" + t.release.version);
    for (const auto& s : h.plan.smokeTargets) hl.say("would check " + s);
  }
}

}  // namespace

Outcome deploySsh(const Target& t, const fs::path& blobRoot, DeployLog& log, bool dry) {
  Outcome o;
  auto batches = batchesOf(t);
  log.say(describeBatches(t));
  if (dry) {
    dryRun(t, log);
    o.ok = true;
    return o;
  }
  SshClient ssh(t);
  if (!t.migrateUp.empty() && !t.hosts.empty()) {
    HostLog hl(log, t.hosts.front().name);
    auto r = HostDeploy(t, t.hosts.front(), ssh, blobRoot, hl).migrate(t.migrateUp);
    if (!r.ok) {
      o.failure = "host " + t.hosts.front().name + ": " + r.failure;
      return o;
    }
    o.migrated = true;
    if (t.onMigrated) t.onMigrated();
  }
  for (size_t b = 0; b < batches.size(); ++b) {
    const Batch& batch = batches[b];
    if (batches.size() > 1) log.say("batch " + std::to_string(b + 1) + ": " + namesOf(batch));
    std::vector<HostResult> results(batch.size());
    auto one = [&](size_t i) {
      HostLog hl(log, batch[i]->name);
      results[i] = HostDeploy(t, *batch[i], ssh, blobRoot, hl).run();
    };
    std::vector<std::thread> threads;  // the hosts of a batch at the same time
    for (size_t i = 1; i < batch.size(); ++i) threads.emplace_back(one, i);
    one(0);
    for (auto& th : threads) th.join();
    for (size_t i = 0; i < batch.size(); ++i) {
      auto& r = results[i];
      if (r.touched) o.touched.push_back(batch[i]->name);
      for (auto& s : r.smoke) o.smoke.push_back(std::move(s));
      if (!r.ok && o.failure.empty()) o.failure = "host " + batch[i]->name + ": " + r.failure;
    }
    if (!o.failure.empty()) {
      Batch rest;
      for (size_t later = b + 1; later < batches.size(); ++later) {
        rest.insert(rest.end(), batches[later].begin(), batches[later].end());
      }
      if (!rest.empty()) log.say("stopped: not deployed to " + namesOf(rest));
      return o;
    }
  }
  log.flush();
  o.ok = true;
  return o;
}

Status migrateSsh(const Target& t, const std::string& command, const fs::path& blobRoot,
                  DeployLog& log) {
  if (t.hosts.empty()) return Status::Invalid("no host to migrate on");
  SshClient ssh(t);
  HostLog hl(log, t.hosts.front().name);
  auto r = HostDeploy(t, t.hosts.front(), ssh, blobRoot, hl).migrate(command);
  if (!r.ok) return Status::Io("host " + t.hosts.front().name + ": " + r.failure);
  return Status::Ok();
}

Status mayWipeSsh(const Target& t) {
  fs::path dir = t.dir.lexically_normal();
  bool climbs = std::any_of(dir.begin(), dir.end(), [](const fs::path& p) { return p == ".."; });
  if (!dir.is_absolute() || climbs || std::distance(dir.begin(), dir.end()) < 3) {
    return Status::Invalid("blank: refusing to wipe below '" + t.dir.string() +
                           "': give the environment a 'dir' value of its own");
  }
  return Status::Ok();
}

Status wipeSsh(const Target& t, DeployLog& log) {
  if (auto st = mayWipeSsh(t); !st.ok()) return st;
  fs::path dir = t.dir.lexically_normal();
  SshClient ssh(t);
  auto timeout = std::chrono::duration_cast<milliseconds>(t.spec.timeout);
  for (const auto& h : t.hosts) {
    HostLog hl(log, h.name);
    std::string out;
    auto st = ssh.run(h,
                      "if [ -e " + q(dir) + " ]; then cd " + q(dir) +
                          " && rm -rf releases current .current.boucle; fi",
                      hl, timeout, -1, &out, false);
    if (!st.ok())
      return Status::Io("blank: host " + h.name + ": " + st.message() + " (" + lastLine(out) + ")");
    hl.say("blank: removed " + (dir / "releases").string() + " and " + (dir / "current").string());
  }
  return Status::Ok();
}

}  // namespace boucle::deploy
