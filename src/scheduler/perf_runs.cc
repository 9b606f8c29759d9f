#include "scheduler/perf_runs.h"

#include <chrono>
#include <thread>

#include "core/clock.h"

namespace boucle::scheduler {

deploy::PerfRunner perfRunner(store::Store& store, std::function<void()> wake) {
  return
      [&store, wake](
          const store::Release& release, const std::string& job, const std::string& env,
          const std::function<bool()>& stopping) -> std::optional<Result<deploy::PerfRunResult>> {
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
        if (!made.ok()) return Result<deploy::PerfRunResult>(made.status());
        if (wake) wake();
        while (true) {
          if (stopping()) return std::nullopt;
          auto now = store.getRun(made->id);
          if (!now.ok()) return Result<deploy::PerfRunResult>(now.status());
          if (store::isFinished(now->state)) {
            deploy::PerfRunResult out;
            out.runId = now->id;
            out.state = now->state;
            out.reason = now->reason;
            auto measured = store.runBenchmarks(now->id);
            if (!measured.ok()) return Result<deploy::PerfRunResult>(measured.status());
            out.measurements = std::move(measured).value();
            return Result<deploy::PerfRunResult>(std::move(out));
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      };
}

}  // namespace boucle::scheduler
