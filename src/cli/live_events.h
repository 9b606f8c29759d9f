#pragma once
// The command line's side of GET /api/events: a run followed to its end (`boucle trigger
// --wait`).

#include <functional>
#include <string>
#include <string_view>

#include "cli/client_api.h"
#include "core/sse.h"

namespace boucle::cli {

// Prints the run's jobs as they start and end, then its end; the exit code says how it ended
// (0 passed, 1 anything else). `project` filters the events.
int followRun(const ClientArgs& a, const std::string& project, int64_t runId);

}  // namespace boucle::cli
