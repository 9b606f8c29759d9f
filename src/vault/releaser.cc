#include "vault/releaser.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/glob.h"
#include "core/semver.h"
#include "insight/release_notes.h"
#include "os/process.h"
#include "pipeline/parser.h"
#include "scm/git_command.h"
#include "scm/git_repo.h"
#include "vault/blob_store.h"
#include "vault/release_branches.h"

namespace boucle::vault {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool isCommitId(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The commits in `to` and not in `from` (all of `to`'s history without one), newest first,
// with their author times (`times`, ms): when the change was written, which a rebase keeps.
Result<std::vector<insight::Change>> changesBetween(const fs::path& mirror, const std::string& from,
                                                    const std::string& to,
                                                    std::vector<int64_t>* times) {
  std::string range = from.empty() ? to : from + ".." + to;
  auto out =
      scm::gitIn(mirror, {"log", "-n", "1000", "--format=%H%x00%an%x00%at%x00%B%x1e", range});
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

Result<store::Run> releasableRun(store::Store& store, const store::Project& project,
                                 const ReleaseRequest& req) {
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
    if (run->isRequest()) {
      return Status::Conflict("run " + std::to_string(run->id) + " built pull request " +
                              std::to_string(run->pr.number) +
                              ", which is released once merged, from its target branch");
    }
    return *run;
  }
  auto runs = store.listRuns(req.project, 200);
  if (!runs.ok()) return runs.status();
  // Without --from, the newest passing run of a release branch: another branch's run is a
  // prerelease, which is asked for by its run.
  for (const auto& r : *runs) {
    if (r.state == store::RunState::kPassed && r.onlyJobs.empty() && !r.bisectOf &&
        !r.isRequest() && isReleaseBranch(project, r.branch))
      return r;
  }
  return Status::Conflict(req.project + " has no passing run of a release branch to release");
}

// A prerelease's identifiers from its branch: "feature/x_y" -> "feature-x-y" (semver allows
// letters, digits and '-').
std::string branchSlug(const std::string& branch) {
  std::string slug;
  for (char c : branch) {
    bool ok = std::isalnum(static_cast<unsigned char>(c));
    if (ok || (!slug.empty() && slug.back() != '-')) slug += ok ? c : '-';
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "branch" : slug.substr(0, 40);
}

// The newest release of the version line: made from a release branch (prereleases never move
// it).
Result<std::optional<store::Release>> lineRelease(store::Store& store, const std::string& project) {
  auto all = store.listReleases(project, 1000);
  if (!all.ok()) return all.status();
  for (const auto& r : *all) {
    if (!r.prerelease) return std::optional<store::Release>(r);
  }
  return std::optional<store::Release>();
}

struct VersionChoice {
  const store::Release* last;  // the line's newest release, or null
  const std::vector<insight::Change>* changes;
  bool prerelease;
};

// A release branch's version: --version, a semver tag on the commit, or the line bumped by the
// commits since. A prerelease's: --version with a pre-release part, or the line's next version
// with "-BRANCH.N" (N counts that branch's prereleases of that version).
Result<Version> chooseVersion(store::Store& store, const fs::path& mirror,
                              const ReleaseRequest& req, const store::Run& run,
                              const VersionChoice& c) {
  std::optional<Version> lastVersion;
  if (c.last) lastVersion = parseVersion(c.last->version);
  if (!req.version.empty()) {
    auto v = parseVersion(req.version);
    if (!v || req.version[0] == 'v') {
      return Status::Invalid("version: X.Y.Z or X.Y.Z-PRE (semver), not '" + req.version + "'");
    }
    if (c.prerelease && v->pre.empty()) {
      return Status::Conflict("run " + std::to_string(run.id) + " is of branch " + run.branch +
                              ", not a release branch: it makes prereleases only (X.Y.Z-PRE)");
    }
    return *v;
  }
  Version base = bumped(lastVersion.value_or(Version{}), insight::bumpFor(*c.changes));
  if (c.prerelease) {
    std::string prefix = base.str() + "-" + branchSlug(run.branch) + ".";
    auto all = store.listReleases(req.project, 1000);
    if (!all.ok()) return all.status();
    int n = 0;
    for (const auto& r : *all) {
      if (r.version.starts_with(prefix))
        n = std::max(n, std::atoi(r.version.c_str() + prefix.size()));
    }
    base.pre = branchSlug(run.branch) + "." + std::to_string(n + 1);
    return base;
  }
  // A semver tag on the commit names the release, as with `git tag v1.4.0`.
  auto tags = scm::gitIn(mirror, {"tag", "--points-at", run.commit});
  std::optional<Version> tagged;
  if (tags.ok()) {
    for (const auto& t : split(*tags, '\n')) {
      auto v = parseVersion(t);
      if (v && (!tagged || *tagged < *v)) tagged = v;
    }
  }
  if (tagged) return *tagged;
  if (c.last && c.last->commit == run.commit) {
    return Status::Conflict("nothing new since " + c.last->version + " (same commit " +
                            run.commit.substr(0, 12) + ")");
  }
  return base;
}

}  // namespace

Result<store::Release> createRelease(store::Store& store, const fs::path& mirror,
                                     const fs::path& blobRoot, const ReleaseRequest& req) {
  auto project = store.getProject(req.project);
  if (!project.ok()) return project.status();
  auto run = releasableRun(store, *project, req);
  if (!run.ok()) return run.status();
  if (!isCommitId(run->commit)) return Status::Internal("run has no commit id");
  bool prerelease = !isReleaseBranch(*project, run->branch);
  auto line = lineRelease(store, req.project);
  if (!line.ok()) return line.status();
  const store::Release* last = *line ? &**line : nullptr;

  std::vector<int64_t> times;
  auto changes = changesBetween(mirror, last ? last->commit : "", run->commit, &times);
  if (!changes.ok()) return changes.status();
  auto chosen = chooseVersion(store, mirror, req, *run, {last, &*changes, prerelease});
  if (!chosen.ok()) return chosen.status();
  Version version = *chosen;
  if (store.getRelease(req.project, version.str()).ok()) {
    return Status::Conflict(req.project + " already has a release " + version.str() +
                            " (releases never change)");
  }
  std::optional<Version> lastVersion;
  if (last) lastVersion = parseVersion(last->version);
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
  rel.branch = run->branch;
  rel.prerelease = prerelease;
  rel.notes = insight::notesMarkdown(rel.version, today(), *changes);

  json changeList = json::array();
  for (size_t i = 0; i < changes->size(); ++i) {
    const auto& ch = (*changes)[i];
    changeList.push_back({{"sha", ch.sha},
                          {"author", ch.author},
                          {"subject", ch.message.substr(0, ch.message.find('\n'))},
                          {"time_ms", times[i]}});
  }
  rel.changesJson = changeList.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

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
      std::string sha = a.value("sha256", "");
      if (!BlobStore(blobRoot).contains(sha)) {
        return Status::Conflict("run " + std::to_string(run->id) + "'s artifact " + path +
                                " is no longer stored (pruned): it cannot be released");
      }
      artifacts.push_back(
          {{"job", j.name}, {"name", path}, {"sha256", a["sha256"]}, {"size", a["size"]}});
    }
  }
  rel.artifactsJson = artifacts.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto added = store.addRelease(rel);
  if (!added.ok()) return added.status();
  if (auto st = store.addAudit(
          {0, rel.createdAt, req.actor, prerelease ? "prerelease" : "release", req.project,
           rel.version,
           "run " + std::to_string(run->id) + " of " + run->branch + ", commit " + run->commit});
      !st.ok()) {
    return Status::Internal(rel.version +
                            " was made, but the audit log could not record it: " + st.message());
  }
  return added;
}

}  // namespace boucle::vault
