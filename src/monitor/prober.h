#pragma once
// Runs probes on one thread, however many there are: HTTP, TCP and Prometheus probes are
// transfers of one libcurl multi handle (no thread per probe, https and keep-alive
// included), `run` probes are processes whose output and exit (a pidfd) join the same poll.
// Each probe runs every `every`, at a phase drawn at random when it is first seen, so a
// thousand probes added at once spread over their interval; each is cut at its timeout.

#include <functional>
#include <memory>
#include <vector>

#include "monitor/probe.h"

namespace boucle::monitor {

class Prober {
 public:
  // Called on the prober's thread after each run: keep it short.
  using OnResult = std::function<void(const Probe&, const ProbeResult&)>;

  explicit Prober(OnResult onResult);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  void start();
  void stop();  // ends running probes (their results are dropped) and the thread

  // What to run from now on. A probe already known by its key keeps its phase; a run under way
  // of a probe that changed or went away finishes and is reported as it was.
  void setProbes(std::vector<Probe> probes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace boucle::monitor
