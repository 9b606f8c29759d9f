#include "insight/dora.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <iterator>

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
// included) in order of their end: what was live when, and what replaced it. `incidents` in
// order of their opening.
std::optional<Failure> failureOf(const DoraDeploy& d, const std::vector<const DoraDeploy*>& ok,
                                 const std::vector<DoraIncident>& incidents, int64_t toMs) {
  Failure f;
  f.deployId = d.id;
  // The first successful deploy after `d` in the order of their ends.
  auto after = [&](int64_t t, int64_t id) {
    return std::upper_bound(ok.begin(), ok.end(), std::pair{t, id},
                            [](const std::pair<int64_t, int64_t>& key, const DoraDeploy* o) {
                              return key < std::pair{o->finishedAtMs, o->id};
                            });
  };
  if (d.state == "failed") {
    f.cause = "failed";
    f.version = d.version;
    f.atMs = d.finishedAtMs;
    auto next = after(d.finishedAtMs, INT64_MAX);
    if (next != ok.end()) f.recoveredAtMs = (*next)->finishedAtMs;
    return f;
  }
  if (d.state == "rolled_back") {
    // boucle put the previous release back itself: healthy again when the deploy ended.
    f.cause = "rolled_back";
    f.version = d.version;
    f.atMs = d.startedAtMs;
    f.recoveredAtMs = d.finishedAtMs;
    return f;
  }
  // Succeeded: live until the next successful deploy replaced it.
  auto nextIt = after(d.finishedAtMs, d.id);
  const DoraDeploy* next = nextIt == ok.end() ? nullptr : *nextIt;
  int64_t liveUntil = next ? next->finishedAtMs : toMs;
  auto firstIt =
      std::lower_bound(incidents.begin(), incidents.end(), d.finishedAtMs,
                       [](const DoraIncident& i, int64_t t) { return i.openedAtMs < t; });
  const DoraIncident* first =
      firstIt != incidents.end() && firstIt->openedAtMs < liveUntil ? &*firstIt : nullptr;
  if (next && next->rollback) {
    f.cause = "rolled_back_by_hand";
    f.version = d.version;
    f.atMs = first ? first->openedAtMs : d.finishedAtMs;
    f.recoveredAtMs = next->finishedAtMs;
    f.incidentId = first ? first->id : 0;
    return f;
  }
  if (first) {
    f.cause = "incident";
    f.version = d.version;
    f.atMs = first->openedAtMs;
    f.recoveredAtMs = first->resolvedAtMs;
    f.incidentId = first->id;
    return f;
  }
  return std::nullopt;
}

// The nearest-rank quantile of values already sorted.
std::optional<int64_t> rankOf(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return std::nullopt;
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// Spans merged into disjoint ones, in order.
std::vector<std::pair<int64_t, int64_t>> merged(std::vector<std::pair<int64_t, int64_t>> spans) {
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& s : spans) {
    if (!out.empty() && s.first < out.back().second) {
      out.back().second = std::max(out.back().second, s.second);
    } else {
      out.push_back(s);
    }
  }
  return out;
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
  std::sort(values.begin(), values.end());
  return rankOf(values, q);
}

DoraReport computeDora(const std::vector<DoraDeploy>& all, std::vector<DoraIncident> incidents,
                       int64_t fromMs, int64_t toMs) {
  DoraReport r;
  r.fromMs = fromMs;
  r.toMs = toMs;
  // Looked at through pointers, in the order of their ends: a history is not copied.
  std::vector<const DoraDeploy*> order;
  order.reserve(all.size());
  for (const auto& d : all) {
    if (counted(d)) order.push_back(&d);
  }
  std::sort(order.begin(), order.end(), [](const DoraDeploy* a, const DoraDeploy* b) {
    return a->finishedAtMs != b->finishedAtMs ? a->finishedAtMs < b->finishedAtMs : a->id < b->id;
  });
  std::sort(incidents.begin(), incidents.end(), [](const DoraIncident& a, const DoraIncident& b) {
    return a.openedAtMs != b.openedAtMs ? a.openedAtMs < b.openedAtMs : a.id < b.id;
  });
  std::vector<const DoraDeploy*> ok;
  for (const auto* d : order) {
    if (d->state == "succeeded") ok.push_back(d);
  }

  // Deployment frequency.
  for (const auto* d : order) {
    if (d->state == "succeeded" && !d->rollback && within(d->finishedAtMs, fromMs, toMs))
      ++r.deploys;
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
  for (const auto* d : order) {
    if (d->state != "succeeded" || d->rollback || !within(d->finishedAtMs, fromMs, toMs)) continue;
    for (const auto& c : d->commits) {
      LeadTime l{c.sha, d->id, std::max<int64_t>(0, d->finishedAtMs - c.authoredAtMs), {}};
      if (c.firstBuiltAtMs)
        l.fromFirstBuildMs = std::max<int64_t>(0, d->finishedAtMs - *c.firstBuiltAtMs);
      fromAuthor.push_back(l.fromAuthorMs);
      if (l.fromFirstBuildMs) fromBuild.push_back(*l.fromFirstBuildMs);
      r.leadTimes.push_back(std::move(l));
    }
  }
  std::sort(fromAuthor.begin(), fromAuthor.end());  // once: rankOf reads both quantiles
  std::sort(fromBuild.begin(), fromBuild.end());
  r.leadMedianMs = rankOf(fromAuthor, 0.5);
  r.leadP90Ms = rankOf(fromAuthor, 0.9);
  r.buildLeadMedianMs = rankOf(fromBuild, 0.5);
  r.buildLeadP90Ms = rankOf(fromBuild, 0.9);
  if (r.leadMedianMs) r.leadBand = leadBand(*r.leadMedianMs);

  // Change failure rate and recovery time; every failure (those before the period too) makes
  // the environment failing for a while, which rework counts.
  std::vector<std::pair<int64_t, int64_t>> failing;
  for (const auto* d : order) {
    if (d->rollback) continue;
    bool inPeriod = within(d->finishedAtMs, fromMs, toMs);
    if (inPeriod) ++r.changes;
    auto f = failureOf(*d, ok, incidents, toMs);
    if (!f) continue;
    // An automatic rollback fails and recovers within its own deploy, during which no other
    // deploy of the environment can start: nothing is rework because of it.
    if (f->cause != "rolled_back") failing.emplace_back(f->atMs, f->recoveredAtMs.value_or(toMs));
    if (inPeriod) r.failures.push_back(std::move(*f));
  }
  if (r.changes > 0) {
    r.failureRate = static_cast<double>(r.failures.size()) / r.changes;
    r.failureBand = failureBand(*r.failureRate);
  }
  std::vector<int64_t> recoveries;
  for (const auto& f : r.failures) {
    if (f.recoveredAtMs) recoveries.push_back(std::max<int64_t>(0, *f.recoveredAtMs - f.atMs));
  }
  r.recoveryMedianMs = nearestRank(std::move(recoveries), 0.5);
  if (r.recoveryMedianMs) r.recoveryBand = recoveryBand(*r.recoveryMedianMs);

  // Rework rate.
  for (const auto& i : incidents) failing.emplace_back(i.openedAtMs, i.resolvedAtMs.value_or(toMs));
  failing = merged(std::move(failing));
  for (const auto* d : order) {
    if (!within(d->finishedAtMs, fromMs, toMs)) continue;
    ++r.deploysAll;
    // The last span starting at or before the deploy's start: rework if it started inside.
    auto it = std::upper_bound(failing.begin(), failing.end(), d->startedAtMs,
                               [](int64_t t, const auto& span) { return t < span.first; });
    if (it != failing.begin() && d->startedAtMs < std::prev(it)->second) ++r.reworkDeploys;
  }
  if (r.deploysAll > 0) r.reworkRate = static_cast<double>(r.reworkDeploys) / r.deploysAll;
  return r;
}

}  // namespace boucle::insight
