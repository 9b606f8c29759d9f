// The agent's bisection: when a run breaks its branch and was the first to build several new
// commits, bisection runs of the commits in between find the one that broke it. The breaking
// run's "broken" notification waits for the answer, so the team is told one commit, not a
// list of suspects.
#include "core/clock.h"
#include "core/encoding.h"
#include "core/log.h"
#include "insight/bisect.h"
#include "pipeline/parser.h"
#include "scheduler/agent.h"
#include "scm/git_command.h"
#include "scm/git_repo.h"

namespace boucle::scheduler {
namespace fs = std::filesystem;

// Called while the breaking run is being finished, before it is saved and notified.
void Agent::maybeBisect(store::Run& broken, const store::Run& previous) {
  if (previous.commit.empty() || broken.commit.empty() || previous.commit == broken.commit) return;
  fs::path mirror = mirrorPath(options_.shared(), broken.project);
  // The branch's own history (first parents): each of these commits was a state of the branch.
  auto list = scm::git({"-C", mirror.string(), "rev-list", "--first-parent", "--reverse",
                        previous.commit + ".." + broken.commit});
  if (!list.ok()) {
    logError("run " + std::to_string(broken.id) + ": cannot list the commits since run " +
             std::to_string(previous.id) + ": " + list.status().message());
    return;
  }
  auto commits = split(*list, '\n');
  broken.suspects = static_cast<int>(commits.size());
  auto b = insight::startBisection(broken.id, std::move(commits));
  if (!b) return;
  broken.bisectState = "running";
  save(broken);  // the probe run is created next and must see the breaking run as bisecting
  logInfo("run " + std::to_string(broken.id) + " built " + std::to_string(broken.suspects) +
          " new commits: bisecting them (at most " +
          std::to_string(insight::maxSteps(b->commits.size())) + " runs)");
  std::lock_guard lock(bisectMu_);
  startProbe(*b, broken);
}

void Agent::startProbe(store::Bisection& b, const store::Run& broken) {
  auto probe = insight::nextProbe(b);
  if (!probe) return;
  store::Run r;
  r.project = broken.project;
  r.ref = b.commits[*probe];
  r.branch = broken.branch;
  r.trigger = "bisect";
  r.bisectOf = broken.id;
  auto created = store_.createRun(r);
  if (!created.ok()) {
    logError("bisection of run " + std::to_string(broken.id) + ": " + created.status().message());
    return;
  }
  b.probe = *probe;
  b.probeRun = created->id;
  ++b.steps;
  if (auto st = store_.saveBisection(b); !st.ok()) logError("bisection: " + st.message());
  wake();
}

void Agent::advanceBisection(const store::Run& probe) {
  if (!probe.bisectOf) return;
  std::lock_guard lock(bisectMu_);
  auto b = store_.getBisection(*probe.bisectOf);
  auto broken = store_.getRun(*probe.bisectOf);
  if (!b.ok() || !broken.ok() || broken->bisectState != "running" || b->probeRun != probe.id) {
    return;  // a stale probe (the bisection was stopped or already moved on)
  }
  if (probe.state == store::RunState::kPassed || probe.state == store::RunState::kFailed) {
    insight::recordProbe(*b, probe.state == store::RunState::kPassed);
    if (insight::nextProbe(*b)) {
      startProbe(*b, *broken);
      return;
    }
    concludeBisection(*broken, *b, true);
    return;
  }
  // Cancelled or interrupted: the search stops where it is, with what it has narrowed down.
  concludeBisection(*broken, *b, false);
}

void Agent::concludeBisection(store::Run& broken, const store::Bisection& b, bool found) {
  store::Bisection done = b;
  done.probe = -1;
  done.probeRun.reset();
  if (auto st = store_.saveBisection(done); !st.ok()) logError("bisection: " + st.message());
  fs::path mirror = mirrorPath(options_.shared(), broken.project);
  broken.bisectState = found ? "found" : "stopped";
  if (found) {
    const std::string& culprit = b.commits[b.bad];
    broken.culpritCommit = culprit;
    if (auto d = scm::describeCommit(mirror, culprit); d.ok()) {
      broken.culpritAuthor = d->author;
      broken.culpritSubject = d->subject;
    }
    logInfo(broken.project + " " + broken.branch + ": bisection of run " +
            std::to_string(broken.id) + " found " + culprit.substr(0, 12) + " by " +
            broken.culpritAuthor + " in " + std::to_string(b.steps) + " runs");
  } else {
    logInfo("bisection of run " + std::to_string(broken.id) + " stopped after " +
            std::to_string(b.steps) + " runs");
  }
  save(broken);
  if (!options_.onBisected) return;
  // The notification follows the breaking commit's own pipeline file, as its run's did.
  auto text = scm::fileAtCommit(mirror, broken.commit, ".boucle.yml");
  std::optional<pipeline::Pipeline> p;
  if (text.ok()) {
    auto parsed = pipeline::parsePipeline(*text);
    if (parsed.ok()) p = std::move(parsed.pipeline);
  }
  options_.onBisected(broken, p ? &*p : nullptr);
}

// After a restart: a probe that was interrupted is built again; one that finished before the
// bisection could move on moves it on now.
void Agent::resumeBisections() {
  auto active = store_.activeBisections();
  if (!active.ok()) {
    logError("bisections: " + active.status().message());
    return;
  }
  for (auto& b : *active) {
    auto broken = store_.getRun(b.runId);
    if (!broken.ok()) continue;
    if (!b.probeRun) {
      std::lock_guard lock(bisectMu_);
      startProbe(b, *broken);
      continue;
    }
    auto probe = store_.getRun(*b.probeRun);
    if (!probe.ok()) continue;
    if (probe->state == store::RunState::kInterrupted) {
      std::lock_guard lock(bisectMu_);
      --b.steps;  // the same step again, not a new one
      startProbe(b, *broken);
    } else if (store::isFinished(probe->state)) {
      advanceBisection(*probe);
    }
  }
}

}  // namespace boucle::scheduler
