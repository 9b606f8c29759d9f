#pragma once
// What a server and a remote agent (`boucle agent`) say to each other about a job, as JSON:
// the job's spec (given with its claim) and the agent's report at its end. Both sides read
// what the other wrote, so each reader checks and bounds it: an agent's report is input a
// job's own code may have shaped (its test reports, its artifacts' names).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runner/engine.h"

namespace boucle::scheduler {

struct AgentJobSpec {
  std::string project;
  int64_t runId = 0;
  std::string job;
  int attempt = 1;
  std::string commit;
  std::string branch;
  std::string pipeline;  // the job alone, as a pipeline file of that one job (job_alone.h)
  bool source = false;   // the job wants the commit's files (GET .../source)
  bool processAllowed = false;
  std::vector<runner::ArtifactEntry> needed;  // artifacts of the jobs it needs
  // The project's quarantined tests: a failure of only these passes (runner::RunConfig).
  std::vector<std::string> quarantined;
  // NAME=value lines added to the job's environment: a deploy's measuring run's BOUCLE_PERF_*
  // and the measured environment's non-secret values. Only BOUCLE_ names are taken.
  std::vector<std::string> env;
};

std::string specToJson(const AgentJobSpec& s);
Result<AgentJobSpec> specFromJson(std::string_view text);

struct AgentReport {
  runner::JobState state = runner::JobState::kFailed;  // passed, failed, timed_out, cancelled
  int exitCode = -1;
  Millis duration{0};
  std::string reason;
  uint64_t logSize = 0;  // the whole log the agent sent
  std::optional<runner::TestReport> tests;
  std::vector<runner::Measurement> benchmarks;
  std::vector<runner::ArtifactEntry> artifacts;
};

std::string reportToJson(const AgentReport& r);
// Invalid (with what) when a field is missing, of the wrong type, or out of bounds: a state
// that is no end, an artifact path that leaves the workspace, a hash that is no sha256.
Result<AgentReport> reportFromJson(std::string_view text);

// A workspace-relative path an artifact may have: no "..", not absolute, no NUL, bounded.
bool safeArtifactPath(std::string_view path);
bool isSha256(std::string_view hex);

}  // namespace boucle::scheduler
