#include "deploy/local_driver.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "os/files.h"
#include "pipeline/parser.h"
#include "runner/process.h"
#include "vault/blob_store.h"

namespace boucle::deploy {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. With the
// pid it names one process for good (pids are reused, start times with them are not).
std::string startTimeOf(pid_t pid) {
  auto stat = os::readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return "";
  auto close = stat->rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return "";
  std::string rest = stat->substr(close + 2);
  size_t field = 3;  // rest starts at field 3 (state)
  size_t at = 0;
  while (field < 22 && at != std::string::npos) {
    at = rest.find(' ', at);
    if (at != std::string::npos) ++at;
    ++field;
  }
  if (at == std::string::npos) return "";
  return rest.substr(at, rest.find(' ', at) - at);
}

}  // namespace

bool endOrphanedStep(const fs::path& file) {
  fs::path marker = file;
  marker += ".step";
  auto text = os::readFile(marker);
  std::error_code ec;
  fs::remove(marker, ec);
  if (!text.ok()) return false;
  auto space = text->find(' ');
  if (space == std::string::npos) return false;
  pid_t pid = static_cast<pid_t>(std::atol(text->substr(0, space).c_str()));
  std::string started = text->substr(space + 1);
  while (!started.empty() && started.back() == '\n') started.pop_back();
  if (pid <= 1 || startTimeOf(pid) != started) return false;
  ::kill(-pid, SIGKILL);  // the step's whole process group
  return true;
}

DeployLog::DeployLog(const fs::path& file, const std::vector<std::string>& secrets)
    : secrets_(secrets), masker_(secrets) {
  stepFile_ = file;
  stepFile_ += ".step";
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

DeployLog::~DeployLog() {
  flush();
  if (fd_ >= 0) ::close(fd_);
}

void DeployLog::say(const std::string& line) {
  output("boucle: " + line + "\n");
}

void DeployLog::output(std::string_view bytes) {
  std::string out;
  masker_.feed(bytes, out);
  if (fd_ >= 0 && !out.empty()) (void)os::writeAll(fd_, out);
}

void DeployLog::stepStarted(pid_t pid) {
  (void)os::writeFileAtomic(stepFile_, std::to_string(pid) + " " + startTimeOf(pid) + "\n");
}

void DeployLog::stepEnded() {
  std::error_code ec;
  fs::remove(stepFile_, ec);
}

void DeployLog::flush() {
  std::string out;
  masker_.finish(out);
  if (fd_ >= 0 && !out.empty()) (void)os::writeAll(fd_, out);
  masker_ = runner::Masker(secrets_);  // finish() ended the stream: start a new one
}

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  return s;
}

// Whether `p` stays inside `root` once normalised (no "..", no absolute escape).
bool inside(const fs::path& root, const fs::path& p) {
  auto r = root.lexically_normal(), n = p.lexically_normal();
  auto [a, b] = std::mismatch(r.begin(), r.end(), n.begin(), n.end());
  return a == r.end() || (a != r.end() && a->empty() && std::next(a) == r.end());
}

// A step: /bin/sh -e -c STEP in `cwd` with exactly `env`, its output masked into the log. When
// `timeout` passes its whole process group is killed. A step may leave a service running (that
// is what "restart" steps do): once the step's own process has exited, what it started is left
// alone and no longer read from.
Status runStep(const std::string& step, const fs::path& cwd, const std::vector<std::string>& env,
               DeployLog& log, std::chrono::milliseconds timeout) {
  int fds[2];
  if (auto st = runner::makeOutputPipe(fds); !st.ok()) return st;
  os::Fd readEnd(fds[0]), writeEnd(fds[1]);
  runner::SpawnSpec spec;
  spec.argv = {"/bin/sh", "-e", "-c", step};
  spec.env = env;
  spec.cwd = cwd;
  spec.outputFd = writeEnd.get();
  auto pid = runner::spawnProcess(spec);
  writeEnd.reset();
  if (!pid.ok()) return pid.status();
  log.stepStarted(*pid);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  int status = 0;
  bool exited = false, timedOut = false, eof = false;
  while (!exited) {
    pollfd p{readEnd.get(), POLLIN, 0};
    if (!eof && ::poll(&p, 1, 100) > 0) {
      ssize_t got = ::read(readEnd.get(), buf, sizeof buf);
      if (got > 0) log.output(std::string_view(buf, static_cast<size_t>(got)));
      if (got == 0) eof = true;
    } else if (eof) {
      ::usleep(20000);
    }
    pid_t w = ::waitpid(*pid, &status, WNOHANG);
    exited = w == *pid;
    if (!exited && !timedOut && std::chrono::steady_clock::now() >= deadline) {
      timedOut = true;
      ::kill(-*pid, SIGKILL);
    }
  }
  log.stepEnded();
  // What the step printed just before it ended.
  for (pollfd p{readEnd.get(), POLLIN, 0}; !eof && ::poll(&p, 1, 0) > 0;) {
    ssize_t got = ::read(readEnd.get(), buf, sizeof buf);
    if (got <= 0) break;
    log.output(std::string_view(buf, static_cast<size_t>(got)));
  }
  if (timedOut) return Status::Timeout("did not finish within the deploy's timeout");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return Status::Io(WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                      : "killed by signal " + std::to_string(WTERMSIG(status)));
}

// Artifacts into `into`: each copied from the blob store with its hash checked; archives
// unpacked (by tar, given arguments, never a shell).
Status install(const Target& t, const fs::path& blobRoot, const fs::path& into, DeployLog& log) {
  vault::BlobStore blobs(blobRoot);
  for (const auto& a : json::parse(t.release.artifactsJson, nullptr, false)) {
    std::string name = a.value("name", ""), sha = a.value("sha256", "");
    if (!blobs.contains(sha)) return Status::NotFound("artifact " + name + " is not in the store");
    auto got = vault::hashFile(blobs.pathOf(sha));
    if (!got.ok() || got->sha256 != sha) {
      return Status::Io("artifact " + name + " does not match its SHA-256");
    }
    std::string base = fs::path(name).filename().string();
    bool archive = base.ends_with(".tar.gz") || base.ends_with(".tgz");
    if (archive) {
      auto r = runner::runAndCapture(
          {"tar", "-xzf", blobs.pathOf(sha).string(), "-C", into.string(), "--no-same-owner"});
      if (!r.ok()) return r.status();
      if (r->exitCode != 0) return Status::Io("unpacking " + name + ": " + r->output);
      log.say("unpacked " + name + " (sha256 " + sha.substr(0, 16) + "…)");
    } else {
      std::error_code ec;
      fs::copy_file(blobs.pathOf(sha), into / base, fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::Io("copy " + name + ": " + ec.message());
      fs::permissions(into / base,
                      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                          fs::perms::others_read,
                      ec);
      log.say("copied " + name + " (sha256 " + sha.substr(0, 16) + "…)");
    }
  }
  return Status::Ok();
}

// DIR/current → releases/VERSION, atomically: readers see the old link or the new one.
Status switchCurrent(const fs::path& dir, const std::string& version) {
  fs::path tmp = dir / (".current." + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(fs::path("releases") / version, tmp, ec);
  if (ec) return Status::Io("symlink " + tmp.string() + ": " + ec.message());
  if (::rename(tmp.c_str(), (dir / "current").c_str()) != 0) {
    return errnoStatus("switch " + (dir / "current").string(), errno);
  }
  return os::fsyncDir(dir);
}

}  // namespace

Result<Target> prepareTarget(const store::Release& release, const std::string& env,
                             const std::vector<store::EnvValue>& values, const fs::path& mirror,
                             const fs::path& workRoot) {
  Target t;
  t.release = release;
  t.env = env;
  auto parsed = pipeline::parsePipeline(release.pipeline);
  if (!parsed.ok() || !parsed.pipeline.deploy) {
    return Status::Invalid(release.version + "'s pipeline file has no deploy section");
  }
  t.spec = *parsed.pipeline.deploy;
  bool command = t.spec.driver == pipeline::Driver::kCommand;
  if (t.spec.driver != pipeline::Driver::kLocal && !command) {
    return Status::Invalid("the " + std::string(pipeline::toString(t.spec.driver)) +
                           " driver is not built yet (local and command are)");
  }
  std::vector<std::string> environ;
  for (const char* name : {"PATH", "HOME", "USER", "LANG", "TZ"}) {
    if (const char* v = std::getenv(name)) environ.push_back(std::string(name) + "=" + v);
  }
  for (const auto& v : values) {
    t.values["env." + v.key] = v.value;
    environ.push_back("BOUCLE_ENV_" + upper(v.key) + "=" + v.value);
    if (v.secret) t.secrets.push_back(v.value);
  }
  if (command && !t.values.count("env.dir")) {
    t.values["env.dir"] = (workRoot / release.project / env).string();
  }
  auto dir = t.values.find("env.dir");
  if (dir == t.values.end() || dir->second.empty() || dir->second[0] != '/') {
    return Status::Invalid(env +
                           " has no absolute 'dir' value for the local driver (boucle env set " +
                           release.project + " " + env + " dir=/srv/…)");
  }
  t.dir = dir->second;
  fs::path releaseDir = t.dir / "releases" / release.version;
  t.values["release.version"] = release.version;
  t.values["release.dir"] = releaseDir.string();
  t.values["commit.sha"] = release.commit;
  t.values["project.name"] = release.project;
  t.values["env.name"] = env;
  environ.push_back("BOUCLE_RELEASE_VERSION=" + release.version);
  environ.push_back("BOUCLE_RELEASE_DIR=" + releaseDir.string());
  environ.push_back("BOUCLE_RELEASE_COMMIT=" + release.commit);
  environ.push_back("BOUCLE_PROJECT=" + release.project);
  environ.push_back("BOUCLE_ENVIRONMENT=" + env);
  t.environ = std::move(environ);

  // Everything rendered now: a missing value stops the deploy before anything is touched.
  for (const auto& c : t.spec.config) {
    auto text = runner::runAndCapture(
        {"git", "-C", mirror.string(), "show", release.commit + ":" + c.templatePath});
    if (!text.ok() || text->exitCode != 0) {
      return Status::NotFound("config template " + c.templatePath + " is not in commit " +
                              release.commit.substr(0, 12));
    }
    auto to = renderTemplate(c.to, t.values, "config 'to' of " + c.templatePath);
    if (!to.ok()) return to.status();
    if (!fs::path(*to).is_absolute() || !inside(t.dir, *to)) {
      return Status::Invalid("config file " + *to + " is outside " + t.dir.string());
    }
    auto content = renderTemplate(text->output, t.values, c.templatePath);
    if (!content.ok()) return content.status();
    t.configFiles.emplace_back(*to, *content);
  }
  std::vector<std::string> steps = t.spec.steps;
  if (command) steps.push_back(t.spec.command);
  for (const auto& s : steps) {
    auto step = renderTemplate(s, t.values, "step '" + s + "'");
    if (!step.ok()) return step.status();
    t.steps.push_back(*step);
  }
  for (size_t i = 0; i < t.spec.smoke.size(); ++i) {
    auto target =
        renderTemplate(t.spec.smoke[i].target, t.values, "smoke check " + std::to_string(i + 1));
    if (!target.ok()) return target.status();
    t.smokeTargets.push_back(*target);
  }
  return t;
}

std::vector<SmokeResult> runSmoke(const Target& t, DeployLog& log, bool* allOk) {
  std::vector<SmokeResult> results;
  *allOk = true;
  fs::path releaseDir = t.values.at("release.dir");
  for (size_t i = 0; i < t.spec.smoke.size(); ++i) {
    auto r = runSmokeCheck(t.spec.smoke[i], t.smokeTargets[i], releaseDir, t.environ);
    log.say(std::string(r.ok ? "smoke ok: " : "smoke FAILED: ") + r.check + " (" + r.detail + ")");
    *allOk = *allOk && r.ok;
    results.push_back(std::move(r));
  }
  return results;
}

Outcome deployLocal(const Target& t, const fs::path& blobRoot, DeployLog& log, bool dryRun) {
  Outcome o;
  fs::path releaseDir = t.values.at("release.dir");
  std::error_code ec;
  if (dryRun) {
    log.say("dry run: nothing is touched");
    log.say((fs::exists(releaseDir) ? "would reuse " : "would install into ") +
            releaseDir.string());
    for (const auto& [to, content] : t.configFiles) {
      log.say("would write " + to + " (" + std::to_string(content.size()) + " bytes)");
    }
    for (const auto& s : t.steps) log.say("would run in " + releaseDir.string() + ": " + s);
    log.say("would switch " + (t.dir / "current").string() + " to releases/" + t.release.version);
    for (const auto& s : t.smokeTargets) log.say("would check " + s);
    o.ok = true;
    return o;
  }
  if (fs::exists(releaseDir)) {
    log.say("release folder " + releaseDir.string() + " is already there: reused");
  } else {
    fs::path partial = t.dir / "releases" / ("." + t.release.version + ".partial");
    fs::remove_all(partial, ec);
    fs::create_directories(partial, ec);
    if (ec) {
      o.failure = "cannot create " + partial.string() + ": " + ec.message();
      return o;
    }
    if (auto st = install(t, blobRoot, partial, log); !st.ok()) {
      fs::remove_all(partial, ec);
      o.failure = "install: " + st.message();
      return o;
    }
    fs::rename(partial, releaseDir, ec);
    if (ec) {
      o.failure = "install: " + ec.message();
      return o;
    }
    log.say("installed into " + releaseDir.string());
  }
  for (const auto& [to, content] : t.configFiles) {
    fs::create_directories(fs::path(to).parent_path(), ec);
    if (auto st = os::writeFileAtomic(to, content, 0640); !st.ok()) {
      o.failure = "config: " + st.message();
      return o;
    }
    log.say("wrote " + to);
  }
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(t.spec.timeout);
  for (const auto& s : t.steps) {
    log.say("step: " + s);
    if (auto st = runStep(s, releaseDir, t.environ, log, timeout); !st.ok()) {
      log.flush();
      o.failure = "step '" + s + "' failed: " + st.message();
      return o;
    }
  }
  log.flush();
  if (auto st = switchCurrent(t.dir, t.release.version); !st.ok()) {
    o.failure = st.message();
    return o;
  }
  log.say("switched " + (t.dir / "current").string() + " to releases/" + t.release.version);
  bool allOk = true;
  o.smoke = runSmoke(t, log, &allOk);
  if (!allOk) {
    for (const auto& r : o.smoke) {
      if (!r.ok) {
        o.failure = "smoke check " + r.check + " failed: " + r.detail;
        break;
      }
    }
    return o;
  }
  o.ok = true;
  return o;
}

}  // namespace boucle::deploy
