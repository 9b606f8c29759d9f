#pragma once
// Doing: runs a pipeline's jobs as processes, in parallel up to a limit, on one thread (a
// poll() loop over the jobs' output pipes, their supervisors' sockets and a cancel pipe). What runs
// next is decided by the Planner; what happens is reported to a RunObserver.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/duration.h"
#include "pipeline/pipeline.h"
#include "runner/benchmark_report.h"
#include "runner/junit.h"
#include "runner/planner.h"
#include "runner/test_verdict.h"

namespace boucle::runner {

struct ArtifactEntry {
  std::string path;  // workspace-relative
  std::string sha256;
  uint64_t size = 0;
  int mode = 0644;
};

struct JobResult {
  std::string name;
  JobState state = JobState::kPending;
  int exitCode = -1;
  int attempts = 0;
  Millis duration{0};     // of the last attempt's process
  Millis prepareTime{0};  // workspace copy + artifacts of needs, last attempt
  std::string reason;     // why it failed or was skipped, for people
  std::filesystem::path log;
  std::vector<ArtifactEntry> artifacts;
  std::optional<TestReport> tests;      // the last attempt's
  std::vector<Measurement> benchmarks;  // its performance reports' (the last attempt's)
  std::string agent;                    // the remote agent of the last attempt ("" here)
  // The attempts before the last, each failed and tried again, with their tests.
  std::vector<RetriedAttempt> retried;
  // Passed after failing (`retry`): flaky, and the tests that failed and then passed.
  bool flaky = false;
  std::vector<std::string> flakyTests;
  // Passed although tests failed, because every failing one is quarantined: those tests.
  std::vector<std::string> quarantinedFailures;
};

class SupervisorClient;
class RemoteJobs;
// Idle supervisors kept from run to run (the server's workers keep one each): a run takes its
// job slots from here and gives them back, so a run starts no process but its jobs'.
using SupervisorPool = std::vector<std::unique_ptr<SupervisorClient>>;

struct RunConfig {
  std::string project;
  std::string runId;
  std::string commit;
  std::string branch;
  // logs/ and artifacts/ go here, and ws/ (each job's workspace) too unless workDir is
  // given. Workspaces are left in place for the caller to remove once the run is reported:
  // deleting thousands of files is slow I/O on some disks and need not delay the jobs or
  // their results.
  std::filesystem::path runDir;
  // Where ws/ goes when runDir is a folder the servers share (NFS): workspaces stay on this
  // machine's disk. "" = runDir.
  std::filesystem::path workDir;
  std::filesystem::path workRoot() const { return workDir.empty() ? runDir : workDir; }
  std::filesystem::path sourceDir;  // the run's snapshot, copied into each workspace
  std::filesystem::path blobRoot;   // content-addressed artifact store
  // A job's log keeps this many bytes, then says it was cut; the job runs on (0: no limit).
  uint64_t maxLogBytes = 0;
  size_t parallelism = 1;
  Millis killGrace = std::chrono::seconds(10);
  std::vector<std::pair<std::string, std::string>> secrets;  // name, value
  std::vector<std::string> baseEnv;                          // "NAME=value" passed to every job
  // The isolation of jobs that name none, and whether a job may ask for `process`: the server
  // sandboxes every job, and runs one as a plain process only where an admin allowed it.
  pipeline::Isolation defaultIsolation = pipeline::Isolation::kProcess;
  bool processAllowed = true;
  // The project's quarantined tests ("suite › name"): a job whose only failures are among them
  // passes, the failures kept in its result.
  std::set<std::string> quarantined;
  // Attempts each failing job gets beyond its `retry` (the project's `on_red: retry_once` on a
  // branch that was green): a failure is confirmed before the branch is called broken.
  int extraRetries = 0;
  // This project and branch's `cache:` folders; "" = none are kept.
  std::filesystem::path cacheDir;
  // Host folders a sandboxed job must not see even below a folder it is shown (the server's
  // data folder, its user's home).
  std::vector<std::filesystem::path> hiddenPaths;
  int cancelFd = -1;  // readable => cancel (first time: graceful; again: no grace)
  SupervisorPool* supervisors = nullptr;
  // Artifacts placed in every job's workspace as if a job it needs had made them, already in
  // `blobRoot`: a remote agent runs one job whose needs ran elsewhere.
  std::vector<ArtifactEntry> givenArtifacts;
  // Files placed in one job's workspace before it starts, already in `blobRoot`, by job name:
  // an interleaved measuring run's rounds each get the release they time.
  std::map<std::string, std::vector<ArtifactEntry>> jobInputs;
  // What BOUCLE_ATTEMPT says at a job's first start here: an agent runs the server's attempt N.
  int firstAttempt = 1;
  // A run carried on after its server restarted: what its jobs had come to. Finished ones are
  // not run again, ones on remote agents are followed where they are (their RemoteJobs knows
  // them), the others run.
  struct Carried {
    std::string job;
    JobState state = JobState::kPending;  // finished, or kRunning: on an agent
    int attempts = 1;
    int exitCode = -1;
    std::string reason;
    std::vector<ArtifactEntry> artifacts;
    uint64_t logShown = 0;  // of a running one: bytes its followers have had
  };
  std::vector<Carried> carried;
  // Jobs it takes go to remote agents (runner/remote.h); they use none of `parallelism`.
  RemoteJobs* remote = nullptr;
};

struct RunResult {
  std::vector<JobResult> jobs;  // in file order
  bool interrupted = false;
  Millis duration{0};
  bool passed() const;
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void jobStarted(const std::string& /*job*/, int /*attempt*/) {}
  // Output already masked; arrives in arbitrary chunks (not lines).
  virtual void jobOutput(const std::string& /*job*/, std::string_view /*bytes*/) {}
  virtual void jobFinished(const JobResult& /*result*/) {}
  // About once a second while jobs run, for progress displays.
  virtual void tick(const Planner& /*planner*/) {}
};

RunResult runPipeline(const pipeline::Pipeline& p, const RunConfig& config, RunObserver& observer);

}  // namespace boucle::runner
