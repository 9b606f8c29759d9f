#pragma once
// Scheduled runs: when the next of a branch's cron expressions fires.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace boucle::scheduler {

// The earliest firing time after `afterMs` (ms since the epoch) among `crons`; nullopt when
// none will ever fire (or none is valid).
std::optional<int64_t> nextFiring(const std::vector<std::string>& crons, int64_t afterMs);

}  // namespace boucle::scheduler
