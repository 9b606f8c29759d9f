#include "monitor/watcher.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/encoding.h"
#include "core/log.h"
#include "core/wakeup.h"
#include "monitor/incidents.h"
#include "monitor/probe_snapshot.h"
#include "monitor/prober.h"
#include "monitor/series.h"
#include "monitor/watch_plan.h"
#include "scm/git_repo.h"

namespace boucle::monitor {

namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 3'600'000;

std::string_view burnName(BurnAlert a) {
  return a == BurnAlert::kPage ? "page" : a == BurnAlert::kTicket ? "ticket" : "none";
}

// One probe's memory across verdicts.
struct State {
  ProbeStatus status;
  IncidentTracker tracker{3, 2};
  int failAfter = 0, recoverAfter = 0;
  std::string fingerprint;
  int64_t firstFailureAt = 0;
  std::string firstFailure;
  std::optional<Slo> slo;
  std::vector<int64_t> series;  // every release's, newest last
  std::optional<int64_t> burnIncident;
};

}  // namespace

struct Watcher::Impl {
  store::Store& store;
  WatcherOptions options;
  Prober prober;
  // Started with the first probe: a server that watches nothing never loads libcurl (and the
  // TLS, Kerberos and LDAP libraries it brings, 8 MB of the server's RSS).
  bool proberStarted = false;
  Wakeup wakeup;
  std::thread thread;

  std::mutex resultsMu;  // guards results and replanWanted
  std::vector<std::pair<Probe, ProbeResult>> results;
  bool replanWanted = true;

  mutable std::mutex stateMu;  // guards states, problems, remote, remoteProblems, leading
  std::map<std::string, State> states;
  std::vector<std::string> problems;
  // Servers sharing a database: what the leader said last (a server that does not lead
  // answers from it), and whether this one leads.
  std::vector<ProbeStatus> remote;
  std::vector<std::string> remoteProblems;
  bool leading = true;
  std::string lastShared;
  int64_t lastShareMs = 0, lastWrittenMs = 0;

  // The watcher thread's own.
  std::unordered_map<std::string, int64_t> seriesIds;              // key#release → id
  std::unordered_map<int64_t, std::optional<int64_t>> slowerThan;  // series → SLO p95
  std::vector<store::MonitorSample> unsaved;
  int64_t lastPlanMs = 0, lastPruneMs = 0;

  Impl(store::Store& s, WatcherOptions o)
      : store(s), options(std::move(o)), prober([this](const Probe& p, const ProbeResult& r) {
          std::lock_guard lock(resultsMu);
          results.emplace_back(p, r);
        }) {}

  void loop();
  void plan(int64_t now);
  void take(const Probe& p, const ProbeResult& r);
  std::optional<int64_t> seriesOf(const Probe& p, State* st);
  void open(State& st, const Probe& p, const ProbeResult& r);
  void resolve(State& st, const ProbeResult& r);
  void rollUp(int64_t now);
  void judgeBurn(int64_t now);
  void share(bool leads, int64_t now);
};

Watcher::Watcher(store::Store& store, WatcherOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

Watcher::~Watcher() {
  stop();
}

void Watcher::start() {
  impl_->thread = std::thread([this] { impl_->loop(); });
}

void Watcher::stop() {
  impl_->wakeup.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->prober.stop();
}

void Watcher::replan() {
  {
    std::lock_guard lock(impl_->resultsMu);
    impl_->replanWanted = true;
  }
  impl_->wakeup.wake();
}

std::vector<ProbeStatus> Watcher::statuses(std::string_view project) const {
  std::lock_guard lock(impl_->stateMu);
  std::vector<ProbeStatus> out;
  if (!impl_->leading) {
    for (const auto& s : impl_->remote) {
      if (project.empty() || s.project == project) out.push_back(s);
    }
    return out;
  }
  for (const auto& [key, st] : impl_->states) {
    if (project.empty() || st.status.project == project) out.push_back(st.status);
  }
  return out;
}

std::vector<std::string> Watcher::problems() const {
  std::lock_guard lock(impl_->stateMu);
  return impl_->leading ? impl_->problems : impl_->remoteProblems;
}

// Servers sharing a database: the leader writes what its monitors say every few seconds (when
// it changed), the others read it, so any of them answers for the monitors.
void Watcher::Impl::share(bool leads, int64_t now) {
  constexpr int64_t kShareEveryMs = 2000;
  if (leads == leading && now - lastShareMs < kShareEveryMs) return;
  lastShareMs = now;
  if (leads) {
    std::string text;
    {
      std::lock_guard lock(stateMu);
      leading = true;
      std::vector<ProbeStatus> mine;
      for (const auto& [key, st] : states) mine.push_back(st.status);
      text = snapshotJson(mine, problems);
    }
    // Written again now and then even when nothing changed: a server that led before and
    // wrote late must not leave its last word there for long.
    if (text == lastShared && now - lastWrittenMs < 30'000) return;
    if (auto st = store.putMonitorSnapshot(text, now); !st.ok())
      return logError("monitors: cannot share what they say: " + st.message());
    lastShared = std::move(text);
    lastWrittenMs = now;
    return;
  }
  lastShared.clear();
  auto text = store.monitorSnapshot();
  std::vector<ProbeStatus> theirs;
  std::vector<std::string> why;
  if (text.ok()) parseSnapshot(*text, &theirs, &why);
  std::lock_guard lock(stateMu);
  leading = false;
  if (!text.ok()) return;  // the database is away: what was read last stays
  remote = std::move(theirs);
  remoteProblems = std::move(why);
}

void Watcher::Impl::loop() {
  int64_t lastRollup = 0;
  bool led = true;
  do {
    int64_t now = nowMs();
    std::vector<std::pair<Probe, ProbeResult>> batch;
    bool replan = false;
    bool leading = !options.leads || options.leads();
    {
      std::lock_guard lock(resultsMu);
      batch.swap(results);
      replan = replanWanted || now - lastPlanMs >= options.replanEvery.count() || leading != led;
      replanWanted = false;
    }
    led = leading;
    if (replan) plan(now);
    for (const auto& [p, r] : batch) take(p, r);
    if (options.leads) share(leading, now);
    if (!unsaved.empty()) {
      if (auto st = store.addMonitorSamples(unsaved); !st.ok()) {
        logError("monitors: samples not stored: " + st.message());
      }
      unsaved.clear();
    }
    if (!leading) continue;  // the probes stopped with the plan; the leader rolls up
    if (now - lastRollup >= kMinuteMs / 4) {
      lastRollup = now;
      rollUp(now);
    }
    if (now - lastPruneMs >= kHourMs) {
      lastPruneMs = now;
      if (auto st = store.pruneMonitorData(now - options.rawKept.count(),
                                           now - options.rollupsKept.count());
          !st.ok())
        logError("monitors: pruning: " + st.message());
    }
  } while (wakeup.wait(std::chrono::seconds(1)));
}

void Watcher::Impl::plan(int64_t now) {
  lastPlanMs = now;
  // Refilled on demand: releases gone from every environment leave no entry behind.
  seriesIds.clear();
  slowerThan.clear();
  // A server that does not lead probes nothing: the leader does, once for all of them.
  WatchPlan p = !options.leads || options.leads()
                    ? planProbes(store, options.secrets, options.dataDir, options.shared())
                    : WatchPlan{};
  std::map<std::string, State> next;
  std::map<std::string, std::vector<store::MonitorSeries>> known;  // per project, read once
  {
    std::lock_guard lock(stateMu);
    for (const auto& probe : p.probes) {
      std::string key = probe.key();
      auto old = states.find(key);
      State st;
      bool fresh = old == states.end();
      if (!fresh) st = std::move(old->second);
      const auto& m = probe.spec;
      if (fresh || st.failAfter != m.failAfter || st.recoverAfter != m.recoverAfter) {
        bool open = st.tracker.open();
        st.tracker = IncidentTracker(m.failAfter, m.recoverAfter);
        st.tracker.resume(open);
        st.failAfter = m.failAfter;
        st.recoverAfter = m.recoverAfter;
      }
      st.fingerprint = probe.fingerprint();
      auto& s = st.status;
      s.project = probe.project;
      s.env = probe.env;
      s.monitor = probe.monitor;
      s.host = probe.host;
      s.release = probe.release;
      s.kind = std::string(pipeline::toString(m.kind));
      s.everyMs = m.every.count();
      s.sloAvailability = m.sloAvailability;
      s.sloP95Ms = m.sloP95 ? std::optional<int64_t>(m.sloP95->count()) : std::nullopt;
      s.sloWindowMs = m.sloWindow.count();
      st.slo.reset();
      if (m.sloAvailability || m.sloP95) {
        st.slo = Slo{m.sloAvailability, s.sloP95Ms, m.sloWindow.count()};
      }
      next.emplace(key, std::move(st));
    }
    states.swap(next);
    if (p.problems != problems) {
      for (const auto& why : p.problems) logError("monitors: not watched: " + why);
    }
    problems = p.problems;
  }
  // Outside the lock: what the store says of incidents and series.
  for (auto& [key, st] : states) {
    auto& s = st.status;
    std::optional<int64_t> incident;
    if (auto o = store.openIncidentWith(s.project, st.fingerprint); o.ok() && *o) {
      incident = (*o)->id;
    }
    std::optional<int64_t> burn;
    if (auto o = store.openIncidentWith(
            s.project, "slo:" + st.fingerprint.substr(std::string_view("monitor:").size()));
        o.ok() && *o)
      burn = (*o)->id;
    if (!known.count(s.project)) {
      auto all = store.listMonitorSeries(s.project);
      known[s.project] = all.ok() ? std::move(*all) : std::vector<store::MonitorSeries>{};
    }
    std::vector<int64_t> ids;
    for (const auto& x : known[s.project]) {
      if (x.env == s.env && x.monitor == s.monitor && x.host == s.host) ids.push_back(x.id);
    }
    std::lock_guard lock(stateMu);
    // A person resolved it (or opened it again): the tracker follows the store.
    if (incident.has_value() != st.tracker.open()) st.tracker.resume(incident.has_value());
    s.incidentId = incident;
    st.burnIncident = burn;
    st.series = ids;
  }
  std::vector<Probe> probes = std::move(p.probes);
  if (!proberStarted && !probes.empty()) {
    prober.start();
    proberStarted = true;
  }
  prober.setProbes(std::move(probes));
}

std::optional<int64_t> Watcher::Impl::seriesOf(const Probe& p, State* st) {
  std::string id = p.key() + "\n" + p.release;
  if (auto it = seriesIds.find(id); it != seriesIds.end()) return it->second;
  auto made = store.monitorSeries({0, p.project, p.env, p.monitor, p.host, p.release});
  if (!made.ok()) {
    logError("monitors: " + made.status().message());
    return std::nullopt;
  }
  seriesIds[id] = *made;
  slowerThan[*made] = p.spec.sloP95 ? std::optional<int64_t>(p.spec.sloP95->count()) : std::nullopt;
  if (st && std::find(st->series.begin(), st->series.end(), *made) == st->series.end()) {
    std::lock_guard lock(stateMu);
    st->series.push_back(*made);
  }
  return *made;
}

void Watcher::Impl::take(const Probe& p, const ProbeResult& r) {
  auto it = states.find(p.key());
  State* st = it != states.end() && it->second.status.release == p.release ? &it->second : nullptr;
  if (auto series = seriesOf(p, st)) {
    unsaved.push_back({*series, r.atMs, static_cast<int>(r.verdict), r.latencyMs});
  }
  if (!st) return;  // a run of a probe that changed meanwhile: stored, not judged
  IncidentTracker::Change change;
  std::string_view before;
  {
    std::lock_guard lock(stateMu);
    auto& s = st->status;
    before = stateOf(s);
    s.seen = true;
    s.verdict = r.verdict;
    s.atMs = r.atMs;
    s.latencyMs = r.latencyMs;
    s.detail = r.detail;
    (r.verdict == Verdict::kPass   ? s.passes
     : r.verdict == Verdict::kFail ? s.failures
                                   : s.noData)++;
    change = st->tracker.record(r.verdict);
    s.streak = st->tracker.streak();
    if (!st->tracker.open() && r.verdict != Verdict::kPass && s.streak == 1) {
      st->firstFailureAt = r.atMs;
      st->firstFailure = r.detail;
    }
  }
  if (change == IncidentTracker::Change::kOpened) open(*st, p, r);
  if (change == IncidentTracker::Change::kResolved) resolve(*st, r);
  if (options.onStateChange) {
    std::optional<ProbeStatus> changed;
    {
      std::lock_guard lock(stateMu);
      if (stateOf(st->status) != before) changed = st->status;
    }
    if (changed) options.onStateChange(*changed);
  }
}

std::string_view stateOf(const ProbeStatus& s) {
  if (!s.seen) return "pending";
  if (s.incidentId) return "down";
  if (s.verdict == Verdict::kNoData) return "no_data";
  return s.verdict == Verdict::kPass ? "up" : "failing";
}

void Watcher::Impl::open(State& st, const Probe& p, const ProbeResult& r) {
  std::string where = p.monitor + (p.host.empty() ? "" : " on " + p.host);
  OpenRequest req;
  req.project = p.project;
  req.env = p.env;
  req.source = "monitor";
  req.monitor = p.monitor;
  req.fingerprint = st.fingerprint;
  req.title = cutUtf8(where + ": " + (r.verdict == Verdict::kNoData ? "no data" : "failing") +
                          " (" + st.firstFailure + ")",
                      300);
  req.actor = "boucle";
  req.atMs = st.firstFailureAt ? st.firstFailureAt : r.atMs;
  auto opened = openIncident(store, scm::mirrorPath(options.shared(), p.project), req);
  if (!opened.ok()) {
    // Already open (opened before a restart, say): that one goes on.
    auto o = store.openIncidentWith(p.project, st.fingerprint);
    if (o.ok() && *o) {
      std::lock_guard lock(stateMu);
      st.status.incidentId = (*o)->id;
      return;
    }
    logError("monitors: " + p.describe() + ": no incident opened: " + opened.status().message());
    return;
  }
  {
    std::lock_guard lock(stateMu);
    st.status.incidentId = opened->id;
  }
  std::string text = std::to_string(p.spec.failAfter) +
                     " verdict(s) in a row not passing; last: " + std::string(toString(r.verdict)) +
                     ", " + r.detail;
  if (auto e =
          store.addIncidentEvent({opened->id, r.atMs, "failures", "boucle", cutUtf8(text, 500)});
      !e.ok())
    logError("incident " + std::to_string(opened->id) + ": " + e.message());
  logInfo("incident " + std::to_string(opened->id) + " opened: " + p.describe() + ": " + r.detail);
  if (options.onIncident) options.onIncident(*opened, "incident");
}

void Watcher::Impl::resolve(State& st, const ProbeResult& r) {
  std::optional<int64_t> id;
  {
    std::lock_guard lock(stateMu);
    id = st.status.incidentId;
    st.status.incidentId.reset();
  }
  if (!id) return;
  std::string text = "recovered (" + r.detail + ")";
  auto done = store.resolveIncident(*id, "boucle", r.atMs, cutUtf8(text, 500));
  if (done.code() == Code::kConflict) return;  // a person resolved it first
  if (!done.ok()) return logError("incident " + std::to_string(*id) + ": " + done.message());
  logInfo("incident " + std::to_string(*id) + " resolved: " + st.status.project + "/" +
          st.status.env + "/" + st.status.monitor);
  auto i = store.getIncident(*id);
  if (i.ok() && options.onIncident) options.onIncident(*i, "resolved");
}

void Watcher::Impl::rollUp(int64_t now) {
  // Minutes that ended a few seconds ago: every sample of theirs is stored by now.
  int64_t upTo = (now - 5'000) / kMinuteMs * kMinuteMs;
  auto done = store.monitorRollupsDoneUntil();
  if (!done.ok()) return logError("monitors: " + done.status().message());
  int64_t from = std::max(*done, upTo - options.rawKept.count());
  if (from >= upTo) return;
  // A day at most at a time: a server that was off for long catches up over a few turns.
  upTo = std::min(upTo, from + 24 * kHourMs);
  auto samples = store.monitorSamples(from, upTo);
  if (!samples.ok()) return logError("monitors: " + samples.status().message());
  std::unordered_map<int64_t, std::vector<Sample>> bySeries;
  for (const auto& s : *samples) {
    bySeries[s.series].push_back({s.atMs, static_cast<Verdict>(s.verdict), s.latencyMs});
  }
  std::vector<store::MonitorRollup> rows;
  for (auto& [series, list] : bySeries) {
    auto slow = slowerThan.find(series);
    for (const auto& r :
         monitor::rollUp(std::move(list), slow != slowerThan.end() ? slow->second : std::nullopt)) {
      rows.push_back(
          {series, r.minuteMs, r.count, r.failures, r.noData, r.slow, r.p50Ms, r.p95Ms, r.p99Ms});
    }
  }
  if (auto st = store.putMonitorRollups(rows, upTo); !st.ok()) {
    return logError("monitors: rollups not stored: " + st.message());
  }
  judgeBurn(now);
}

// A page-level burn (the budget going 14.4 times too fast over the last hour and 5 minutes)
// opens an incident of its own; it is resolved once neither window burns that fast.
void Watcher::Impl::judgeBurn(int64_t now) {
  for (auto& [key, st] : states) {
    if (!st.slo || !st.slo->availability || st.series.empty()) continue;
    std::vector<Rollup> rollups;
    for (int64_t id : st.series) {
      auto rows = store.monitorRollups(id, now - 6 * kHourMs);
      if (!rows.ok()) continue;
      for (const auto& x : *rows) {
        rollups.push_back(
            {x.minuteMs, x.count, x.failures, x.noData, x.p50Ms, x.p95Ms, x.p99Ms, x.slow});
      }
    }
    std::sort(rollups.begin(), rollups.end(),
              [](const Rollup& a, const Rollup& b) { return a.minuteMs < b.minuteMs; });
    BurnAlert alert = burnAlert(rollups, *st.slo, now);
    auto& s = st.status;
    {
      std::lock_guard lock(stateMu);
      s.burn = std::string(burnName(alert));
    }
    std::string fingerprint = "slo:" + st.fingerprint.substr(std::string_view("monitor:").size());
    if (alert == BurnAlert::kPage && !st.burnIncident) {
      OpenRequest req{s.project,
                      s.env,
                      "monitor",
                      s.monitor,
                      fingerprint,
                      cutUtf8(s.monitor + ": burning its error budget over 14.4 times as fast "
                                          "as its SLO allows (last hour and last 5 minutes)",
                              300),
                      "boucle",
                      now};
      auto opened = openIncident(store, scm::mirrorPath(options.shared(), s.project), req);
      if (opened.ok()) {
        st.burnIncident = opened->id;
        if (options.onIncident) options.onIncident(*opened, "incident");
      }
    } else if (alert == BurnAlert::kNone && st.burnIncident) {
      auto id = *st.burnIncident;
      st.burnIncident.reset();
      auto done = store.resolveIncident(id, "boucle", now, "the budget no longer burns that fast");
      if (done.ok() && options.onIncident) {
        if (auto i = store.getIncident(id); i.ok()) options.onIncident(*i, "resolved");
      }
    }
  }
}

}  // namespace boucle::monitor
