#include "insight/dora_history.h"

#include <algorithm>
#include <climits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace boucle::insight {

namespace {

constexpr int kAll = 1 << 30;

// A release's change list: [{"sha", "time_ms" (author time), …}]; entries without a time
// are left out (a lead time from the epoch would mean nothing).
std::vector<std::pair<std::string, int64_t>> changesOf(const store::Release& r) {
  std::vector<std::pair<std::string, int64_t>> out;
  auto j = nlohmann::json::parse(r.changesJson, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& c : j) {
    if (!c.is_object() || !c.contains("sha") || !c["sha"].is_string()) continue;
    if (!c.contains("time_ms") || !c["time_ms"].is_number_integer()) continue;
    out.emplace_back(c["sha"].get<std::string>(), c["time_ms"].get<int64_t>());
  }
  return out;
}

}  // namespace

Result<DoraReport> doraOf(store::Store& store, const std::string& project, const std::string& env,
                          int64_t fromMs, int64_t toMs) {
  auto deploys = store.listDeploys(project, env, kAll);
  if (!deploys.ok()) return deploys.status();
  auto releases = store.listReleases(project, kAll);
  if (!releases.ok()) return releases.status();
  auto built = store.firstBuilds(project);
  if (!built.ok()) return built.status();
  std::sort(releases->begin(), releases->end(),
            [](const store::Release& a, const store::Release& b) { return a.id < b.id; });
  std::map<std::string, const store::Release*> byVersion;
  for (const auto& r : *releases) byVersion[r.version] = &r;

  // Each release's changes read once; a release of the version line whose changes all
  // reached the environment is not looked at again.
  std::vector<std::vector<std::pair<std::string, int64_t>>> changes;
  for (const auto& r : *releases) changes.push_back(changesOf(r));
  std::vector<bool> done(releases->size(), false);

  std::vector<DoraDeploy> rows;
  std::set<std::string> delivered;  // commits already brought to the environment
  // In the order they ended: a deploy that waited for approval may end after a newer one.
  std::sort(deploys->begin(), deploys->end(), [](const store::Deploy& a, const store::Deploy& b) {
    int64_t fa = a.finishedAt.value_or(INT64_MAX), fb = b.finishedAt.value_or(INT64_MAX);
    return fa != fb ? fa < fb : a.id < b.id;
  });
  for (const auto& d : *deploys) {
    if (d.dryRun || !d.finishedAt) continue;
    DoraDeploy row;
    row.id = d.id;
    row.version = d.version;
    row.state = std::string(store::toString(d.state));
    row.rollback = d.rollback;
    row.startedAtMs = d.startedAt.value_or(*d.finishedAt);
    row.finishedAtMs = *d.finishedAt;
    auto rel = byVersion.find(d.version);
    if (d.state == store::DeployState::kSucceeded && !d.rollback && rel != byVersion.end()) {
      // What it brings: its release's changes and those of the releases before it on the
      // version line that never reached the environment (a promotion may skip some). A
      // prerelease brings its own.
      const store::Release& target = *rel->second;
      for (size_t i = 0; i < releases->size(); ++i) {
        const auto& r = (*releases)[i];
        if (r.id > target.id) break;
        if (done[i] || (r.id != target.id && (r.prerelease || target.prerelease))) continue;
        for (const auto& [sha, authored] : changes[i]) {
          if (!delivered.insert(sha).second) continue;
          DoraCommit c{sha, authored, std::nullopt};
          if (auto b = built->find(sha); b != built->end()) c.firstBuiltAtMs = b->second;
          row.commits.push_back(std::move(c));
        }
        if (!r.prerelease) done[i] = true;
      }
    }
    rows.push_back(std::move(row));
  }
  auto incidents = store.listIncidents(project, env, kAll);
  if (!incidents.ok()) return incidents.status();
  std::vector<DoraIncident> opened;
  for (const auto& i : *incidents) opened.push_back({i.id, i.openedAt, i.resolvedAt});
  return computeDora(rows, std::move(opened), fromMs, toMs);
}

}  // namespace boucle::insight
