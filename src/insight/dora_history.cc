#include "insight/dora_history.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace boucle::insight {

namespace {

constexpr int kAll = 1 << 30;

// A release's change list: [{"sha", "time_ms", …}].
std::vector<std::pair<std::string, int64_t>> changesOf(const store::Release& r) {
  std::vector<std::pair<std::string, int64_t>> out;
  auto j = nlohmann::json::parse(r.changesJson, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& c : j) {
    if (!c.is_object() || !c.contains("sha") || !c["sha"].is_string()) continue;
    int64_t t =
        c.contains("time_ms") && c["time_ms"].is_number_integer() ? c["time_ms"].get<int64_t>() : 0;
    out.emplace_back(c["sha"].get<std::string>(), t);
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

  std::vector<DoraDeploy> rows;
  std::set<std::string> delivered;                 // commits already brought to the environment
  std::reverse(deploys->begin(), deploys->end());  // oldest first
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
      for (const auto& r : *releases) {
        if (r.id > rel->second->id) break;
        if (r.id != rel->second->id && (r.prerelease || rel->second->prerelease)) continue;
        for (const auto& [sha, authored] : changesOf(r)) {
          if (!delivered.insert(sha).second) continue;
          DoraCommit c{sha, authored, std::nullopt};
          if (auto b = built->find(sha); b != built->end()) c.firstBuiltAtMs = b->second;
          row.commits.push_back(std::move(c));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  return computeDora(std::move(rows), {}, fromMs, toMs);
}

}  // namespace boucle::insight
