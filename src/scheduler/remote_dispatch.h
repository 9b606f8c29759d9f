#pragma once
// A run's remote jobs as the server keeps them: queued in the store for any agent (of any
// server sharing the database) to claim, and read back from it as they start, log and end.

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "os/files.h"
#include "pipeline/job_alone.h"
#include "runner/remote.h"
#include "scheduler/agent_board.h"
#include "scheduler/run_metrics.h"
#include "store/store.h"

namespace boucle::scheduler {

struct DispatchOptions {
  std::filesystem::path sharedDir;  // logs are named relative to it (any server reads them)
  // The run's checkout on this server, packed once into the shared run folder's src.tar for
  // the agents (whichever server they call): "" when the run has none.
  std::filesystem::path sourceDir;
  bool everyJob = false;                 // no embedded agent: every job goes to the agents
  bool processAllowed = false;           // the project lets jobs run as plain processes
  RunMetrics* metrics = nullptr;         // hears how long each job waited for its agent
  std::vector<std::string> quarantined;  // the project's quarantined tests
  std::vector<std::string> env;          // AgentJobSpec::env
};

// `source` packed as `tar` (written beside it, then renamed), unless `tar` is there already.
Status packSource(const std::filesystem::path& source, const std::filesystem::path& tar);

class RemoteDispatch : public runner::RemoteJobs {
 public:
  // `pipelineText` is the run's .boucle.yml: agents read their job from it.
  RemoteDispatch(store::Store& store, AgentBoard& board, const store::Run& run,
                 std::string pipelineText, bool source, DispatchOptions options);
  ~RemoteDispatch() override;

  bool takes(const pipeline::Job& job) const override;
  Status submit(const pipeline::Job& job, int attempt, const std::filesystem::path& log,
                const std::vector<runner::ArtifactEntry>& needed) override;
  Result<std::vector<runner::RemoteUpdate>> poll() override;
  void cancelAll() override;
  void taken(int64_t id) override;
  void abandon(const std::string& job, int attempt) override;
  int wakeFd() const override { return wake_[0].get(); }

 private:
  store::Store& store_;
  AgentBoard& board_;
  store::Run run_;
  pipeline::JobTexts jobTexts_;  // each job as its agent gets it
  bool source_;
  DispatchOptions options_;
  os::Fd wake_[2];
  std::map<int64_t, uint64_t> logSizes_;  // running jobs' log sizes last reported
  std::set<int64_t> measured_;            // ended jobs whose wait was measured
};

}  // namespace boucle::scheduler
