#include "deploy/perf_gate.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "deploy/deployer.h"
#include "quality/perf_check.h"

namespace boucle::deploy {

using nlohmann::json;

namespace {

std::vector<runner::Measurement> measurementsOf(const std::vector<store::BenchmarkRecord>& all,
                                                const std::string& job) {
  std::vector<runner::Measurement> out;
  for (const auto& b : all)
    if (b.job == job) out.push_back({b.name, b.source, b.figures, b.samples});
  return out;
}

// The measuring run of the newest deploy that brought `version` here with a check.
std::optional<int64_t> baselineRun(store::Store& store, const std::string& project,
                                   const std::string& env, const std::string& version) {
  auto deploys = store.listDeploys(project, env, 500);
  if (!deploys.ok()) return std::nullopt;
  for (const auto& d : *deploys) {
    if (d.version != version || d.state != store::DeployState::kSucceeded || d.perfJson.empty())
      continue;
    json p = json::parse(d.perfJson, nullptr, false);
    if (p.is_object() && p.value("run_id", int64_t{0}) > 0) return p["run_id"].get<int64_t>();
  }
  return std::nullopt;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

std::string roundJob(const std::string& job, char side, int round) {
  return job + "-" + side + std::to_string(round);
}

Interleaved interleavedMeasurements(const std::vector<store::BenchmarkRecord>& all,
                                    const std::string& job, const std::string& figure, int rounds) {
  Interleaved out;
  bool higher = runner::higherIsBetter(figure);
  for (char side : {'A', 'B'}) {
    // name → the figure of each round, in round order
    std::map<std::string, std::vector<double>> byName;
    std::map<std::string, std::string> source;
    for (int round = 1; round <= rounds; ++round) {
      std::string name = roundJob(job, side, round);
      bool reported = false;
      for (const auto& b : all) {
        if (b.job != name) continue;
        auto f = b.figures.find(figure);
        if (f == b.figures.end()) continue;
        byName[b.name].push_back(f->second);
        source[b.name] = b.source;
        reported = true;
      }
      if (!reported && out.missing.empty()) out.missing = name;
    }
    auto& list = side == 'A' ? out.baseline : out.candidate;
    for (auto& [name, values] : byName) {
      runner::Measurement m{name, source[name], {}, {}};
      m.figures[figure] = median(values);
      for (double v : values) m.samples.push_back(higher ? -v : v);
      list.push_back(std::move(m));
    }
  }
  return out;
}

PerfGate checkPerformance(store::Store& store, const store::Deploy& deploy,
                          const store::Release& release, const pipeline::Environment::Perf& perf,
                          const std::string& against, const PerfRunner& run,
                          const std::function<bool()>& stopping,
                          const std::function<void(const std::string&)>& say) {
  PerfGate gate;
  json record = {{"job", perf.job},
                 {"against", against},
                 {"figure", perf.figure},
                 {"max_regression", perf.maxRegression},
                 {"floor", perf.floor},
                 {"baseline_version", deploy.fromVersion},
                 {"baseline_run_id", nullptr},
                 {"run_id", nullptr}};
  auto fail = [&](std::string why) {
    gate.end = PerfGate::End::kFailed;
    gate.reason = "performance check: " + why;
    record["passed"] = false;
    record["summary"] = why;
    gate.json = record.dump(-1, ' ', false, json::error_handler_t::replace);
    say("nothing was touched: " + gate.reason);
    return gate;
  };
  if (!run) return fail("this server cannot run performance checks");
  // Both sides' figures judged by the rule, each comparison in the log and the record.
  auto judge = [&](const std::vector<runner::Measurement>& baseline,
                   const std::vector<runner::Measurement>& candidate) {
    quality::PerfLimit limit;
    limit.figure = perf.figure;
    limit.maxRegression = perf.maxRegression;
    limit.floor = perf.floor;
    limit.alpha = perf.alpha;
    limit.name = perf.name;
    auto verdict = quality::judgePerformance(baseline, candidate, limit);
    json comparisons = json::array();
    for (const auto& c : verdict.comparisons) {
      say("  " + c.text);
      // The record is shown with every deploy: the log has them all, the record the first 100.
      if (comparisons.size() >= 100) continue;
      comparisons.push_back({{"name", c.name},
                             {"baseline", c.baseline},
                             {"candidate", c.candidate},
                             {"change", c.change},
                             {"p", c.p ? json(*c.p) : json(nullptr)},
                             {"baseline_samples", c.baselineSamples},
                             {"candidate_samples", c.candidateSamples},
                             {"regression", c.regression},
                             {"text", c.text}});
    }
    record["comparisons"] = comparisons;
    if (!verdict.passed)
      return fail(verdict.summary + " (" + deploy.fromVersion + " → " + release.version + ")");
    record["passed"] = true;
    record["summary"] = verdict.summary;
    gate.end = PerfGate::End::kPassed;
    gate.json = record.dump(-1, ' ', false, json::error_handler_t::replace);
    say("performance check: " + verdict.summary);
    return gate;
  };
  if (perf.interleave > 0) {
    // A/B/A/B in one run on one machine: the release running here and the candidate, each
    // given to the job in turns, so that what the machine does meanwhile falls on both.
    record["interleave"] = perf.interleave;
    if (deploy.fromVersion.empty() || deploy.fromVersion == release.version) {
      record["passed"] = true;
      record["summary"] = "nothing to compare with (" + deploy.env + " runs " +
                          (deploy.fromVersion.empty() ? "no release yet" : "this release") + ")";
      gate.end = PerfGate::End::kPassed;
      gate.json = record.dump(-1, ' ', false, json::error_handler_t::replace);
      say("performance check: " + record["summary"].get<std::string>());
      return gate;
    }
    auto baselineRelease = store.getRelease(deploy.project, deploy.fromVersion);
    if (!baselineRelease.ok()) return fail(baselineRelease.status().message());
    std::string env = against.empty() ? deploy.env : against;
    say("performance check: job " + perf.job + ", " + deploy.fromVersion + " and " +
        release.version + " in turns, " + std::to_string(perf.interleave) + " rounds each");
    // Without an `after` the rounds measure no environment: they are not given this one's
    // values (a production URL is not theirs to load).
    auto measured =
        run(PerfAsk{&release, perf.job, env, &*baselineRelease, perf.interleave, !against.empty()},
            stopping);
    if (!measured) {
      gate.end = PerfGate::End::kInterrupted;
      gate.reason = "the server stopped during the performance check; nothing was touched";
      return gate;
    }
    if (!measured->ok()) return fail(measured->status().message());
    record["run_id"] = (*measured)->runId;
    record["baseline_run_id"] = (*measured)->runId;
    say("performance check: run " + std::to_string((*measured)->runId) + " " +
        std::string(store::toString((*measured)->state)));
    if ((*measured)->state != store::RunState::kPassed)
      return fail("the measuring run " + std::to_string((*measured)->runId) + " " +
                  std::string(store::toString((*measured)->state)) +
                  ((*measured)->reason.empty() ? "" : ": " + (*measured)->reason));
    auto sides =
        interleavedMeasurements((*measured)->measurements, perf.job, perf.figure, perf.interleave);
    if (!sides.missing.empty())
      return fail("round " + sides.missing + " reported no " + perf.figure +
                  " (reports: {benchmark: FILE})");
    return judge(sides.baseline, sides.candidate);
  }
  // What is measured must be this release: `after` only says it once succeeded there, and the
  // environment may have moved on (or back) since.
  auto runsThere = [&]() -> std::optional<std::string> {
    auto there = currentRelease(store, deploy.project, against);
    if (!there.ok()) return there.status().message();
    if (there->version != release.version)
      return against + " runs " + (there->version.empty() ? "no release" : there->version) +
             ", not " + release.version + ": deploy " + release.version + " to " + against +
             " first, so that it is the one measured";
    return std::nullopt;
  };
  if (auto wrong = runsThere()) return fail(*wrong);
  say("performance check: job " + perf.job + " of " + release.version + " against " + against);
  auto measured = run(PerfAsk{&release, perf.job, against, nullptr, 0}, stopping);
  if (!measured) {
    gate.end = PerfGate::End::kInterrupted;
    gate.reason = "the server stopped during the performance check; nothing was touched";
    return gate;
  }
  if (!measured->ok()) return fail(measured->status().message());
  record["run_id"] = (*measured)->runId;
  say("performance check: run " + std::to_string((*measured)->runId) + " " +
      std::string(store::toString((*measured)->state)));
  if (auto wrong = runsThere()) return fail(*wrong + " (it changed while being measured)");
  if ((*measured)->state != store::RunState::kPassed)
    return fail("the measuring run " + std::to_string((*measured)->runId) + " " +
                std::string(store::toString((*measured)->state)) +
                ((*measured)->reason.empty() ? "" : ": " + (*measured)->reason));
  auto candidate = measurementsOf((*measured)->measurements, perf.job);
  if (candidate.empty())
    return fail("job " + perf.job + " reported no measurement (reports: {benchmark: FILE})");

  std::optional<int64_t> base;
  if (!deploy.fromVersion.empty())
    base = baselineRun(store, deploy.project, deploy.env, deploy.fromVersion);
  if (!base) {
    // Nothing to compare with: these figures are what the next release is held to.
    std::string why = deploy.fromVersion.empty()
                          ? deploy.env + " runs no release yet"
                          : deploy.fromVersion + " was never measured for " + deploy.env;
    record["passed"] = true;
    record["summary"] =
        "no baseline (" + why + "): " + release.version + "'s figures are the baseline from now on";
    gate.end = PerfGate::End::kPassed;
    gate.json = record.dump(-1, ' ', false, json::error_handler_t::replace);
    say("performance check: " + record["summary"].get<std::string>());
    return gate;
  }
  auto before = store.runBenchmarks(*base);
  if (!before.ok()) return fail(before.status().message());
  auto baseline = measurementsOf(*before, perf.job);
  if (baseline.empty()) {
    // The rule names another job than when the running release was measured: these figures
    // start the new job's baseline.
    record["passed"] = true;
    record["summary"] = "no baseline (" + deploy.fromVersion + " was not measured by job " +
                        perf.job + "): " + release.version +
                        "'s figures are the baseline from now on";
    gate.end = PerfGate::End::kPassed;
    gate.json = record.dump(-1, ' ', false, json::error_handler_t::replace);
    say("performance check: " + record["summary"].get<std::string>());
    return gate;
  }
  record["baseline_run_id"] = *base;
  return judge(baseline, candidate);
}

}  // namespace boucle::deploy
