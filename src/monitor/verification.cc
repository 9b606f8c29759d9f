#include "monitor/verification.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "core/clock.h"
#include "core/duration.h"
#include "monitor/prober.h"
#include "monitor/watch_plan.h"
#include "pipeline/parser.h"

namespace boucle::monitor {

namespace {

using nlohmann::json;
using End = deploy::Verification::End;

// What one probe said during the verification.
struct Tally {
  std::string name, host, kind, source;
  int failAfter = 3;
  int passes = 0, failures = 0, noData = 0;
  int streak = 0;                 // verdicts in a row that were not passes
  std::deque<ProbeResult> worst;  // the last `failAfter` of them: the evidence
  std::optional<ProbeResult> last;
  bool failed = false;
};

json resultJson(const ProbeResult& r) {
  return {{"verdict", toString(r.verdict)},
          {"at_ms", r.atMs},
          {"latency_ms", r.latencyMs},
          {"detail", r.detail}};
}

std::string where(const Tally& t) {
  return "'" + t.name + "'" + (t.host.empty() ? "" : " on " + t.host);
}

class Watch {
 public:
  // `checks`: the names of the environment's own checks among the probes.
  Watch(const deploy::VerifyJob& job, const std::vector<Probe>& probes,
        const std::set<std::string>& checks)
      : job_(job) {
    startedAt_ = nowMs();
    for (const auto& p : probes) {
      Tally t;
      t.name = p.monitor;
      t.host = p.host;
      t.kind = std::string(pipeline::toString(p.spec.kind));
      t.source = checks.count(p.monitor) ? "check" : "monitor";
      t.failAfter = p.spec.failAfter;
      tallies_.emplace(p.key(), std::move(t));
    }
  }

  void record(const Probe& p, const ProbeResult& r) {
    {
      std::lock_guard lock(mu_);
      auto it = tallies_.find(p.key());
      if (it == tallies_.end() || end_) return;
      Tally& t = it->second;
      t.last = r;
      if (r.verdict == Verdict::kPass) {
        ++t.passes;
        t.streak = 0;
        t.worst.clear();
      } else {
        (r.verdict == Verdict::kFail ? t.failures : t.noData) += 1;
        ++t.streak;
        t.worst.push_back(r);
        while (static_cast<int>(t.worst.size()) > t.failAfter) t.worst.pop_front();
        if (t.streak >= t.failAfter) {
          t.failed = true;
          end_ = End::kFailed;
          failure_ = where(t) + " gave " + std::to_string(t.streak) + " verdict" +
                     (t.streak == 1 ? "" : "s") +
                     " in a row that were not passes (last: " + std::string(toString(r.verdict)) +
                     ", " + r.detail + ")";
        }
      }
    }
    cv_.notify_all();
  }

  // Until the verification's end, a failure or the server's stop.
  void wait(std::chrono::milliseconds length) {
    auto deadline = std::chrono::steady_clock::now() + length;
    auto nextProgress = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::unique_lock lock(mu_);
    while (!end_) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      if (job_.stopping && job_.stopping()) {
        end_ = End::kInterrupted;
        failure_ = "the server stopped during the verification";
        break;
      }
      if (now >= nextProgress && job_.progress) {
        std::string snapshot =
            toJson("running").dump(-1, ' ', false, json::error_handler_t::replace);
        lock.unlock();
        job_.progress(snapshot);
        lock.lock();
        nextProgress = now + std::chrono::seconds(5);
        continue;
      }
      cv_.wait_until(lock,
                     std::min({deadline, nextProgress, now + std::chrono::milliseconds(250)}));
    }
    if (!end_) {
      // The whole length without a failure: each probe must still have passed at least once
      // (verdicts that are not passes, fewer than `fail_after`, prove nothing either).
      for (auto& [key, t] : tallies_) {
        if (t.passes > 0) continue;
        t.failed = true;
        end_ = End::kFailed;
        failure_ = where(t) + (t.last ? " never passed in " : " gave no verdict in ") +
                   formatDuration(length) +
                   (t.last ? "" : " (is its 'every' longer than the verification?)");
        break;
      }
    }
    if (!end_) end_ = End::kPassed;
  }

  deploy::Verification result() {
    std::lock_guard lock(mu_);
    deploy::Verification v;
    v.end = end_.value_or(End::kFailed);
    v.failure = failure_;
    const char* state = v.end == End::kPassed   ? "passed"
                        : v.end == End::kFailed ? "failed"
                                                : "interrupted";
    v.json = toJson(state).dump(-1, ' ', false, json::error_handler_t::replace);
    return v;
  }

  std::string summary() {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [key, t] : tallies_) {
      out += (out.empty() ? "" : "; ") + where(t) + ": " + std::to_string(t.passes) + " passed, " +
             std::to_string(t.failures) + " failed, " + std::to_string(t.noData) + " no data";
    }
    return out;
  }

 private:
  json toJson(const char* state) const {
    json probes = json::array();
    for (const auto& [key, t] : tallies_) {
      json evidence = json::array();
      for (const auto& r : t.worst) evidence.push_back(resultJson(r));
      probes.push_back({{"name", t.name},
                        {"host", t.host},
                        {"kind", t.kind},
                        {"source", t.source},
                        {"fail_after", t.failAfter},
                        {"passes", t.passes},
                        {"failures", t.failures},
                        {"no_data", t.noData},
                        {"failed", t.failed},
                        {"last", t.last ? resultJson(*t.last) : json(nullptr)},
                        {"evidence", evidence}});
    }
    json out = {{"state", state},
                {"for_ms", job_.spec.duration.count()},
                {"started_at_ms", startedAt_},
                {"failure", failure_},
                {"probes", probes}};
    if (std::string_view(state) != "running") out["ended_at_ms"] = nowMs();
    return out;
  }

  const deploy::VerifyJob& job_;
  int64_t startedAt_ = 0;
  std::mutex mu_;  // guards everything below: the prober's thread records
  std::condition_variable cv_;
  std::map<std::string, Tally> tallies_;
  std::optional<End> end_;
  std::string failure_;
};

deploy::Verification refuse(const deploy::VerifyJob& job, const std::string& why) {
  job.log.say("verification FAILED: " + why);
  json out = {{"state", "failed"},        {"for_ms", job.spec.duration.count()},
              {"started_at_ms", nowMs()}, {"ended_at_ms", nowMs()},
              {"failure", why},           {"probes", json::array()}};
  return {End::kFailed, why, out.dump(-1, ' ', false, json::error_handler_t::replace)};
}

}  // namespace

deploy::Verification verifyDeploy(const deploy::VerifyJob& job,
                                  const std::filesystem::path& dataDir) {
  // The release's own monitors, then the policy's checks (named apart when a name is taken).
  std::vector<pipeline::Monitor> monitors;
  auto parsed = pipeline::parsePipeline(job.release.pipeline);
  if (parsed.ok()) monitors = parsed.pipeline.monitors;
  std::set<std::string> taken;
  for (const auto& m : monitors) taken.insert(m.name);
  std::set<std::string> checkNames;
  for (auto c : job.spec.checks) {
    while (taken.count(c.name)) c.name += " (verify)";
    taken.insert(c.name);
    checkNames.insert(c.name);
    monitors.push_back(std::move(c));
  }
  if (monitors.empty()) {
    return refuse(job, "nothing to watch: " + job.release.version +
                           " has no monitors and the environment's verify lists no checks");
  }
  WatchPlan plan;
  planRelease(job.release, job.deploy.env, job.values, monitors, dataDir, job.deploy.id, plan);
  if (plan.probes.empty()) {
    return refuse(job, "nothing to watch: no probe could be made (no hosts?)");
  }
  if (!plan.problems.empty()) {
    std::string why = "cannot watch everything: " + plan.problems.front();
    if (plan.problems.size() > 1)
      why += " (and " + std::to_string(plan.problems.size() - 1) + " more)";
    return refuse(job, why);
  }
  std::string length = formatDuration(job.spec.duration);
  job.log.say("verifying for " + length + ": " + std::to_string(plan.probes.size()) + " probe" +
              (plan.probes.size() == 1 ? "" : "s") + " (" + std::to_string(checkNames.size()) +
              " from the environment's checks), failing at the first that fails `fail_after` "
              "times in a row");
  Watch watch(job, plan.probes, checkNames);
  Prober prober([&watch](const Probe& p, const ProbeResult& r) { watch.record(p, r); });
  prober.start();
  prober.setProbes(plan.probes);
  watch.wait(job.spec.duration);
  prober.stop();
  auto result = watch.result();
  job.log.say("verification: " + watch.summary());
  if (result.end == End::kPassed) job.log.say("verification passed after " + length);
  if (result.end == End::kFailed) job.log.say("verification FAILED: " + result.failure);
  if (result.end == End::kInterrupted) job.log.say("verification interrupted: " + result.failure);
  return result;
}

}  // namespace boucle::monitor
