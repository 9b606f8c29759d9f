#include "vault/releaser.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/glob.h"
#include "insight/release_notes.h"
#include "pipeline/parser.h"
#include "runner/process.h"
#include "scm/git_repo.h"
#include "vault/semver.h"

namespace boucle::vault {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// git in the mirror; every argument is a commit id from the store or a fixed word.
Result<std::string> git(const fs::path& mirror, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", mirror.string()});
  auto r = runner::runAndCapture(args);
  if (!r.ok()) return r.status();
  if (r->exitCode != 0) return Status::Io("git " + args[3] + ": " + r->output);
  return std::move(r->output);
}

bool isCommitId(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The commits in `to` and not in `from` (all of `to`'s history without one), newest first.
Result<std::vector<insight::Change>> changesBetween(const fs::path& mirror, const std::string& from,
                                                    const std::string& to,
                                                    std::vector<int64_t>* times) {
  std::string range = from.empty() ? to : from + ".." + to;
  auto out = git(mirror, {"log", "-n", "1000", "--format=%H%x00%an%x00%ct%x00%B%x1e", range});
  if (!out.ok()) return out.status();
  std::vector<insight::Change> changes;
  for (const auto& record : split(*out, '\x1e')) {
    std::string r = record;
    while (!r.empty() && r.front() == '\n') r.erase(0, 1);
    if (r.empty()) continue;
    auto fields = split(r, '\0');
    if (fields.size() < 4) continue;
    std::string message = fields[3];
    while (!message.empty() && message.back() == '\n') message.pop_back();
    changes.push_back({fields[0], fields[1], message});
    times->push_back(std::atoll(fields[2].c_str()) * 1000);
  }
  return changes;
}

std::string today() {
  std::time_t t = nowMs() / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

// "job:glob" filters from the pipeline file's release section; none: every artifact.
bool wanted(const std::vector<std::string>& filters, const std::string& job,
            const std::string& path) {
  if (filters.empty()) return true;
  for (const auto& f : filters) {
    auto colon = f.find(':');
    std::string fjob = colon == std::string::npos ? "" : f.substr(0, colon);
    std::string glob = colon == std::string::npos ? f : f.substr(colon + 1);
    if ((fjob.empty() || fjob == job) && globMatches(glob, path)) return true;
  }
  return false;
}

Result<store::Run> releasableRun(store::Store& store, const ReleaseRequest& req) {
  if (req.fromRun) {
    auto run = store.getRun(*req.fromRun);
    if (!run.ok()) return run.status();
    if (run->project != req.project) {
      return Status::NotFound("run " + std::to_string(*req.fromRun) + " is not " + req.project +
                              "'s");
    }
    if (run->state != store::RunState::kPassed) {
      return Status::Conflict("only a passing run can be released: run " + std::to_string(run->id) +
                              " " + std::string(store::toString(run->state)));
    }
    if (!run->onlyJobs.empty() || run->bisectOf) {
      return Status::Conflict("run " + std::to_string(run->id) +
                              " built only part of the pipeline (a retry or bisection run)");
    }
    return *run;
  }
  auto runs = store.listRuns(req.project, 200);
  if (!runs.ok()) return runs.status();
  for (const auto& r : *runs) {
    if (r.state == store::RunState::kPassed && r.onlyJobs.empty() && !r.bisectOf) return r;
  }
  return Status::Conflict(req.project + " has no passing run to release");
}

}  // namespace

Result<store::Release> createRelease(store::Store& store, const fs::path& mirror,
                                     const ReleaseRequest& req) {
  if (auto p = store.getProject(req.project); !p.ok()) return p.status();
  auto run = releasableRun(store, req);
  if (!run.ok()) return run.status();
  if (!isCommitId(run->commit)) return Status::Internal("run has no commit id");
  auto previous = store.listReleases(req.project, 1);
  if (!previous.ok()) return previous.status();
  const store::Release* last = previous->empty() ? nullptr : &previous->front();

  std::vector<int64_t> times;
  auto changes = changesBetween(mirror, last ? last->commit : "", run->commit, &times);
  if (!changes.ok()) return changes.status();

  std::optional<Version> lastVersion;
  if (last) lastVersion = parseVersion(last->version);
  Version version;
  if (!req.version.empty()) {
    auto v = parseVersion(req.version);
    if (!v || req.version[0] == 'v') {
      return Status::Invalid("version: X.Y.Z or X.Y.Z-PRE (semver), not '" + req.version + "'");
    }
    version = *v;
  } else {
    // A semver tag on the commit names the release, as with `git tag v1.4.0`.
    auto tags = git(mirror, {"tag", "--points-at", run->commit});
    std::optional<Version> tagged;
    if (tags.ok()) {
      for (const auto& t : split(*tags, '\n')) {
        auto v = parseVersion(t);
        if (v && (!tagged || *tagged < *v)) tagged = v;
      }
    }
    if (tagged) {
      version = *tagged;
    } else {
      if (last && last->commit == run->commit) {
        return Status::Conflict("nothing new since " + last->version + " (same commit " +
                                run->commit.substr(0, 12) + ")");
      }
      auto bump = insight::bumpFor(*changes);
      version = bumped(lastVersion.value_or(Version{}), bump);
    }
  }
  if (store.getRelease(req.project, version.str()).ok()) {
    return Status::Conflict(req.project + " already has a release " + version.str() +
                            " (releases never change)");
  }
  if (lastVersion && !(*lastVersion < version)) {
    return Status::Conflict(version.str() + " is not after the latest release, " + last->version);
  }

  store::Release rel;
  rel.project = req.project;
  rel.version = version.str();
  rel.runId = run->id;
  rel.commit = run->commit;
  rel.previousVersion = last ? last->version : "";
  rel.createdBy = req.actor;
  rel.createdAt = nowMs();
  rel.notes = insight::notesMarkdown(rel.version, today(), *changes);

  json changeList = json::array();
  for (size_t i = 0; i < changes->size(); ++i) {
    const auto& ch = (*changes)[i];
    changeList.push_back({{"sha", ch.sha},
                          {"author", ch.author},
                          {"subject", ch.message.substr(0, ch.message.find('\n'))},
                          {"time_ms", times[i]}});
  }
  rel.changesJson = changeList.dump();

  // The pipeline file at the commit: the release keeps its deploy method and artifact filter.
  auto pipelineText = scm::fileAtCommit(mirror, run->commit, ".boucle.yml");
  if (pipelineText.ok()) rel.pipeline = *pipelineText;
  std::vector<std::string> filters;
  if (!rel.pipeline.empty()) {
    auto parsed = pipeline::parsePipeline(rel.pipeline);
    if (parsed.ok() && parsed.pipeline.release) filters = parsed.pipeline.release->artifacts;
  }
  auto jobs = store.listJobs(run->id);
  if (!jobs.ok()) return jobs.status();
  json artifacts = json::array();
  for (const auto& j : *jobs) {
    if (j.artifactsJson.empty()) continue;
    for (const auto& a : json::parse(j.artifactsJson, nullptr, false)) {
      if (!a.is_object() || !a.contains("path")) continue;
      std::string path = a["path"].get<std::string>();
      if (!wanted(filters, j.name, path)) continue;
      artifacts.push_back(
          {{"job", j.name}, {"name", path}, {"sha256", a["sha256"]}, {"size", a["size"]}});
    }
  }
  rel.artifactsJson = artifacts.dump();
  auto added = store.addRelease(rel);
  if (!added.ok()) return added.status();
  (void)store.addAudit({0, rel.createdAt, req.actor, "release", req.project, rel.version,
                        "run " + std::to_string(run->id) + ", commit " + run->commit});
  return added;
}

}  // namespace boucle::vault
