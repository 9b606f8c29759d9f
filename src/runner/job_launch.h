#pragma once
// Private to the engine: turning a job into a running, supervised process.

#include <sys/types.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "os/files.h"
#include "runner/engine.h"
#include "runner/source_tree.h"
#include "runner/supervisor_client.h"

namespace boucle::runner::detail {

struct LaunchContext {
  const RunConfig* config = nullptr;
  const SourceTree* source = nullptr;  // the run's checkout; null when no job needs it
  std::map<std::string, std::vector<ArtifactEntry>> artifacts;  // of finished jobs
  std::set<std::string> prepared;  // jobs whose empty workspace was made ahead of their start
};

struct Launched {
  pid_t pid = -1;  // the job's main process, leader of its process group, once started
  os::Fd output;   // read end of the job's stdout+stderr pipe
  std::filesystem::path workspace;
  std::filesystem::path cgroup;  // the job's own cgroup ("" where the kernel offers none)
  os::Fd extra;  // what the job's starter finds as descriptor 3 (the sandbox's options), or none
  Millis prepareTime{0};
};

std::filesystem::path logPathFor(const RunConfig& c, const std::string& job, int attempt);
// The file name of a job's log for one attempt: JOB.log, then JOB.attempt-K.log.
std::string logFileName(const std::string& job, int attempt);

// How the job is isolated: what it asks for, else the sandbox when it wants no network, else
// the run's default.
pipeline::Isolation isolationOf(const pipeline::Job& job, const RunConfig& c);

// The shell script a job's `run` becomes. A list of commands echoes each one ("$ cmd") before
// running it, like other CI systems; a single command runs as it is.
std::string jobScript(const pipeline::Job& job);
std::vector<std::string> jobEnvironment(const pipeline::Job& job, const RunConfig& c, int attempt,
                                        const std::filesystem::path& workspace);

// Prepares the workspace and asks `supervisor` to start the job (its answer comes on its fd).
Result<Launched> launchJob(const pipeline::Job& job, int attempt, LaunchContext& ctx,
                           SupervisorClient& supervisor);

// After the job: artifacts into the blob store (a pattern matching nothing is an error), and
// the JUnit reports it produced (unreadable ones become warnings).
Status collectArtifacts(const pipeline::Job& job, const std::filesystem::path& workspace,
                        const RunConfig& c, std::vector<ArtifactEntry>& out);
std::optional<TestReport> collectReports(const pipeline::Job& job,
                                         const std::filesystem::path& workspace,
                                         const std::filesystem::path& sourceDir = {});

// The performance reports it produced (runner/benchmark_report.h); unreadable ones become
// warnings.
std::vector<Measurement> collectBenchmarks(const pipeline::Job& job,
                                           const std::filesystem::path& workspace,
                                           std::vector<std::string>& warnings);

Status writeManifest(const std::filesystem::path& file, const std::vector<ArtifactEntry>& entries);

}  // namespace boucle::runner::detail
