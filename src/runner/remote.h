#pragma once
// Jobs the engine hands to remote agents (`boucle agent`) instead of running them itself. The
// engine knows nothing of how they travel: a RemoteJobs (the server's is
// scheduler/remote_dispatch) queues them, and says what came of them. Their logs arrive in the
// files the engine names, written by whoever receives them; the engine passes them on to its
// observer as they grow.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/status.h"
#include "pipeline/pipeline.h"
#include "runner/engine.h"

namespace boucle::runner {

struct RemoteUpdate {
  enum class Kind { kRunning, kEnded, kLost };
  int64_t id = 0;  // the RemoteJobs' own name for this attempt (taken() gives it back)
  std::string job;
  int attempt = 1;
  Kind kind = Kind::kRunning;
  std::string agent;     // who runs or ran it
  uint64_t logSize = 0;  // bytes of its log received so far
  // kEnded: the agent's report.
  JobState state = JobState::kFailed;
  int exitCode = -1;
  Millis duration{0};
  std::string reason;
  std::optional<TestReport> tests;
  std::vector<Measurement> benchmarks;
  std::vector<ArtifactEntry> artifacts;  // already in the run's blob store
};

class RemoteJobs {
 public:
  virtual ~RemoteJobs() = default;
  // Whether this job goes to remote agents.
  virtual bool takes(const pipeline::Job& job) const = 0;
  // Queues an attempt of the job; `needed` are the artifacts of the jobs it needs.
  virtual Status submit(const pipeline::Job& job, int attempt, const std::filesystem::path& log,
                        const std::vector<ArtifactEntry>& needed) = 0;
  // What became of the submitted jobs that started since they were submitted. An ended or lost
  // one is reported until the engine says it took it in (taken()): a crash between the two
  // loses nothing.
  virtual Result<std::vector<RemoteUpdate>> poll() = 0;
  virtual void taken(int64_t id) = 0;
  // Asks every job of the run to stop; queued ones never start.
  virtual void cancelAll() = 0;
  // The engine ended this attempt itself (its agent never did): it is nobody's any more, and
  // whatever its agent says of it is refused.
  virtual void abandon(const std::string& job, int attempt) = 0;
  // Readable when poll() may have news; the engine also looks twice a second without it.
  virtual int wakeFd() const = 0;
};

}  // namespace boucle::runner
