#include "deploy/local_driver.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "deploy/step.h"
#include "os/files.h"
#include "os/process.h"
#include "vault/blob_store.h"

namespace boucle::deploy {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A step: /bin/sh -e reading STEP (never on its command line) in `cwd` with exactly `env`, its
// output masked into the log.
Status runStep(const std::string& step, const fs::path& cwd, const std::vector<std::string>& env,
               LogSink& log, std::chrono::milliseconds timeout) {
  StepRun run;
  auto script = shellScript(run, step);
  if (!script.ok()) return script.status();
  run.cwd = cwd;
  run.env = env;
  run.timeout = timeout;
  return runLogged(run, log);
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
      auto r = os::runAndCapture(
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

// The release's folder, DIR/releases/VERSION: kept when it is there, else installed beside it
// and renamed into place, so that a folder of that name is always whole.
Status ensureInstalled(const Target& t, const fs::path& blobRoot, DeployLog& log) {
  fs::path releaseDir = t.values.at("release.dir");
  std::error_code ec;
  if (fs::exists(releaseDir)) {
    log.say("release folder " + releaseDir.string() + " is already there: reused");
    return Status::Ok();
  }
  fs::path partial = t.dir / "releases" / ("." + t.release.version + ".partial");
  fs::remove_all(partial, ec);
  fs::create_directories(partial, ec);
  if (ec) return Status::Io("cannot create " + partial.string() + ": " + ec.message());
  if (auto st = install(t, blobRoot, partial, log); !st.ok()) {
    fs::remove_all(partial, ec);
    return Status::Io("install: " + st.message());
  }
  fs::rename(partial, releaseDir, ec);
  if (ec) return Status::Io("install: " + ec.message());
  log.say("installed into " + releaseDir.string());
  return Status::Ok();
}

}  // namespace

Status migrateLocal(const Target& t, const std::string& command, const fs::path& blobRoot,
                    DeployLog& log) {
  if (auto st = ensureInstalled(t, blobRoot, log); !st.ok()) return st;
  // Its config as a deploy of it writes it: a migration reads the database's address there.
  std::error_code ec;
  for (const auto& [to, content] : t.plan.configFiles) {
    fs::create_directories(fs::path(to).parent_path(), ec);
    if (auto st = os::writeFileAtomic(to, content, 0640); !st.ok()) return st;
  }
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(t.spec.timeout);
  auto st = runStep(command, t.values.at("release.dir"), t.environ, log, timeout);
  log.flush();
  return st;
}

Status mayWipeLocal(const Target& t, const std::vector<fs::path>& keep) {
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(t.dir, ec);
  auto refuse = [&](const std::string& why) {
    return Status::Invalid("blank: refusing to wipe " + t.dir.string() + ": " + why +
                           "; give the environment a 'dir' value of its own");
  };
  if (ec || !dir.is_absolute()) return refuse("not a folder");
  auto within = [](const fs::path& inner, const fs::path& outer) {
    auto rel = inner.lexically_relative(outer);
    return !rel.empty() && *rel.begin() != "..";
  };
  if (std::distance(dir.begin(), dir.end()) < 3) return refuse("too near the root");
  std::vector<fs::path> guarded = keep;
  if (const char* home = ::getenv("HOME"); home && *home) guarded.emplace_back(home);
  bool inServer = false, inEnvironments = false;
  for (size_t i = 0; i < guarded.size(); ++i) {
    fs::path kept = fs::weakly_canonical(guarded[i], ec);
    if (ec) return refuse("cannot tell where " + guarded[i].string() + " is");
    if (within(kept, dir)) return refuse("it holds " + kept.string());
    if (i < keep.size()) {
      inServer |= within(dir, kept);
      inEnvironments |= within(dir, kept / "environments");
    }
  }
  // Below the server's own folders only its environments' are a deploy's.
  if (inServer && !inEnvironments) return refuse("it is the server's own");
  // What a deploy made holds its releases: a folder without them is somebody else's.
  bool there = fs::exists(dir, ec);
  if (there && !fs::is_empty(dir, ec) && !fs::exists(dir / "releases", ec))
    return refuse("it holds no releases/ folder, so boucle did not make it");
  return Status::Ok();
}

Status wipeLocal(const Target& t, const std::vector<fs::path>& keep, DeployLog& log) {
  if (auto st = mayWipeLocal(t, keep); !st.ok()) return st;
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(t.dir, ec);
  if (!fs::exists(dir, ec)) {
    log.say("blank: " + dir.string() + " is not there yet: nothing to wipe");
    return Status::Ok();
  }
  // releases/ goes last: a wipe cut short leaves a folder the guard still knows as boucle's.
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
  if (ec) return Status::Io("blank: " + dir.string() + ": " + ec.message());
  std::stable_partition(entries.begin(), entries.end(),
                        [](const fs::path& p) { return p.filename() != "releases"; });
  for (const auto& e : entries) {
    fs::remove_all(e, ec);
    if (ec) return Status::Io("blank: cannot remove " + e.string() + ": " + ec.message());
  }
  log.say("blank: wiped " + dir.string() + " (" + std::to_string(entries.size()) + " entries)");
  return os::fsyncDir(dir);
}

std::vector<SmokeResult> runSmoke(const Target& t, const Plan& plan, const fs::path& cwd,
                                  LogSink& log, bool* allOk) {
  std::vector<SmokeResult> results;
  *allOk = true;
  for (size_t i = 0; i < t.spec.smoke.size(); ++i) {
    auto r = runSmokeCheck(t.spec.smoke[i], plan.smokeTargets[i], cwd, t.environ);
    log.say(std::string(r.ok ? "smoke ok: " : "smoke FAILED: ") + r.check + " (" + r.detail + ")");
    *allOk = *allOk && r.ok;
    results.push_back(std::move(r));
  }
  return results;
}

std::string smokeFailure(const std::vector<SmokeResult>& results) {
  for (const auto& r : results) {
    if (!r.ok) return "smoke check " + r.check + " failed: " + r.detail;
  }
  return "";
}

Outcome deployLocal(const Target& t, const fs::path& blobRoot, DeployLog& log, bool dryRun) {
  Outcome o;
  fs::path releaseDir = t.values.at("release.dir");
  std::error_code ec;
  if (dryRun) {
    log.say("dry run: nothing is touched");
    log.say((fs::exists(releaseDir) ? "would reuse " : "would install into ") +
            releaseDir.string());
    for (const auto& [to, content] : t.plan.configFiles) {
      log.say("would write " + to + " (" + std::to_string(content.size()) + " bytes)");
    }
    for (const auto& s : t.plan.steps) log.say("would run in " + releaseDir.string() + ": " + s);
    log.say("would switch " + (t.dir / "current").string() + " to releases/" + t.release.version);
    for (const auto& s : t.plan.smokeTargets) log.say("would check " + s);
    o.ok = true;
    return o;
  }
  if (auto st = ensureInstalled(t, blobRoot, log); !st.ok()) {
    o.failure = st.message();
    return o;
  }
  for (const auto& [to, content] : t.plan.configFiles) {
    fs::create_directories(fs::path(to).parent_path(), ec);
    if (auto st = os::writeFileAtomic(to, content, 0640); !st.ok()) {
      o.failure = "config: " + st.message();
      return o;
    }
    log.say("wrote " + to);
  }
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(t.spec.timeout);
  if (!t.migrateUp.empty()) {
    log.say("migrate up: " + t.migrateUp);
    if (auto st = runStep(t.migrateUp, releaseDir, t.environ, log, timeout); !st.ok()) {
      log.flush();
      o.failure = "migration '" + t.migrateUp + "' failed: " + st.message();
      return o;
    }
    o.migrated = true;
    if (t.onMigrated) t.onMigrated();
  }
  for (const auto& s : t.plan.steps) {
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
  o.smoke = runSmoke(t, t.plan, releaseDir, log, &allOk);
  if (!allOk) {
    o.failure = smokeFailure(o.smoke);
    return o;
  }
  o.ok = true;
  return o;
}

}  // namespace boucle::deploy
