#include "notify/status_publisher.h"

#include "core/clock.h"
#include "core/log.h"
#include "notify/forge_status.h"

namespace boucle::notify {

StatusPublisher::StatusPublisher(store::Store& store, std::string baseUrl)
    : store_(store), baseUrl_(std::move(baseUrl)) {}

void StatusPublisher::runChanged(const store::Run& r) {
  {
    std::lock_guard lock(mu_);
    auto it = seen_.find(r.id);
    if (it != seen_.end() && it->second == r.state) return;  // a write that changed no state
    if (store::isFinished(r.state)) {
      if (it != seen_.end()) seen_.erase(it);
    } else {
      // Bounded whatever happens to runs: forgetting costs a repeated status at most.
      if (seen_.size() > 10000) seen_.clear();
      seen_[r.id] = r.state;
    }
    changes_.emplace_back(r.id, r.state);
  }
  wakeup_.wake();
}

void StatusPublisher::start() {
  thread_ = std::thread([this] { loop(); });
}

void StatusPublisher::stop() {
  wakeup_.stop();
  if (thread_.joinable()) thread_.join();
}

void StatusPublisher::loop() {
  for (;;) {
    bool more = wakeup_.wait(std::chrono::seconds(5));
    for (;;) {
      std::pair<int64_t, store::RunState> change;
      {
        std::lock_guard lock(mu_);
        if (changes_.empty()) break;
        change = changes_.front();
        changes_.pop_front();
      }
      publish(change.first, change.second);
    }
    if (!more) return;  // stopped, once what was told is queued
  }
}

void StatusPublisher::publish(int64_t runId, store::RunState state) {
  auto run = store_.getRun(runId);
  if (!run.ok()) return;
  auto project = store_.getProject(run->project);
  if (!project.ok() || project->forge.empty()) return;
  auto target = forgeTarget(*project);
  if (!target.ok()) {
    logError("status of run " + std::to_string(runId) + ": " + target.status().message());
    return;
  }
  // The state this change told, with what the run is now (its commit resolved meanwhile).
  run->state = state;
  std::vector<store::JobRecord> jobs;
  if (store::isFinished(state)) {
    auto listed = store_.listJobs(runId);
    if (listed.ok()) jobs = std::move(listed).value();
  }
  auto request = statusFor(**target, *run, jobs, baseUrl_ + "/#/runs/" + std::to_string(runId));
  if (!request) return;
  store::Delivery d;
  d.runId = runId;
  d.event = request->state;
  d.channel = "status";
  d.target = request->url;
  d.payload = request->body;
  d.nextAttemptAt = nowMs();
  if (auto id = store_.addDelivery(d); !id.ok()) {
    logError("status of run " + std::to_string(runId) + ": " + id.status().message());
    return;
  }
  if (queued_) queued_();
}

}  // namespace boucle::notify
