#pragma once
// The on-disk record of a run (RUN/run.json) and of a job's artifacts (RUN/artifacts/JOB.json).
// Formats are documented in docs/run-directory.md.

#include <filesystem>
#include <string>

#include "core/status.h"
#include "runner/engine.h"

namespace boucle::runner {

struct RunMeta {
  std::string project, runId, commit, branch, subject;
  std::string state;  // running, passed, failed, cancelled
  long long startedAtMs = 0;
  bool workingTree = false;
};

std::string runToJson(const RunMeta& meta, const RunResult* result);

// A job's artifact manifest (runDir/artifacts/JOB.json) as the engine wrote it: a run carried
// on after its server restarted reads its finished jobs' back.
Result<std::vector<ArtifactEntry>> readManifest(const std::filesystem::path& file);

Status writeRunRecord(const std::filesystem::path& runDir, const RunMeta& meta,
                      const RunResult* result);

}  // namespace boucle::runner
