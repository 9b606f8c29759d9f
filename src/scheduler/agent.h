#pragma once
// The embedded agent: a thread that takes queued runs from the store, one at a time, and runs
// them through the same engine as `boucle run`. Remote agents will use the same steps.

#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "core/wakeup.h"
#include "pipeline/pipeline.h"
#include "store/store.h"

namespace boucle::scheduler {

struct AgentOptions {
  std::filesystem::path dataDir;  // repos/, runs/, blobs/ live here
  size_t parallelism = 2;         // jobs at once within a run
  // Called when a run has finished and been judged, with its commit's pipeline (null when the
  // pipeline could not be read): the server hangs notifications here.
  std::function<void(const store::Run&, const pipeline::Pipeline*)> onFinished;
};

class Agent {
 public:
  Agent(store::Store& store, AgentOptions options);
  ~Agent();  // stops: cancels the running run and waits for it
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  void start();
  // A run was queued: look at the queue now rather than at the next poll.
  void wake();
  // Cancels a queued or running run; NotFound if it is neither.
  Status cancel(int64_t runId);
  void stop();

  std::filesystem::path runDir(int64_t runId) const;

 private:
  void loop();
  void execute(store::Run run);
  void save(const store::Run& run);
  void judge(store::Run& run);
  void recordSchedule(const store::Run& run, const pipeline::Pipeline& p);

  store::Store& store_;
  AgentOptions options_;
  std::thread thread_;
  Wakeup wakeup_;
  std::mutex mu_;  // guards runningId_ and cancelFd_
  int64_t runningId_ = 0;
  int cancelFd_ = -1;  // write end of the running run's cancel pipe
};

}  // namespace boucle::scheduler
