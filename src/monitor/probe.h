#pragma once
// One monitor made ready to run in one place: its definition rendered with the environment's
// values (per host where it names one), and what one run of it found.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "monitor/incident_tracker.h"
#include "pipeline/pipeline.h"
#include "runner/masker.h"

namespace boucle::monitor {

struct Probe {
  std::string project, env, monitor, host;  // host "" when not per host
  std::string release;                      // live in the environment
  std::optional<int64_t> deployId;          // the deploy that brought it
  pipeline::Monitor spec;                   // target and query rendered
  std::vector<std::string> environ;         // `run`: exactly this environment
  std::filesystem::path cwd;                // `run`: started here
  // The environment's secrets, masked in what the probe says (shared by its probes).
  std::shared_ptr<const runner::Masker> masker;

  // The same probe from one plan to the next.
  std::string key() const;
  std::string describe() const;  // "web/prod/health" or "web/prod/health@web1", for logs
  // How it is told apart among the project's incidents.
  std::string fingerprint() const;
};

struct ProbeResult {
  Verdict verdict = Verdict::kFail;
  int64_t atMs = 0;       // when the verdict was known
  int64_t latencyMs = 0;  // from the probe's start
  std::string detail;     // "HTTP 200 in 12 ms", "connection refused", "no series", …
};

}  // namespace boucle::monitor
