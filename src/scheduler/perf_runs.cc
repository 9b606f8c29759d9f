#include "scheduler/perf_runs.h"

#include <chrono>
#include <thread>

#include "core/clock.h"

namespace boucle::scheduler {

namespace {

// The environment's deploys wait for the run: one that never starts (no agent for its labels,
// its branch busy) or never ends is given up on after this long, and cancelled.
constexpr int64_t kMaxWaitMs = int64_t{2} * 3600 * 1000;

std::optional<Result<deploy::PerfRunResult>> measure(store::Store& store,
                                                     const std::function<void()>& wake,
                                                     const store::Release& release,
                                                     const std::string& job, const std::string& env,
                                                     const std::function<bool()>& stopping) {
  using Out = Result<deploy::PerfRunResult>;
  store::Run r;
  r.project = release.project;
  r.ref = release.commit;
  r.branch = release.branch;
  r.commit = release.commit;
  r.trigger = "perf";
  r.subject = "performance of " + release.version + " in " + env;
  r.onlyJobs = {job};
  r.perfEnv = env;
  r.queuedAt = nowMs();
  auto made = store.createRun(r);
  if (!made.ok()) return Out(made.status());
  if (wake) wake();
  int64_t deadline = nowMs() + kMaxWaitMs;
  while (true) {
    auto now = store.getRun(made->id);
    if (!now.ok()) return Out(now.status());
    // A stopping server cancels its runs first: that is no verdict on the release.
    if (stopping()) return std::nullopt;
    if (store::isFinished(now->state)) {
      deploy::PerfRunResult out;
      out.runId = now->id;
      out.state = now->state;
      out.reason = now->reason;
      auto measured = store.runBenchmarks(now->id);
      if (!measured.ok()) return Out(measured.status());
      out.measurements = std::move(measured).value();
      return Out(std::move(out));
    }
    if (nowMs() > deadline) {
      // Asked to stop like a cancel from a person: its agents hear of it.
      now->state = store::RunState::kCancelled;
      now->reason = "the performance check gave up waiting for it after 2 hours";
      now->finishedAt = nowMs();
      (void)store.updateRun(*now);
      return Out(Status::Cancelled("measuring run " + std::to_string(now->id) +
                                   " did not end within 2 hours"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

deploy::PerfRunner perfRunner(store::Store& store, std::function<void()> wake) {
  return [&store, wake](const store::Release& release, const std::string& job,
                        const std::string& env, const std::function<bool()>& stopping) {
    return measure(store, wake, release, job, env, stopping);
  };
}

}  // namespace boucle::scheduler
