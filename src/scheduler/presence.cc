#include "scheduler/presence.h"

#include "core/clock.h"
#include "core/log.h"

namespace boucle::scheduler {

void Presence::start() {
  thread_ = std::thread([this] { loop(); });
}

void Presence::stop() {
  if (!thread_.joinable()) return;
  wakeup_.stop();
  thread_.join();
  if (auto st = store_.forgetServer(options_.me.id); !st.ok()) logError("servers: " + st.message());
}

void Presence::loop() {
  do {
    int64_t now = nowMs();
    options_.me.seenAt = now;
    if (auto st = store_.heartbeat(options_.me); !st.ok()) {
      logError("servers: " + st.message());
      healthySinceMs_ = 0;
    } else if (healthySinceMs_ == 0) {
      healthySinceMs_ = now;
    }
    if (options_.lead) {
      bool leads = options_.lead();
      if (leads != leading_) {
        logInfo(leads ? "this server leads: it polls, fires schedules, runs monitors and sends "
                        "notifications"
                      : "this server no longer leads");
      }
      leading_ = leads;
    }
    if (healthySinceMs_ != 0 && now - healthySinceMs_ >= options_.timeout.count()) sweep();
  } while (wakeup_.wait(options_.period));
}

void Presence::sweep() {
  int64_t staleBefore = nowMs() - options_.timeout.count();
  std::string reason = "the server running it stopped answering (no heartbeat for " +
                       std::to_string(options_.timeout.count() / 1000) + " s)";
  store::Orphans others{staleBefore, false, {}};
  auto runs = store_.interruptUnfinished(reason, others);
  if (!runs.ok()) {
    logError("servers: " + runs.status().message());
  } else if (!runs->empty()) {
    for (const auto& r : *runs) {
      logInfo("run " + std::to_string(r.id) + " of " + r.project + " interrupted: " + reason);
    }
    if (options_.onOrphanRuns) options_.onOrphanRuns(*runs);
  }
  auto deploys = store_.interruptDeploys(reason, others);
  if (!deploys.ok()) {
    logError("servers: " + deploys.status().message());
  } else {
    for (const auto& d : *deploys) {
      logError("deploy " + std::to_string(d.id) + " of " + d.project + " " + d.version + " to " +
               d.env + " interrupted: " + reason + ": check the environment");
    }
  }
}

}  // namespace boucle::scheduler
