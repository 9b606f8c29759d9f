#include "scheduler/agent.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "auth/tokens.h"
#include "core/bell.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/glob.h"
#include "core/log.h"
#include "deploy/target.h"
#include "insight/breakage.h"
#include "os/files.h"
#include "os/process.h"
#include "pipeline/parser.h"
#include "runner/engine.h"
#include "runner/job_env.h"
#include "runner/run_record.h"
#include "runner/sandbox.h"
#include "runner/supervisor_client.h"
#include "runner/workspace.h"
#include "scheduler/perf_runs.h"
#include "scheduler/remote_dispatch.h"
#include "scheduler/request.h"
#include "scheduler/run_recorder.h"
#include "scheduler/schedule.h"
#include "scm/git_command.h"
#include "scm/git_repo.h"

namespace boucle::scheduler {
namespace fs = std::filesystem;

Result<scm::GitCredential> credentialFor(const store::Project& p, const auth::SecretBox* box) {
  if (p.credentialKind.empty()) return scm::GitCredential{};
  if (!box) return Status::Internal("no key to open project " + p.name + "'s credential");
  auto secret = box->unseal(p.credentialSealed);
  if (!secret.ok()) return Status::Invalid(p.name + ": " + secret.status().message());
  return scm::GitCredential{p.credentialKind, p.credentialUser, *secret};
}

Result<scm::GitAuth> gitAuthFor(const store::Project& p, const auth::SecretBox* box,
                                const fs::path& dataDir) {
  auto credential = credentialFor(p, box);
  if (!credential.ok()) return credential.status();
  return scm::GitAuth::prepare(*credential, dataDir / "git");
}

namespace {

// Servers sharing a folder fetch into and repack one mirror: one of them at a time, across
// machines (an flock on a file beside it; Linux's NFS client carries it to the server as a
// lock of its own). Within a server, Agent::mirrorLock orders its own threads first.
class MirrorFileLock {
 public:
  // Waits up to `wait` (a lock a crashed machine left on the NFS server must not hold a run
  // worker for ever); not held after that, or where the mount takes no locks (ENOLCK): the
  // caller goes on, and git's own ref locks keep two fetches from mixing.
  MirrorFileLock(const fs::path& mirror, Millis wait) {
    std::error_code ec;
    fs::create_directories(mirror.parent_path(), ec);
    fd_.reset(::open((mirror.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    int err = fd_ ? 0 : errno;
    auto until = std::chrono::steady_clock::now() + wait;
    while (fd_ && !held_) {
      held_ = ::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0;
      err = held_ ? 0 : errno;
      if (held_ || err != EWOULDBLOCK || std::chrono::steady_clock::now() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!held_ && wait.count() > 0)
      logError("mirror " + mirror.string() + ": fetching without its lock (" + std::strerror(err) +
               ")");
  }
  bool held() const { return held_; }

 private:
  os::Fd fd_;  // closing it lets go
  bool held_ = false;
};

// Branch, tag or commit names come from users and webhooks: they reach git only as one argv
// element after --end-of-options, never through a shell, and never looking like an option.
bool acceptableRef(const std::string& ref) {
  if (ref.empty() || ref.size() > 255 || ref[0] == '-') return false;
  for (unsigned char c : ref) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A branch's folder name: readable, and unique whatever the branch is called ("a/b" and "a_b"
// differ by their hash).
std::string branchKey(const std::string& branch) {
  std::string key;
  for (char c : branch.substr(0, 60)) key += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return key + "-" + auth::hashToken(branch).substr(0, 12);
}

}  // namespace

fs::path cacheDirFor(const fs::path& dataDir, const std::string& project,
                     const std::string& branch) {
  return dataDir / "caches" / project / branchKey(branch.empty() ? "(no branch)" : branch);
}

Agent::Agent(store::Store& store, AgentOptions options)
    : store_(store), options_(std::move(options)) {}

Agent::~Agent() {
  stop();
}

void Agent::start() {
  prewarm_ = std::thread([this] {
    do runner::prewarmSandbox();
    while (rescan_.wait(std::chrono::minutes(10)));
  });
  if (int n = scm::GitAuth::removeLeftovers(options_.dataDir / "git"))
    logInfo("removed " + std::to_string(n) + " key file(s) a stopped server left in git/keys");
  resumeBisections();
  for (size_t i = 0; i < std::max<size_t>(1, options_.maxRuns); ++i) {
    workers_.emplace_back([this] { loop(); });
  }
}

std::vector<store::Run> runsToCarryOn(store::Store& store) {
  std::vector<store::Run> out;
  auto candidates = store.runsOnAgents();
  if (!candidates.ok()) {
    logError("runs on agents: " + candidates.status().message());
    return out;
  }
  for (auto& run : *candidates) {
    auto jobs = store.listJobs(run.id);
    auto remote = store.agentJobsOfRun(run.id);
    if (!jobs.ok() || !remote.ok()) continue;
    // A run being cancelled when its server went is not carried on: it ends interrupted.
    bool cancelling = std::any_of(remote->begin(), remote->end(), [](const store::AgentJob& a) {
      return a.cancel || a.state == "cancelled";
    });
    if (cancelling) continue;
    bool allRemote = std::all_of(jobs->begin(), jobs->end(), [&](const store::JobRecord& j) {
      return j.state != "running" ||
             std::any_of(remote->begin(), remote->end(), [&](const store::AgentJob& a) {
               return a.job == j.name && a.attempt == j.attempts;
             });
    });
    if (allRemote) out.push_back(run);
  }
  return out;
}

void Agent::carryOn(std::vector<store::Run> runs) {
  std::lock_guard lock(mu_);
  carried_ = std::move(runs);
}

Result<std::vector<runner::RunConfig::Carried>> Agent::carriedJobs(const store::Run& run,
                                                                   const fs::path& dir) {
  auto jobs = store_.listJobs(run.id);
  if (!jobs.ok()) return jobs.status();
  auto remote = store_.agentJobsOfRun(run.id);
  if (!remote.ok()) return remote.status();
  std::vector<runner::RunConfig::Carried> out;
  for (const auto& j : *jobs) {
    runner::RunConfig::Carried c;
    c.job = j.name;
    c.attempts = std::max(1, j.attempts);
    c.exitCode = j.exitCode;
    c.reason = j.reason;
    if (j.state == "running") {
      c.state = runner::JobState::kRunning;
      for (const auto& a : *remote) {
        if (a.job == j.name && a.attempt == j.attempts)
          c.logShown = static_cast<uint64_t>(a.logSize);
      }
    } else if (j.state == "pending") {
      continue;
    } else {
      c.state = j.state == "passed"      ? runner::JobState::kPassed
                : j.state == "timed_out" ? runner::JobState::kTimedOut
                : j.state == "cancelled" ? runner::JobState::kCancelled
                : j.state == "skipped"   ? runner::JobState::kSkipped
                                         : runner::JobState::kFailed;
      auto manifest = runner::readManifest(dir / "artifacts" / (j.name + ".json"));
      if (manifest.ok()) c.artifacts = std::move(manifest).value();
    }
    out.push_back(std::move(c));
  }
  return out;
}

void Agent::wake() {
  wakeup_.wake();
}

void Agent::stop() {
  wakeup_.stop();
  rescan_.stop();
  {
    std::lock_guard lock(mu_);
    for (auto& [id, fd] : cancelFds_) [[maybe_unused]] auto n = ::write(fd, "x", 1);
  }
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  if (prewarm_.joinable()) prewarm_.join();
}

std::shared_ptr<std::mutex> Agent::mirrorLock(const std::string& project) {
  std::lock_guard lock(mu_);
  auto& m = mirrors_[project];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

fs::path Agent::runDir(int64_t runId) const {
  return options_.shared() / "runs" / std::to_string(runId);
}

fs::path Agent::workDir(int64_t runId) const {
  return options_.dataDir / "runs" / std::to_string(runId);
}

Status Agent::cancel(int64_t runId) {
  // The store is asked first: an engine writes its run's last state a moment before it lets go
  // of its cancel pipe, and a run that has ended must say so, not accept a cancel.
  auto run = store_.getRun(runId);
  if (!run.ok()) return run.status();
  if (!store::isFinished(run->state) && cancelHere(runId)) return Status::Ok();
  if (run->state == store::RunState::kRunning && options_.cancelElsewhere) {
    options_.cancelElsewhere(runId);
    return Status::Ok();
  }
  // A breaking run waiting for its bisection: cancelling it stops the bisection.
  if (run->bisectState == "running") {
    auto b = store_.getBisection(runId);
    if (b.ok() && b->probeRun) return cancel(*b->probeRun);
  }
  if (run->state != store::RunState::kQueued) {
    return Status::Conflict("run " + std::to_string(runId) + " is " +
                            std::string(store::toString(run->state)));
  }
  run->state = store::RunState::kCancelled;
  run->reason = "cancelled before it started";
  run->finishedAt = nowMs();
  if (auto st = store_.updateRun(*run); !st.ok()) return st;
  if (run->bisectOf) advanceBisection(*run);
  return Status::Ok();
}

bool Agent::cancelHere(int64_t runId) {
  std::lock_guard lock(mu_);
  auto it = cancelFds_.find(runId);
  if (it == cancelFds_.end()) return false;
  [[maybe_unused]] auto n = ::write(it->second, "x", 1);
  return true;
}

bool Agent::runsHere(int64_t runId) const {
  std::lock_guard lock(mu_);
  return cancelFds_.count(runId) > 0;
}

void Agent::loop() {
  // This worker's idle supervisors. One is kept warm while runs come (a run gives back the
  // ones it used) and let go after a quiet minute: an idle server is one process, and a busy
  // one starts no supervisor per run.
  constexpr auto kKeepWarm = std::chrono::minutes(1);
  runner::SupervisorPool supervisors;
  std::optional<std::chrono::steady_clock::time_point> lastRun;
  while (!wakeup_.stopping()) {
    std::optional<store::Run> carried;
    {
      std::lock_guard lock(mu_);
      if (!carried_.empty()) {
        carried = std::move(carried_.back());
        carried_.pop_back();
      }
    }
    if (carried) {
      execute(std::move(*carried), supervisors, true);
      continue;
    }
    auto next = store_.claimNextQueued(nowMs());
    if (!next.ok()) logError("queue: " + next.status().message());
    if (next.ok() && next->has_value()) {
      // One wake-up reaches one sleeping worker: pass it on, in case more runs wait.
      wakeup_.wake();
      execute(std::move(**next), supervisors);
      lastRun = std::chrono::steady_clock::now();
      continue;
    }
    bool busy = lastRun && std::chrono::steady_clock::now() - *lastRun < kKeepWarm;
    if (supervisors.empty() && busy) {
      auto program = runner::supervisorPath();
      auto started = program.ok()
                         ? runner::SupervisorClient::start(*program)
                         : Result<std::unique_ptr<runner::SupervisorClient>>(program.status());
      if (started.ok()) supervisors.push_back(std::move(started).value());
    } else if (!busy) {
      bool freed = !supervisors.empty();
      supervisors.clear();  // each ends its process
      // libgit2 too, once nothing (a run, a deploy, the API) used it for the same minute.
      freed = scm::unloadGitWhenQuiet(kKeepWarm) || freed;
      // What the runs freed (fetches, checkouts, logs) goes back to the system now, not at
      // the next allocation that happens to trim: a quiet server stays small.
      if (freed) {
        store_.releaseMemory();  // SQLite's page cache
        ::malloc_trim(0);
      }
    }
    // Wake-ups come from wake(); the timeout only guards against a missed one.
    wakeup_.wait(std::chrono::seconds(1));
  }
}

// Broken or fixed: judged against the branch's previous passed-or-failed run, which is
// returned.
std::optional<store::Run> Agent::judge(store::Run& run) {
  bool passed = run.state == store::RunState::kPassed;
  if (run.branch.empty() || (!passed && run.state != store::RunState::kFailed)) return {};
  // A request's run is not its target's history yet: it breaks and fixes nothing.
  if (run.isRequest()) return {};
  // A retry of some jobs, or a bisection run of an older commit, says nothing about the branch
  // as a whole.
  if (!run.onlyJobs.empty() || run.bisectOf) return {};
  auto previous = store_.lastJudgedRun(run.project, run.branch, run.id);
  if (!previous.ok()) {
    logError("run " + std::to_string(run.id) + ": " + previous.status().message());
    return {};
  }
  std::optional<insight::PreviousRun> prev;
  if (*previous) {
    prev = insight::PreviousRun{(*previous)->id, (*previous)->state == store::RunState::kPassed,
                                (*previous)->brokenSince};
  }
  auto verdict = insight::judge(prev, run.id, passed);
  run.event = verdict.event;
  run.brokenSince = verdict.brokenSince;
  if (!verdict.event.empty()) {
    logInfo(run.project + " " + run.branch + " " + verdict.event + " at run " +
            std::to_string(run.id) + " (" + run.commit.substr(0, 12) + " by " + run.author + ")");
  }
  return *previous;
}

// The branch's schedule is whatever its pipeline file says at the commit last built, as
// Jenkins does with a Jenkinsfile's triggers.
void Agent::recordSchedule(const store::Run& run, const pipeline::Pipeline& p) {
  if (run.branch.empty() || run.branch == run.commit || run.isRequest()) return;
  store::Schedule sc{run.project, run.branch, p.schedule, 0};
  if (!sc.crons.empty()) {
    auto next = nextFiring(sc.crons, nowMs());
    if (!next)
      sc.crons.clear();  // never fires: nothing to keep
    else
      sc.nextAt = *next;
  }
  if (auto st = store_.setSchedule(sc); !st.ok()) logError("schedule: " + st.message());
}

void Agent::save(const store::Run& run) {
  if (auto st = store_.updateRun(run); !st.ok()) {
    logError("run " + std::to_string(run.id) + ": cannot record its state: " + st.message());
  }
}

// Each in-process fetch adds a small pack, and every opening of the mirror maps each pack's
// index (then unmaps it: a TLB flush on every core), so a run's git steps slow down with the
// pack count. A geometric repack merges only the small packs (the big one stays as it is), so it
// is cheap enough to run every few fetches: 20-40 ms here. Fetches go on beside it (git makes a
// repack safe beside fetches and readers, and libgit2 looks again when a pack went away), so a
// push arriving meanwhile does not wait; only one repack of a mirror runs at a time.
void Agent::collectPacks(const std::string& project) {
  // A mirror in a folder servers share is read by the others' processes, over NFS, while a
  // repack would delete the packs they have open: it is left as fetches make it.
  if (options_.shared() != options_.dataDir) return;
  fs::path mirror = mirrorPath(options_.shared(), project);
  if (scm::packCount(mirror) <= kMaxPacks) return;
  {
    std::lock_guard lock(mu_);
    if (!repacking_.insert(project).second) return;
  }
  MirrorFileLock other(mirror, Millis(0));  // another server's fetch or repack: another time
  auto r = other.held()
               ? scm::git({"-C", mirror.string(), "repack", "--geometric=2", "-d", "--quiet"})
               : Result<std::string>(std::string());
  if (!r.ok()) logError(r.status().message());
  std::lock_guard lock(mu_);
  repacking_.erase(project);
}

// The project's mirror brought up to date: fetched in-process where libgit2 can reach the
// repository, else by the git command (ssh, users' keys). Branches and tags only. The
// caller holds the mirror's lock.
Status Agent::syncMirror(const store::Project& project, const std::string& requestRef) {
  fs::path mirror = mirrorPath(options_.shared(), project.name);
  auto credential = credentialFor(project, options_.secrets);
  if (!credential.ok()) return credential.status();
  if (fs::exists(mirror / "HEAD") && scm::fetchesInProcess(project.url) &&
      credential->kind != "ssh-key") {
    // The URL is given each time, so a changed project URL takes effect at the next fetch.
    return scm::fetchInto(mirror, project.url, *credential, requestRef);
  }
  auto access = scm::GitAuth::prepare(*credential, options_.dataDir / "git");
  if (!access.ok()) return access.status();
  std::error_code ec;
  if (!fs::exists(mirror / "HEAD")) {
    fs::create_directories(mirror.parent_path(), ec);
    auto r = scm::git({"init", "--bare", "--quiet", "--", mirror.string()});
    if (!r.ok()) return r.status();
  }
  // git's own upkeep would repack a shared mirror under the other servers' readers (see
  // collectPacks): not there.
  std::vector<std::string> args{"-C", mirror.string()};
  if (options_.shared() != options_.dataDir)
    args.insert(args.begin(), {"-c", "gc.auto=0", "-c", "maintenance.auto=false"});
  args.insert(args.end(), {"fetch", "--quiet", "--prune", "--", project.url,
                           "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"});
  if (!requestRef.empty()) {
    // What an earlier fetch left must not pass for this request's head.
    if (auto st = scm::keepBranchesAndTags(mirror); !st.ok()) return st;
    args.push_back("+" + requestRef + ":" + scm::kRequestRef);
  }
  auto r = scm::git(args, &*access, options_.gitTimeout);
  if (!r.ok()) return r.status();
  return scm::keepBranchesAndTags(mirror, !requestRef.empty());
}

// Where a forge keeps a request's head (the only refs a request's run fetches besides branches
// and tags): refs/pull/N/head or refs/merge-requests/N/head, N a number.
bool requestRefShape(const std::string& ref) {
  for (std::string_view prefix : {"refs/pull/", "refs/merge-requests/"}) {
    if (!ref.starts_with(prefix) || !ref.ends_with("/head")) continue;
    std::string_view n(ref);
    n = n.substr(prefix.size(), n.size() - prefix.size() - 5);
    if (!n.empty() && n.size() <= 12 &&
        std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return true;
  }
  return false;
}

// A request's run builds the head the forge told of (fetched from the request's ref), or the
// merge of that head into the target branch as it is now, made here: what merging would give.
Status Agent::resolveRequest(store::Run& run, const fs::path& mirror) {
  // The request as the forge has it now: a head that moved on since the event (a late or
  // replayed delivery) is built as it is, not as the event said. A re-run or requeue builds
  // the head its run built.
  auto now = scm::describeCommit(mirror, scm::kRequestRef);
  (void)scm::keepBranchesAndTags(mirror);
  if (run.trigger == "pull_request" && now.ok() && now->sha != run.pr.head) {
    logInfo("run " + std::to_string(run.id) + ": request " + std::to_string(run.pr.number) +
            " moved on from " + run.pr.head.substr(0, 12) + " to " + now->sha.substr(0, 12));
    run.pr.head = now->sha;
  }
  auto head = scm::describeCommit(mirror, run.pr.head);
  if (!head.ok() || head->sha != run.pr.head) {
    return Status::NotFound("request " + std::to_string(run.pr.number) + "'s head " +
                            run.pr.head.substr(0, 12) +
                            " is not in the repository (pushed over, or the request is gone)");
  }
  run.commit = head->sha;
  run.author = head->author;
  run.subject = head->subject;
  if (!run.pr.merge) return Status::Ok();
  auto target = scm::describeCommit(mirror, "refs/heads/" + run.pr.target);
  if (!target.ok())
    return Status::NotFound("request " + std::to_string(run.pr.number) + "'s target branch " +
                            run.pr.target + " is not in the repository");
  auto merged = scm::mergeCommits(mirror, target->sha, head->sha,
                                  "Merge request " + std::to_string(run.pr.number) + " (" +
                                      run.pr.source + ") into " + run.pr.target + "\n");
  if (!merged.ok()) {
    std::string what = "request " + std::to_string(run.pr.number) + " (" + head->sha.substr(0, 12) +
                       " into " + run.pr.target + " at " + target->sha.substr(0, 12) + ") " +
                       merged.status().message();
    return merged.status().code() == Code::kConflict ? Status::Conflict(what) : Status::Io(what);
  }
  run.commit = *merged;
  run.pr.base = target->sha;
  return Status::Ok();
}

// The run's commit and its author. A branch's name is looked up among branches only (a tag of
// the same name, which anyone who may push tags can make, never stands in for it). A branch's
// run of a given commit (push, poll) builds it only if it is really on that branch now: a
// forged or stale hook cannot name another. A run of a commit asked for by its id, or of a
// tag, is judged on a watched branch whose head it is, else on none (built, not judged).
Status Agent::resolveRun(store::Run& run, const store::Project& project, const fs::path& mirror) {
  if (run.isRequest()) return resolveRequest(run, mirror);
  if (isRequestBranch(run.branch)) return Status::Invalid(requestBranchRefused(run.branch));
  bool byName = !run.branch.empty() && run.ref == run.branch;
  // A full commit id is that commit, even if someone named a branch after it.
  bool commitId = run.ref.size() == 40 && std::all_of(run.ref.begin(), run.ref.end(), [](char c) {
                    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                  });
  bool isBranch =
      byName && !commitId && scm::describeCommit(mirror, "refs/heads/" + run.branch).ok();
  // Pushes, polls and schedules name a branch: a tag of its name (the branch gone, say) never
  // stands in for it.
  bool branchOnly = run.trigger == "push" || run.trigger == "poll" || run.trigger == "schedule";
  if (byName && !isBranch && branchOnly) {
    return Status::NotFound("no branch '" + run.branch + "' in " + project.url);
  }
  auto described = scm::describeCommit(mirror, isBranch ? "refs/heads/" + run.branch : run.ref);
  if (!described.ok()) {
    return Status::NotFound("no branch, tag or commit '" + run.ref + "' in " + project.url);
  }
  // A commit the mirror holds only because a pull request brought it (a fork's, or a merge
  // boucle made) is built as that request's, never as the project's own code with its
  // secrets: one asked for by id must be on a branch or a tag.
  bool isTag = !isBranch && !commitId && scm::describeCommit(mirror, "refs/tags/" + run.ref).ok();
  if (!isBranch && !isTag) {
    auto on = scm::onABranchOrTag(mirror, described->sha);
    if (!on.ok()) return on.status();
    if (!*on)
      return Status::NotFound("commit " + described->sha.substr(0, 12) +
                              " is on no branch or tag of " + project.url);
  }
  run.commit = described->sha;
  run.author = described->author;
  run.subject = described->subject;
  if ((run.trigger == "push" || run.trigger == "poll") && !run.branch.empty()) {
    auto on = scm::commitOnBranch(mirror, run.commit, run.branch);
    if (!on.ok()) return on.status();
    if (!*on) {
      return Status::Invalid("commit " + run.commit.substr(0, 12) + " is not on branch " +
                             run.branch + " (a forged or stale notification?)");
    }
  }
  if (run.trigger == "manual" && byName && !isBranch) {
    // A commit id or a tag: the watched branch whose head it is, if any.
    run.branch.clear();
    for (const auto& glob : project.branches) {
      auto holders = scm::branchesContaining(mirror, run.commit);
      if (!holders.ok()) return holders.status();
      for (const auto& b : *holders) {
        auto head = scm::describeCommit(mirror, "refs/heads/" + b);
        if (run.branch.empty() && branchMatches(glob, b) && head.ok() && head->sha == run.commit)
          run.branch = b;
      }
    }
  }
  return Status::Ok();
}

// The pipeline file at the run's commit, read from the mirror's objects (the commit is checked
// out only if a job needs its files), narrowed to the jobs a retry asks for.
Result<pipeline::Pipeline> Agent::readPipeline(const store::Run& run, const fs::path& mirror,
                                               std::string* textOut) {
  auto text = scm::fileAtCommit(mirror, run.commit, ".boucle.yml");
  if (!text.ok()) return text.status();
  *textOut = *text;
  auto parsed = pipeline::parsePipeline(*text);
  if (!parsed.ok()) {
    std::string msg = "the pipeline file has errors:";
    for (const auto& d : parsed.errors) msg += "\n" + pipeline::formatDiagnostic(".boucle.yml", d);
    return Status::Invalid(msg);
  }
  if (auto sel = pipeline::selectJobs(parsed.pipeline, run.onlyJobs); !sel.ok()) return sel;
  return std::move(parsed.pipeline);
}

// The project's build secrets, opened, for the run's jobs. A fork's request gets none unless an
// admin allowed it for the project: its code is a stranger's.
Result<std::vector<std::pair<std::string, std::string>>> Agent::buildSecrets(
    const store::Run& run, const store::Project& project) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (run.pr.fork && !project.forkSecrets) return out;
  auto values = store_.listEnvValues(project.name, store::kBuildSecrets);
  if (!values.ok()) return values.status();
  for (const auto& v : *values) {
    if (!v.secret) continue;
    if (!options_.secrets) return Status::Internal("no key to open " + project.name + "'s secrets");
    auto opened = options_.secrets->unseal(v.value);
    if (!opened.ok())
      return Status::Invalid("build secret " + v.key + ": " + opened.status().message());
    out.emplace_back(v.key, std::move(opened).value());
  }
  return out;
}

// How the server runs a run's jobs: its rules, apart from running them. Jobs are the
// committers' code: sandboxed, out of sight of the server's data and its user's home, unless
// an admin allowed plain processes for the project; their caches are the branch's own.
runner::RunConfig Agent::runConfigFor(const store::Run& run, const store::Project& project,
                                      const fs::path& dir) const {
  runner::RunConfig config;
  config.project = run.project;
  config.runId = std::to_string(run.id);
  config.commit = run.commit;
  config.branch = run.branch;
  config.runDir = dir;
  config.blobRoot = options_.shared() / "blobs";
  if (options_.shared() != options_.dataDir) config.workDir = workDir(run.id);
  config.parallelism = options_.parallelism;
  config.maxLogBytes = options_.maxLogBytes;
  config.baseEnv = runner::inheritedEnvironment();
  if (run.isRequest()) {
    // What GitLab's CI_MERGE_REQUEST_* tell: which request, from where to where.
    config.baseEnv.push_back("BOUCLE_PULL_REQUEST=" + std::to_string(run.pr.number));
    config.baseEnv.push_back("BOUCLE_PULL_REQUEST_SOURCE=" + run.pr.source);
    config.baseEnv.push_back("BOUCLE_PULL_REQUEST_TARGET=" + run.pr.target);
    config.baseEnv.push_back("BOUCLE_PULL_REQUEST_HEAD=" + run.pr.head);
  }
  config.defaultIsolation = pipeline::Isolation::kSandbox;
  // A fork's code never runs outside the sandbox, whatever the project allows its own.
  config.processAllowed = project.allowProcessJobs && !run.pr.fork;
  config.cacheDir = cacheDirFor(options_.dataDir, run.project, run.branch);
  config.hiddenPaths = {options_.dataDir};
  if (options_.shared() != options_.dataDir) config.hiddenPaths.push_back(options_.shared());
  if (const char* home = std::getenv("HOME"); home && *home) {
    std::error_code ec;
    auto real = std::filesystem::weakly_canonical(home, ec);
    config.hiddenPaths.emplace_back(ec ? std::filesystem::path(home) : real);
  }
  return config;
}

// Whether a failure of this run would turn its branch red: a run of the whole pipeline on a
// branch whose last judged run passed. Such a run's failed jobs get one more attempt when the
// project says `on_red: retry_once`.
bool Agent::confirmsRed(const store::Run& run) {
  if (run.isRequest() || run.bisectOf || !run.onlyJobs.empty() || run.branch.empty()) return false;
  auto previous = store_.lastJudgedRun(run.project, run.branch, run.id);
  return previous.ok() && *previous && (*previous)->state == store::RunState::kPassed;
}

// A run from the queue: its commit fetched and resolved, its pipeline read, its jobs run. A
// `carried` run (its server restarted while agents ran its jobs) already has all that: its
// pipeline is read again and its jobs go on from where they had come to.
void Agent::execute(store::Run run, runner::SupervisorPool& supervisors, bool carried) {
  int cancel[2];
  if (::pipe2(cancel, O_CLOEXEC | O_NONBLOCK) != 0) {
    run.state = store::RunState::kFailed;
    run.reason = "no pipe for the run's cancellation";
    run.finishedAt = nowMs();
    save(run);
    return;
  }
  {
    std::lock_guard lock(mu_);
    cancelFds_[run.id] = cancel[1];
  }

  if (run.trigger == "push" && run.startedAt && !run.bisectOf && !run.rerunOf && !carried) {
    metrics_.webhookToStart.observe({run.project},
                                    static_cast<double>(*run.startedAt - run.queuedAt) / 1000);
  }
  RunRecorder recorder(store_, run.id, run.project, &metrics_);
  std::optional<pipeline::Pipeline> pipeline;
  auto finish = [&](store::RunState state, std::string reason) {
    run.state = state;
    run.reason = std::move(reason);
    run.finishedAt = nowMs();
    auto previous = judge(run);
    if (run.event == "broken" && previous) maybeBisect(run, *previous);
    save(run);
    logBell().ring(logBellKey(run.id, ""), true);  // followers of jobs that never started
    wakeup_.wake();  // the branch's next run may start now, on an idle worker
    if (options_.onFinished) options_.onFinished(run, pipeline ? &*pipeline : nullptr);
    if (run.bisectOf) advanceBisection(run);
    logInfo("run " + std::to_string(run.id) + " of " + run.project + " " +
            std::string(store::toString(state)));
  };
  fs::path dir = runDir(run.id);
  fs::path work = workDir(run.id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::create_directories(work, ec);

  auto project = store_.getProject(run.project);
  if (!project.ok()) {
    finish(store::RunState::kFailed, project.status().message());
  } else if (!acceptableRef(run.ref)) {
    finish(store::RunState::kFailed, "not a branch, tag or commit name: '" + run.ref + "'");
  } else {
    fs::path mirror = mirrorPath(options_.shared(), run.project);
    auto mirrorMu = mirrorLock(run.project);
    std::unique_lock mirrorHeld(*mirrorMu);
    std::optional<MirrorFileLock> mirrorFileHeld;
    if (!carried) mirrorFileHeld.emplace(mirror, options_.gitTimeout);
    std::string requestRef = run.isRequest() ? run.pr.ref : "";
    Status st = carried ? Status::Ok()
                : !requestRef.empty() && !requestRefShape(requestRef)
                    ? Status::Invalid("not a request's ref: '" + requestRef + "'")
                    : syncMirror(*project, requestRef);
    runner::SourceInfo info;
    if (st.ok() && !carried) st = resolveRun(run, *project, mirror);
    if (st.ok()) info.commit = run.commit;
    Result<pipeline::Pipeline> read = Status::Internal("not read");
    std::string pipelineText;
    std::map<std::string, std::vector<runner::ArtifactEntry>> roundInputs;
    if (st.ok()) {
      if (!carried) save(run);
      mirrorFileHeld.reset();
      mirrorHeld.unlock();
      read = readPipeline(run, mirror, &pipelineText);
      if (!read.ok()) st = read.status();
      if (st.ok() && !run.perfAb.empty()) st = interleaveRounds(store_, run, *read, roundInputs);
    }
    bool checkout = st.ok() && read->checksOut();
    std::vector<runner::RunConfig::Carried> carriedJobs;
    if (st.ok() && carried) {
      auto jobs = this->carriedJobs(run, dir);
      if (!jobs.ok()) st = jobs.status();
      if (jobs.ok()) carriedJobs = std::move(jobs).value();
      if (st.ok() && checkout && !fs::is_directory(work / "src", ec))
        st = Status::NotFound("cannot carry the run on after the restart: its checkout is gone");
      logInfo("run " + std::to_string(run.id) + " of " + run.project +
              " carried on: its agents' jobs are followed again");
    }
    if (checkout && !carried) {
      info.isGit = true;
      info.root = mirror;
      info.gitDir = mirror;
      info.branch = run.branch;
      st = runner::snapshotSource(info, false, work / "src");
    }
    std::vector<std::pair<std::string, std::string>> secrets;
    if (st.ok()) {
      auto opened = buildSecrets(run, *project);
      if (opened.ok()) secrets = std::move(opened).value();
      if (!opened.ok()) st = opened.status();
    }
    if (!st.ok()) {
      finish(store::RunState::kFailed, st.message());
    } else {
      if (run.onlyJobs.empty() && !carried) recordSchedule(run, *read);
      pipeline = *read;
      runner::RunConfig config = runConfigFor(run, *project, dir);
      quality::TestBook book(store_);
      // A deploy's measuring run tests another environment, not the commit: its results say
      // nothing of the project's tests.
      recorder.keepTests(run.perfEnv.empty() ? &book : nullptr, run);
      if (auto q = book.quarantined(run.project); q.ok()) {
        config.quarantined = std::move(q).value();
      } else {
        logError("run " + std::to_string(run.id) +
                 ": the quarantine is unread, none applies: " + q.status().message());
      }
      if (project->onRed == "retry_once" && confirmsRed(run)) config.extraRetries = 1;
      // A deploy's performance check: the job measures this environment, told its values
      // (not its secrets: the job is a test, not a deploy step) as a deploy step would be,
      // here or on a remote agent.
      std::vector<std::string> perfVariables;
      if (givenEnvValues(run)) {
        auto values = store_.listEnvValues(run.project, run.perfEnv);
        if (values.ok()) {
          perfVariables.push_back("BOUCLE_PERF_ENV=" + run.perfEnv);
          for (const auto& v : *values) {
            // Within what an agent takes in a job's spec (agent_protocol.h).
            if (v.secret || v.value.size() > 60 * 1024 || perfVariables.size() >= 900) continue;
            perfVariables.push_back(deploy::envVariable(v.key) + "=" + v.value);
            if (v.key == "url") perfVariables.push_back("BOUCLE_PERF_URL=" + v.value);
          }
        }
        config.baseEnv.insert(config.baseEnv.end(), perfVariables.begin(), perfVariables.end());
      }
      config.jobInputs = std::move(roundInputs);
      if (checkout) config.sourceDir = work / "src";
      config.secrets = std::move(secrets);
      config.cancelFd = cancel[0];
      config.supervisors = &supervisors;
      std::optional<RemoteDispatch> remote;
      bool remoteJobs = !options_.localJobs ||
                        std::any_of(pipeline->jobs.begin(), pipeline->jobs.end(),
                                    [](const pipeline::Job& j) { return !j.runsOn.empty(); });
      if (options_.board && remoteJobs) {
        remote.emplace(store_, *options_.board, run, pipelineText, checkout,
                       DispatchOptions{options_.shared(),
                                       config.sourceDir,
                                       !options_.localJobs,
                                       config.processAllowed,
                                       &metrics_,
                                       {config.quarantined.begin(), config.quarantined.end()},
                                       perfVariables});
        config.remote = &*remote;
      }
      config.carried = std::move(carriedJobs);
      if (!carried) recorder.begin(*pipeline);
      auto result = runner::runPipeline(*pipeline, config, recorder);
      recorder.end(result);
      runner::RunMeta meta{run.project,
                           config.runId,
                           run.commit,
                           run.branch,
                           run.subject,
                           result.interrupted ? "cancelled"
                           : result.passed()  ? "passed"
                                              : "failed",
                           run.startedAt.value_or(0),
                           false};
      if (!result.interrupted && result.passed()) run.qualifier = recorder.qualifier();
      finish(result.interrupted ? store::RunState::kCancelled
             : result.passed()  ? store::RunState::kPassed
                                : store::RunState::kFailed,
             result.interrupted ? "cancelled" : "");
      // The store has the run by now (the branch's next run may start): the run folder's own
      // record, written durably, is not on its way.
      if (auto w = runner::writeRunRecord(dir, meta, &result); !w.ok()) logError(w.message());
    }
  }
  fs::remove_all(work / "src", ec);
  fs::remove(dir / "src.tar", ec);
  fs::remove_all(work / "ws", ec);
  collectPacks(run.project);
  {
    std::lock_guard lock(mu_);
    cancelFds_.erase(run.id);
  }
  ::close(cancel[0]);
  ::close(cancel[1]);
}

}  // namespace boucle::scheduler
