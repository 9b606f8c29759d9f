#include "scheduler/poller.h"

#include <chrono>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/glob.h"
#include "core/log.h"
#include "scheduler/request.h"
#include "scheduler/schedule.h"
#include "scm/git_command.h"

namespace boucle::scheduler {

namespace {}  // namespace

namespace {
// Poll intervals are measured on the monotonic clock: a wall-clock jump must not stop polling.
int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Result<int64_t> queueIfNew(store::Store& store, const std::string& project,
                           const std::string& branch, const std::string& commit,
                           const std::string& trigger, const std::string& author,
                           const std::string& subject) {
  store::Run r;
  r.project = project;
  r.ref = commit;  // the exact commit seen, even if the branch moves on meanwhile
  r.branch = branch;
  r.author = author;
  r.subject = subject;
  r.trigger = trigger;
  auto run = store.createRunForNewHead(r);
  if (!run.ok()) return run.status();
  return *run ? (*run)->id : int64_t{0};
}

Result<int> Poller::pollProject(const store::Project& project) {
  auto access = gitAuthFor(project, agent_.options().secrets, agent_.options().dataDir);
  if (!access.ok()) return access.status();
  // The URL is one argv element after "--": never a shell, never an option.
  auto out = scm::git({"ls-remote", "--heads", "--", project.url}, &*access);
  if (!out.ok()) return Status::Io(project.url + ": " + out.status().message());
  int queued = 0;
  for (const auto& line : split(*out, '\n')) {
    auto tab = line.find('\t');
    if (tab == std::string::npos || line.compare(tab + 1, 11, "refs/heads/") != 0) continue;
    std::string sha = line.substr(0, tab), branch = line.substr(tab + 12);
    bool watched = false;
    for (const auto& glob : project.branches) {
      watched = watched || branchMatches(glob, branch);
    }
    if (!watched || isRequestBranch(branch)) continue;
    auto id = queueIfNew(store_, project.name, branch, sha, "poll");
    if (!id.ok()) return id.status();
    if (*id) {
      ++queued;
      logInfo("poll: " + project.name + " " + branch + " is at " + sha.substr(0, 12) +
              ", queued run " + std::to_string(*id));
    }
  }
  if (queued) agent_.wake();
  return queued;
}

void Poller::fireSchedules() {
  int64_t now = nowMs();
  auto due = store_.dueSchedules(now);
  if (!due.ok()) {
    logError("schedule: " + due.status().message());
    return;
  }
  for (const auto& sc : *due) {
    if (sc.branch.starts_with("env:")) continue;  // an environment's: the deployer's to fire
    // Taken first: of the servers sharing the database, the one that moves it queues the run.
    auto taken = store_.takeSchedule(sc, nextFiring(sc.crons, now));
    if (!taken.ok()) {
      logError("schedule: " + taken.status().message());
      continue;
    }
    if (!*taken) continue;
    store::Run r;
    r.project = sc.project;
    r.ref = sc.branch;  // the branch's head when the run starts
    r.branch = sc.branch;
    r.trigger = "schedule";
    auto run = store_.createRun(r);
    if (!run.ok()) {
      logError("schedule: " + sc.project + " " + sc.branch +
               ": no run queued: " + run.status().message());
      continue;
    }
    logInfo("schedule: " + sc.project + " " + sc.branch + " queued run " + std::to_string(run->id));
    agent_.wake();
  }
}

void Poller::start() {
  thread_ = std::thread([this] { loop(); });
}

void Poller::stop() {
  wakeup_.stop();
  if (thread_.joinable()) thread_.join();
}

void Poller::pruneIfDue() {
  if ((!retention_.maxAge && !retention_.maxBytes) || steadyMs() < nextPruneMs_) return;
  nextPruneMs_ = steadyMs() + 3'600'000;
  auto report = vault::pruneBlobs(store_, blobRoot_, retention_, nowMs());
  if (!report.ok()) return logError("retention: " + report.status().message());
  if (report->removed > 0) {
    logInfo("retention: removed " + std::to_string(report->removed) + " unreleased artifacts (" +
            std::to_string(report->bytesFreed >> 20) + " MB), " +
            std::to_string(report->bytesLeft >> 20) + " MB left");
  }
}

void Poller::loop() {
  while (wakeup_.wait(std::chrono::milliseconds(250))) {
    auto projects = store_.listProjects();
    if (!projects.ok()) {
      logError("poll: " + projects.status().message());
      continue;
    }
    // The blobs are the shared folder's: one server, the leader, prunes them.
    if (leads_ && !leads_()) continue;
    pruneIfDue();
    fireSchedules();
    for (const auto& p : *projects) {
      if (p.pollSeconds <= 0) continue;
      int64_t& due = nextPollMs_[p.name];
      if (steadyMs() < due) continue;
      due = steadyMs() + p.pollSeconds * 1000LL;
      if (auto n = pollProject(p); !n.ok())
        logError("poll: " + p.name + ": " + n.status().message());
    }
  }
}

}  // namespace boucle::scheduler
