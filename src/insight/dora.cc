#include "insight/dora.h"

#include <algorithm>
#include <cmath>

namespace boucle::insight {

namespace {

constexpr int64_t kHour = 3600LL * 1000;
constexpr int64_t kDay = 24 * kHour;

bool counted(const DoraDeploy& d) {
  return d.state == "succeeded" || d.state == "failed" || d.state == "rolled_back";
}

bool within(int64_t t, int64_t from, int64_t to) {
  return t >= from && t < to;
}

// The DORA report's bands (docs/dora.md), each from the fastest to the slowest.
Band leadBand(int64_t ms) {
  return ms < kDay        ? Band::kElite
         : ms < 7 * kDay  ? Band::kHigh
         : ms < 30 * kDay ? Band::kMedium
                          : Band::kLow;
}
Band recoveryBand(int64_t ms) {
  return ms < kHour      ? Band::kElite
         : ms < kDay     ? Band::kHigh
         : ms < 7 * kDay ? Band::kMedium
                         : Band::kLow;
}
Band failureBand(double rate) {
  return rate <= 0.05   ? Band::kElite
         : rate <= 0.10 ? Band::kHigh
         : rate <= 0.15 ? Band::kMedium
                        : Band::kLow;
}

// Each change's failure, if it failed. `ok` are the successful deploys (rollbacks by hand
// included) by their end: what was live when, and what replaced it.
std::optional<Failure> failureOf(const DoraDeploy& d, const std::vector<const DoraDeploy*>& ok,
                                 const std::vector<DoraIncident>& incidents, int64_t toMs) {
  Failure f;
  f.deployId = d.id;
  f.version = d.version;
  auto firstOkAfter = [&](int64_t t) -> std::optional<int64_t> {
    for (const auto* o : ok) {
      if (o->finishedAtMs > t) return o->finishedAtMs;
    }
    return std::nullopt;
  };
  if (d.state == "failed") {
    f.cause = "failed";
    f.atMs = d.finishedAtMs;
    f.recoveredAtMs = firstOkAfter(d.finishedAtMs);
    return f;
  }
  if (d.state == "rolled_back") {
    // boucle put the previous release back itself: healthy again when the deploy ended.
    f.cause = "rolled_back";
    f.atMs = d.startedAtMs;
    f.recoveredAtMs = d.finishedAtMs;
    return f;
  }
  // Succeeded: live until the next successful deploy replaced it.
  const DoraDeploy* next = nullptr;
  for (const auto* o : ok) {
    if (o->finishedAtMs > d.finishedAtMs || (o->finishedAtMs == d.finishedAtMs && o->id > d.id)) {
      next = o;
      break;
    }
  }
  int64_t liveUntil = next ? next->finishedAtMs : toMs;
  const DoraIncident* first = nullptr;
  for (const auto& i : incidents) {
    if (within(i.openedAtMs, d.finishedAtMs, liveUntil) &&
        (!first || i.openedAtMs < first->openedAtMs))
      first = &i;
  }
  if (next && next->rollback) {
    f.cause = "rolled_back_by_hand";
    f.atMs = first ? first->openedAtMs : d.finishedAtMs;
    f.recoveredAtMs = next->finishedAtMs;
    f.incidentId = first ? first->id : 0;
    return f;
  }
  if (first) {
    f.cause = "incident";
    f.atMs = first->openedAtMs;
    f.recoveredAtMs = first->resolvedAtMs;
    f.incidentId = first->id;
    return f;
  }
  return std::nullopt;
}

}  // namespace

std::string_view toString(Band b) {
  switch (b) {
    case Band::kElite:
      return "elite";
    case Band::kHigh:
      return "high";
    case Band::kMedium:
      return "medium";
    case Band::kLow:
      return "low";
  }
  return "low";
}

std::optional<int64_t> nearestRank(std::vector<int64_t> values, double q) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

DoraReport computeDora(std::vector<DoraDeploy> deploys, std::vector<DoraIncident> incidents,
                       int64_t fromMs, int64_t toMs) {
  DoraReport r;
  r.fromMs = fromMs;
  r.toMs = toMs;
  std::erase_if(deploys, [](const DoraDeploy& d) { return !counted(d); });
  std::sort(deploys.begin(), deploys.end(), [](const DoraDeploy& a, const DoraDeploy& b) {
    return a.finishedAtMs != b.finishedAtMs ? a.finishedAtMs < b.finishedAtMs : a.id < b.id;
  });
  std::vector<const DoraDeploy*> ok;
  for (const auto& d : deploys) {
    if (d.state == "succeeded") ok.push_back(&d);
  }

  // Deployment frequency.
  for (const auto& d : deploys) {
    if (d.state == "succeeded" && !d.rollback && within(d.finishedAtMs, fromMs, toMs)) ++r.deploys;
  }
  double days = std::max(1.0, static_cast<double>(toMs - fromMs) / static_cast<double>(kDay));
  r.perDay = r.deploys / days;
  r.perWeek = r.perDay * 7;
  if (r.deploys == 0) {
    r.frequency = "none";
    r.frequencyBand = Band::kLow;
  } else if (r.perDay >= 1) {
    r.frequency = "on demand (daily or more)";
    r.frequencyBand = Band::kElite;
  } else if (r.perDay >= 1.0 / 7) {
    r.frequency = "between once a day and once a week";
    r.frequencyBand = Band::kHigh;
  } else if (r.perDay >= 1.0 / 30) {
    r.frequency = "between once a week and once a month";
    r.frequencyBand = Band::kMedium;
  } else {
    r.frequency = "less than once a month";
    r.frequencyBand = Band::kLow;
  }

  // Lead time for changes.
  std::vector<int64_t> fromAuthor, fromBuild;
  for (const auto& d : deploys) {
    if (d.state != "succeeded" || d.rollback || !within(d.finishedAtMs, fromMs, toMs)) continue;
    for (const auto& c : d.commits) {
      LeadTime l{c.sha, d.id, std::max<int64_t>(0, d.finishedAtMs - c.authoredAtMs), {}};
      if (c.firstBuiltAtMs)
        l.fromFirstBuildMs = std::max<int64_t>(0, d.finishedAtMs - *c.firstBuiltAtMs);
      fromAuthor.push_back(l.fromAuthorMs);
      if (l.fromFirstBuildMs) fromBuild.push_back(*l.fromFirstBuildMs);
      r.leadTimes.push_back(std::move(l));
    }
  }
  r.leadMedianMs = nearestRank(fromAuthor, 0.5);
  r.leadP90Ms = nearestRank(fromAuthor, 0.9);
  r.buildLeadMedianMs = nearestRank(fromBuild, 0.5);
  r.buildLeadP90Ms = nearestRank(fromBuild, 0.9);
  if (r.leadMedianMs) r.leadBand = leadBand(*r.leadMedianMs);

  // Change failure rate and recovery time; every failure (those before the period too) makes
  // the environment failing for a while, which rework counts.
  std::vector<Failure> all;
  for (const auto& d : deploys) {
    if (d.rollback) continue;
    auto f = failureOf(d, ok, incidents, toMs);
    bool inPeriod = within(d.finishedAtMs, fromMs, toMs);
    if (inPeriod) ++r.changes;
    if (!f) continue;
    if (inPeriod) r.failures.push_back(*f);
    all.push_back(std::move(*f));
  }
  if (r.changes > 0) {
    r.failureRate = static_cast<double>(r.failures.size()) / r.changes;
    r.failureBand = failureBand(*r.failureRate);
  }
  std::vector<int64_t> recoveries;
  for (const auto& f : r.failures) {
    if (f.recoveredAtMs) recoveries.push_back(std::max<int64_t>(0, *f.recoveredAtMs - f.atMs));
  }
  r.recoveryMedianMs = nearestRank(recoveries, 0.5);
  if (r.recoveryMedianMs) r.recoveryBand = recoveryBand(*r.recoveryMedianMs);

  // Rework rate.
  std::vector<std::pair<int64_t, int64_t>> failing;
  for (const auto& f : all) failing.emplace_back(f.atMs, f.recoveredAtMs.value_or(toMs));
  for (const auto& i : incidents) failing.emplace_back(i.openedAtMs, i.resolvedAtMs.value_or(toMs));
  for (const auto& d : deploys) {
    if (!within(d.finishedAtMs, fromMs, toMs)) continue;
    ++r.deploysAll;
    bool rework = std::any_of(failing.begin(), failing.end(), [&](const auto& span) {
      return d.startedAtMs > span.first && d.startedAtMs < span.second;
    });
    if (rework) ++r.reworkDeploys;
  }
  if (r.deploysAll > 0) r.reworkRate = static_cast<double>(r.reworkDeploys) / r.deploysAll;
  return r;
}

}  // namespace boucle::insight
