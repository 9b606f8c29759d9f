#include "scheduler/schedule.h"

#include "core/cron.h"

namespace boucle::scheduler {

std::optional<int64_t> nextFiring(const std::vector<std::string>& crons, int64_t afterMs) {
  std::optional<int64_t> best;
  for (const auto& text : crons) {
    std::string err;
    auto cron = Cron::parse(text, &err);
    if (!cron) continue;
    time_t t = cron->next(static_cast<time_t>(afterMs / 1000));
    if (t == static_cast<time_t>(-1)) continue;
    int64_t ms = static_cast<int64_t>(t) * 1000;
    if (!best || ms < *best) best = ms;
  }
  return best;
}

}  // namespace boucle::scheduler
