#pragma once
// The embedded agent: worker threads that take queued runs from the store (several at once, a
// branch's runs in order) and run them through the same engine as `boucle run`. It also judges
// finished runs (broken/fixed) and, when a breaking run built several new commits, bisects them
// to find the one that broke the branch. Remote agents will use the same steps.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "auth/secret_box.h"
#include "core/wakeup.h"
#include "pipeline/pipeline.h"
#include "runner/engine.h"
#include "scheduler/agent_board.h"
#include "scheduler/run_metrics.h"
#include "scm/git_auth.h"
#include "scm/git_repo.h"
#include "store/store.h"

namespace boucle::scheduler {

struct AgentOptions {
  std::filesystem::path dataDir;  // repos/, caches/ and the runs' checkouts and workspaces
  // runs/ (logs, artifact lists, records) and blobs/: a folder every server sharing the
  // database can read (NFS), or "" for dataDir.
  std::filesystem::path sharedDir;
  const std::filesystem::path& shared() const { return sharedDir.empty() ? dataDir : sharedDir; }
  size_t parallelism = 2;                    // jobs at once within a run
  size_t maxRuns = 2;                        // runs at once
  const auth::SecretBox* secrets = nullptr;  // opens projects' credentials
  // A fetch (git over the network) still running after this is stopped: the run fails and the
  // worker and the mirror's lock are free again.
  Millis gitTimeout = std::chrono::minutes(10);
  // Called when a run has finished and been judged, with its commit's pipeline (null when the
  // pipeline could not be read): the server hangs notifications here.
  std::function<void(const store::Run&, const pipeline::Pipeline*)> onFinished;
  // Called when the bisection of a breaking run has ended (culprit found, or stopped), with the
  // breaking commit's pipeline: its "broken" notification waited for this.
  std::function<void(const store::Run&, const pipeline::Pipeline*)> onBisected;
  // Remote agents (`boucle agent`): jobs with `runs-on`, and every job when `localJobs` is
  // false, are queued for them. Null: every job runs here.
  AgentBoard* board = nullptr;
  bool localJobs = true;
  uint64_t maxLogBytes = 0;  // a job's log is cut there (0: no limit)
  // Servers sharing a database: a running run this server does not run is asked of the
  // others (the one running it calls cancelHere). Null: such a run cannot be cancelled here.
  std::function<void(int64_t runId)> cancelElsewhere;
};

class Agent {
 public:
  Agent(store::Store& store, AgentOptions options);
  ~Agent();  // stops: cancels the running runs and waits for them
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs to carry on before any queued run (call before start()): see runsToCarryOn.
  void carryOn(std::vector<store::Run> runs);
  void start();
  // A run was queued: look at the queue now rather than at the next poll.
  void wake();
  // Cancels a queued or running run, or the bisection a finished breaking run is waiting for;
  // NotFound or Conflict otherwise.
  Status cancel(int64_t runId);
  // Cancels the run if this server runs it: whether it does.
  bool cancelHere(int64_t runId);
  // Whether this server runs the run now (its logs grow here).
  bool runsHere(int64_t runId) const;
  void stop();

  // A run's logs, artifact lists and record (in the shared folder), and its checkout and
  // workspaces (on this machine); the same folder when nothing is shared.
  std::filesystem::path runDir(int64_t runId) const;
  std::filesystem::path workDir(int64_t runId) const;
  const AgentOptions& options() const { return options_; }
  const RunMetrics& metrics() const { return metrics_; }

 private:
  void loop();
  void execute(store::Run run, runner::SupervisorPool& supervisors, bool carried = false);
  // What a carried-on run's jobs had come to, from the store and its folder.
  Result<std::vector<runner::RunConfig::Carried>> carriedJobs(const store::Run& run,
                                                              const std::filesystem::path& dir);
  Status syncMirror(const store::Project& project, const std::string& requestRef = "");
  Result<pipeline::Pipeline> readPipeline(const store::Run& run,
                                          const std::filesystem::path& mirror, std::string* text);
  bool confirmsRed(const store::Run& run);
  runner::RunConfig runConfigFor(const store::Run& run, const store::Project& project,
                                 const std::filesystem::path& dir) const;
  Status resolveRequest(store::Run& run, const std::filesystem::path& mirror);
  Result<std::vector<std::pair<std::string, std::string>>> buildSecrets(
      const store::Run& run, const store::Project& project) const;
  Status resolveRun(store::Run& run, const store::Project& project,
                    const std::filesystem::path& mirror);
  void save(const store::Run& run);
  static constexpr size_t kMaxPacks = 8;
  void collectPacks(const std::string& project);
  std::optional<store::Run> judge(store::Run& run);
  void recordSchedule(const store::Run& run, const pipeline::Pipeline& p);
  std::shared_ptr<std::mutex> mirrorLock(const std::string& project);

  // Bisection (agent_bisect.cc).
  void maybeBisect(store::Run& broken, const store::Run& previous);
  void advanceBisection(const store::Run& probe);
  void startProbe(store::Bisection& b, const store::Run& broken);
  void concludeBisection(store::Run& broken, const store::Bisection& b, bool found);
  void resumeBisections();

  store::Store& store_;
  AgentOptions options_;
  RunMetrics metrics_;
  std::vector<std::thread> workers_;
  std::thread prewarm_;  // reads what the sandbox must cover, at the start and every 10 min
  Wakeup rescan_;        // ends prewarm_
  Wakeup wakeup_;
  mutable std::mutex mu_;             // guards cancelFds_, mirrors_ and repacking_
  std::map<int64_t, int> cancelFds_;  // running run → write end of its cancel pipe
  std::vector<store::Run> carried_;   // runs to carry on, taken before queued ones
  std::map<std::string, std::shared_ptr<std::mutex>> mirrors_;  // one fetch per mirror at once
  std::set<std::string> repacking_;                             // projects whose mirror repacks
  std::mutex bisectMu_;                                         // one bisection step at a time
};

// The runs this server's previous life left running that can be carried on after its restart:
// every job they had running was on a remote agent, which may still be working on it (a job
// the server ran itself died with it: such a run is interrupted).
std::vector<store::Run> runsToCarryOn(store::Store& store);

// The project's credential, unsealed (kind "" when it has none).
Result<scm::GitCredential> credentialFor(const store::Project& p, const auth::SecretBox* box);
// The environment git needs for the project's credential (none: an empty GitAuth).
Result<scm::GitAuth> gitAuthFor(const store::Project& p, const auth::SecretBox* box,
                                const std::filesystem::path& dataDir);
using scm::mirrorPath;
// Where a project's branch keeps its jobs' `cache:` folders: never shared with another project
// or branch, so a committer's branch cannot plant files in the default branch's builds.
std::filesystem::path cacheDirFor(const std::filesystem::path& dataDir, const std::string& project,
                                  const std::string& branch);

}  // namespace boucle::scheduler
