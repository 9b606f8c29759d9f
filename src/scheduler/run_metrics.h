#pragma once
// What the agent measures as it works, for /metrics: how long jobs take, how long a pushed
// commit waits from its webhook to its run's start (the queue as a committer feels it), and how
// long a job waits for a remote agent.

#include "core/histogram.h"

namespace boucle::scheduler {

struct RunMetrics {
  // Seconds, by project and the job's end (passed, failed, timed_out, …).
  HistogramFamily jobDuration{{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200},
                              {"project", "state"}};
  // Seconds from a push webhook's arrival (the run queued) to the run's start, by project.
  HistogramFamily webhookToStart{
      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}, {"project"}};
  // Seconds a job waited in the queue for a remote agent to claim it, by project.
  HistogramFamily agentQueue{
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
      {"project"}};
};

}  // namespace boucle::scheduler
