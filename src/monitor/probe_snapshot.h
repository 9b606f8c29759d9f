#pragma once
// What the leader's monitors said last, for the servers that share its database and do not
// probe: the leader writes it to the store every few seconds, the others answer
// /api/projects/NAME/monitors and /metrics from it.

#include <string>
#include <string_view>
#include <vector>

#include "monitor/watcher.h"

namespace boucle::monitor {

std::string snapshotJson(const std::vector<ProbeStatus>& statuses,
                         const std::vector<std::string>& problems);
// False when `text` is not a snapshot (the outputs are then left empty).
bool parseSnapshot(std::string_view text, std::vector<ProbeStatus>* statuses,
                   std::vector<std::string>* problems);

}  // namespace boucle::monitor
