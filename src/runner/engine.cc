#include "runner/engine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "os/cgroup.h"
#include "os/files.h"
#include "os/process.h"
#include "runner/job_launch.h"
#include "runner/masker.h"
#include "runner/remote.h"
#include "runner/source_tree.h"
#include "runner/supervisor_client.h"

namespace boucle::runner {

bool RunResult::passed() const {
  if (interrupted) return false;
  for (const auto& j : jobs) {
    if (j.state == JobState::kFailed || j.state == JobState::kTimedOut ||
        j.state == JobState::kCancelled) {
      return false;
    }
  }
  return true;
}

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
constexpr size_t kReadChunk = 1 << 18;  // one buffer for all jobs: memory stays bounded
constexpr auto kSupervisorSlack = std::chrono::seconds(5);
// How often the engine looks at its remote jobs without being woken (another server received
// their news).
constexpr auto kRemotePollEvery = std::chrono::milliseconds(500);
// Beyond a job's own grace, how long an agent has to confirm a cancel (a busy agent hears of it
// at its next call, a quarter of its lease at most).
constexpr auto kRemoteSlack = std::chrono::seconds(30);

struct Active {
  const pipeline::Job* job = nullptr;
  int attempt = 1;
  std::unique_ptr<SupervisorClient> supervisor;
  detail::Launched proc;
  os::Fd log;
  std::unique_ptr<Masker> masker;
  Clock::time_point started, deadline;
  Clock::time_point hardDeadline = Clock::time_point::max();  // SIGKILL the supervisor itself
  bool starting = true;    // asked to start; the supervisor's answer has not been read yet
  bool announced = false;  // the observer was told it started
  std::string failReason;  // set when the engine itself had to stop the job
  bool timedOut = false;
  bool cancelled = false;
  // On a remote agent: no process here; its log grows in the file, read from `tail`.
  bool remote = false;
  os::Fd tail;
  uint64_t shown = 0;  // bytes of it passed to the observer
  std::string agent;
  uint64_t logged = 0;  // bytes written to the log (RunConfig::maxLogBytes)
  bool logCut = false;  // the log said it reached its limit: the rest is dropped
};

// A job's log file, new and empty, written by appends.
os::Fd createLog(const fs::path& path) {
  return os::Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
}

class Engine {
 public:
  Engine(const pipeline::Pipeline& p, const RunConfig& c, RunObserver& o)
      : pipeline_(p), config_(c), observer_(o), planner_(p, c.branch) {
    for (const auto& j : p.jobs) results_[j.name].name = j.name;
    std::vector<std::string> values;
    for (const auto& [name, value] : c.secrets) values.push_back(value);
    maskerPrototype_ = Masker(values);
    if (c.supervisors) idle_.swap(*c.supervisors);
  }
  ~Engine() {
    if (!config_.supervisors) return;
    for (auto& s : idle_) {
      if (!s->broken()) config_.supervisors->push_back(std::move(s));
    }
  }

  RunResult run();

 private:
  void startReady();
  void prepareAhead();
  void start(const pipeline::Job& job, int attempt);
  void startRemote(const pipeline::Job& job, int attempt);
  void adoptCarried();
  bool remote(const pipeline::Job& job) const {
    return config_.remote && config_.remote->takes(job);
  }
  size_t localActive() const;
  void pollRemote();
  void showRemoteLog(Active& a, uint64_t size);
  void finishRemote(const RemoteUpdate& u);
  void conclude(const std::string& name, JobState state, std::string reason, bool requeue = false);
  Result<std::unique_ptr<SupervisorClient>> takeSupervisor();
  void pump(Active& a, bool drain = false);
  void keep(Active& a, std::string_view text);
  void started(const std::string& name);
  void failStart(Active& a, std::string message);
  bool openLog(Active& a);
  void finish(const std::string& name);
  void complete(JobResult& r, JobState s, const std::string& reason);
  bool excuse(Active& a, JobResult& r);
  void cancelAll();
  void note(Active& a, const std::string& message);
  int pollTimeoutMs() const;
  void enforceDeadlines();

  const pipeline::Pipeline& pipeline_;
  const RunConfig& config_;
  RunObserver& observer_;
  Planner planner_;
  Masker maskerPrototype_{std::vector<std::string>{}};
  detail::LaunchContext launch_;
  std::filesystem::path supervisorProgram_;
  std::optional<SourceTree> source_;
  // Idle supervisors, reused from job to job: a job then costs one process creation.
  std::vector<std::unique_ptr<SupervisorClient>> idle_;
  std::map<std::string, Active> active_;
  std::map<std::string, os::Fd> preparedLogs_;  // made ahead by prepareAhead()
  std::map<std::string, JobResult> results_;
  int cancelRequests_ = 0;
  std::map<std::string, int> lost_;      // attempts of each job whose agent was lost
  size_t remoteActive_ = 0;              // entries of active_ on remote agents
  std::map<std::string, int> failures_;  // failed attempts of each job, for `retry`
  Clock::time_point lastRemotePoll_{};
  std::string scratch_;  // reused output buffer: no allocation per chunk
  std::unique_ptr<char[]> readBuf_{new char[kReadChunk]};
};

void Engine::complete(JobResult& r, JobState s, const std::string& reason) {
  r.state = s;
  r.reason = maskerPrototype_.mask(reason);
  planner_.finish(r.name, s);
  observer_.jobFinished(r);
}

// Whether the attempt's only failing tests are quarantined; if so they are kept on its result and
// said in its log.
bool Engine::excuse(Active& a, JobResult& r) {
  if (!r.tests || !onlyQuarantinedFailed(*r.tests, config_.quarantined)) return false;
  r.quarantinedFailures = failingTests(*r.tests);
  std::string names;
  for (const auto& t : r.quarantinedFailures) names += (names.empty() ? "" : ", ") + t;
  note(a, "its only failing tests are quarantined (" + names +
              "): it passes, their failures stay on the run");
  return true;
}

void Engine::note(Active& a, const std::string& message) {
  if (!a.log) {  // a remote job's log, not held open while it waits for an agent
    a.log = os::Fd(
        ::open(results_[a.job->name].log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  }
  std::string line = "boucle: " + message + "\n";
  (void)os::writeAll(a.log.get(), line);  // best effort: the reason is also in the result
  observer_.jobOutput(a.job->name, line);
}

// The job's program is asked for first, so that its log file and the observer's record are
// made while the supervisor execs it: those cost as much as the exec on some filesystems.
void Engine::start(const pipeline::Job& job, int attempt) {
  if (remote(job)) return startRemote(job, attempt);
  JobResult& r = results_[job.name];
  r.attempts = attempt;
  r.tests.reset();
  r.benchmarks.clear();
  r.agent.clear();
  r.quarantinedFailures.clear();
  r.log = detail::logPathFor(config_, job.name, attempt);
  Active a;
  a.job = &job;
  a.attempt = attempt;
  auto sup = takeSupervisor();
  if (!sup.ok()) {
    failStart(a, sup.status().message());
    return;
  }
  a.supervisor = std::move(sup).value();
  auto launched = detail::launchJob(job, attempt, launch_, *a.supervisor);
  if (!launched.ok()) {
    failStart(a, launched.status().message());
    return;
  }
  a.proc = std::move(launched).value();
  r.prepareTime = a.proc.prepareTime;
  a.masker = std::make_unique<Masker>(maskerPrototype_.fresh());
  a.started = Clock::now();
  a.deadline = a.started + job.timeout;
  if (!openLog(a)) {
    // Nowhere to write its output: the job is stopped at once and fails with the reason.
    a.failReason = "cannot create log " + r.log.string() + ": " + strerror(errno);
    a.supervisor->terminate();
  }
  observer_.jobStarted(job.name, attempt);
  a.announced = true;
  active_.emplace(job.name, std::move(a));
}

// Queued for the agents. Its log file is made now, empty, so that followers find it; the
// agent's bytes are appended by whoever receives them, and only read here.
void Engine::startRemote(const pipeline::Job& job, int attempt) {
  JobResult& r = results_[job.name];
  r.attempts = attempt;
  r.tests.reset();
  r.benchmarks.clear();
  r.agent.clear();
  r.quarantinedFailures.clear();
  r.log = detail::logPathFor(config_, job.name, attempt);
  Active a;
  a.job = &job;
  a.attempt = attempt;
  a.remote = true;
  a.starting = false;
  a.started = Clock::now();
  a.deadline = Clock::time_point::max();  // the agent keeps the job's timeout
  // Made, not kept open: a run may queue thousands of jobs for its agents at once. It is opened
  // once its agent sends something.
  if (!openLog(a)) {
    failStart(a, "cannot create log " + r.log.string() + ": " + strerror(errno));
    return;
  }
  a.log.reset();
  std::vector<ArtifactEntry> needed;
  for (const auto& n : job.needs) {
    if (auto it = launch_.artifacts.find(n); it != launch_.artifacts.end())
      needed.insert(needed.end(), it->second.begin(), it->second.end());
  }
  if (auto it = config_.jobInputs.find(job.name); it != config_.jobInputs.end())
    needed.insert(needed.end(), it->second.begin(), it->second.end());
  // Recorded as started before it is queued: a crash in between leaves a running job with no
  // row, which a restart does not carry on, rather than a queued row the restart would queue
  // again.
  observer_.jobStarted(job.name, attempt);
  a.announced = true;
  if (auto st = config_.remote->submit(job, attempt, r.log, needed); !st.ok()) {
    failStart(a, st.message());
    return;
  }
  active_.emplace(job.name, std::move(a));
  ++remoteActive_;
}

// Where a carried-on run had come to: finished jobs stay so (their artifacts available to the
// jobs that need them), jobs on agents are followed again.
void Engine::adoptCarried() {
  for (const auto& c : config_.carried) {
    const pipeline::Job* job = pipeline_.findJob(c.job);
    if (!job) continue;
    JobResult& r = results_[c.job];
    r.attempts = c.attempts;
    r.log = detail::logPathFor(config_, c.job, std::max(1, c.attempts));
    if (c.state == JobState::kRunning && remote(*job)) {
      planner_.restore(c.job, JobState::kRunning);
      Active a;
      a.job = job;
      a.attempt = c.attempts;
      a.remote = true;
      a.starting = false;
      a.announced = true;
      a.started = Clock::now();
      a.deadline = Clock::time_point::max();
      a.log = os::Fd(::open(r.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
      a.tail = os::Fd(::open(r.log.c_str(), O_RDONLY | O_CLOEXEC));
      a.shown = c.logShown;
      active_.emplace(c.job, std::move(a));
      ++remoteActive_;
    } else if (isFinished(c.state)) {
      r.state = c.state;
      r.exitCode = c.exitCode;
      r.reason = c.reason;
      r.artifacts = c.artifacts;
      if (!c.artifacts.empty()) launch_.artifacts[c.job] = c.artifacts;
      planner_.restore(c.job, c.state);
    }
  }
}

size_t Engine::localActive() const {
  return active_.size() - remoteActive_;
}

// What the agents sent since the last look: log bytes for the observer, ends, losses.
void Engine::pollRemote() {
  lastRemotePoll_ = Clock::now();
  auto updates = config_.remote->poll();
  if (!updates.ok()) return;  // the store is away: asked again at the next round
  for (const auto& u : *updates) {
    bool over = u.kind != RemoteUpdate::Kind::kRunning;
    auto it = active_.find(u.job);
    if (it == active_.end() || !it->second.remote || it->second.attempt != u.attempt) {
      if (over) config_.remote->taken(u.id);  // an attempt this engine is done with
      continue;
    }
    Active& a = it->second;
    a.agent = u.agent;
    // Its timeout runs on the agent, once the checkout and the needed artifacts are there, and
    // its artifacts are sent after it: the server's own deadline, far later, is only for an
    // agent that keeps the job without ever ending it.
    if (a.deadline == Clock::time_point::max() && u.kind == RemoteUpdate::Kind::kRunning &&
        !u.agent.empty())
      a.deadline = Clock::now() + a.job->timeout * 2 + std::chrono::hours(1);
    showRemoteLog(a, u.logSize);
    if (u.kind == RemoteUpdate::Kind::kEnded) {
      finishRemote(u);
      config_.remote->taken(u.id);
    } else if (u.kind == RemoteUpdate::Kind::kLost) {
      std::string why =
          "agent " + u.agent + " was lost; its log stopped at byte " + std::to_string(u.logSize);
      note(a, why);
      JobResult& r = results_[u.job];
      r.duration = std::chrono::duration_cast<Millis>(Clock::now() - a.started);
      // A lost agent is no verdict on the job: it is queued again, up to three times.
      bool again = a.cancelled || cancelRequests_ > 0 ? false : ++lost_[u.job] <= 3;
      conclude(u.job, a.cancelled ? JobState::kCancelled : JobState::kFailed,
               a.cancelled ? "cancelled" : why, again);
      config_.remote->taken(u.id);
    }
  }
}

void Engine::showRemoteLog(Active& a, uint64_t size) {
  if (!a.tail && size > a.shown) {
    auto path = results_[a.job->name].log;
    a.tail = os::Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    a.log = os::Fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  }
  char* buf = readBuf_.get();
  while (a.tail && a.shown < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kReadChunk, size - a.shown));
    ssize_t n = ::pread(a.tail.get(), buf, want, static_cast<off_t>(a.shown));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    a.shown += static_cast<uint64_t>(n);
    observer_.jobOutput(a.job->name, {buf, static_cast<size_t>(n)});
  }
}

void Engine::finishRemote(const RemoteUpdate& u) {
  Active& a = active_.at(u.job);
  JobResult& r = results_[u.job];
  r.duration = u.duration;
  r.exitCode = u.exitCode;
  r.tests = u.tests;
  r.benchmarks = u.benchmarks;
  r.agent = u.agent;
  JobState state = a.cancelled && u.state == JobState::kFailed ? JobState::kCancelled : u.state;
  std::string reason = u.reason;
  // The agent was given the quarantine with the job and judged by it (only it knows why a job
  // it failed failed): a pass with failing tests is one it excused.
  if (state == JobState::kPassed && r.tests && onlyQuarantinedFailed(*r.tests, config_.quarantined))
    r.quarantinedFailures = failingTests(*r.tests);
  if (state == JobState::kPassed && !u.artifacts.empty()) {
    r.artifacts = u.artifacts;
    std::error_code ec;
    fs::create_directories(config_.runDir / "artifacts", ec);
    if (auto st =
            detail::writeManifest(config_.runDir / "artifacts" / (u.job + ".json"), r.artifacts);
        !st.ok()) {
      r.artifacts.clear();
      state = JobState::kFailed;
      reason = st.message();
      note(a, st.message());
    } else {
      launch_.artifacts[u.job] = r.artifacts;
    }
  }
  conclude(u.job, state, reason);
}

bool Engine::openLog(Active& a) {
  if (auto it = preparedLogs_.find(a.job->name); it != preparedLogs_.end() && a.attempt == 1) {
    a.log = std::move(it->second);
    preparedLogs_.erase(it);
    return true;
  }
  a.log = createLog(results_[a.job->name].log);
  return static_cast<bool>(a.log);
}

// The job never ran: its workspace goes, the reason is in its log and result.
void Engine::failStart(Active& a, std::string message) {
  os::JobCgroups::end(a.proc.cgroup);
  if (a.supervisor && !a.supervisor->broken()) idle_.push_back(std::move(a.supervisor));
  std::error_code ec;
  std::filesystem::remove_all(config_.workRoot() / "ws" / a.job->name, ec);
  if (!a.log && !openLog(a)) {
    message += "; cannot create log " + results_[a.job->name].log.string() + ": " + strerror(errno);
  }
  if (!a.announced) observer_.jobStarted(a.job->name, a.attempt);
  note(a, message);
  complete(results_[a.job->name], JobState::kFailed, message);
}

// The supervisor answered a start request.
void Engine::started(const std::string& name) {
  Active& a = active_.at(name);
  a.starting = false;
  auto pid = a.supervisor->started();
  if (pid.ok()) {
    a.proc.pid = *pid;
    return;
  }
  Active failed = std::move(a);
  active_.erase(name);
  failStart(failed, pid.status().message());
}

Result<std::unique_ptr<SupervisorClient>> Engine::takeSupervisor() {
  if (!idle_.empty()) {
    auto s = std::move(idle_.back());
    idle_.pop_back();
    return s;
  }
  if (supervisorProgram_.empty()) {
    auto p = supervisorPath();
    if (!p.ok()) return p.status();
    supervisorProgram_ = *p;
  }
  return SupervisorClient::start(supervisorProgram_);
}

void Engine::startReady() {
  if (cancelRequests_ > 0) return;
  size_t busy = localActive();
  size_t free = config_.parallelism > busy ? config_.parallelism - busy : 0;
  std::function<bool(const pipeline::Job&)> elsewhere;
  if (config_.remote) elsewhere = [this](const pipeline::Job& j) { return remote(j); };
  for (const auto& name : planner_.takeReady(free, elsewhere)) start(*pipeline_.findJob(name), 1);
}

// The log file and (without a checkout) the empty workspace of a job that will start when the
// running ones pass are made now, while they run, so that starting it is one process creation:
// creating files costs as much as that on some filesystems. One per round, so a job that ends
// meanwhile is answered at once.
void Engine::prepareAhead() {
  if (cancelRequests_ > 0) return;
  for (const auto& name : planner_.upcoming(config_.parallelism)) {
    if (remote(*pipeline_.findJob(name))) continue;
    if (!preparedLogs_.contains(name)) {
      if (auto fd = createLog(detail::logPathFor(config_, name, 1))) {
        preparedLogs_.emplace(name, std::move(fd));
      }
      return;
    }
    if (launch_.prepared.contains(name) || pipeline_.findJob(name)->checkout) continue;
    if (::mkdir((config_.workRoot() / "ws" / name).c_str(), 0755) == 0)
      launch_.prepared.insert(name);
    return;
  }
}

// Reads what the job wrote so far (bounded chunks), masks it, appends it to the log at once.
// With `drain`, reads until the pipe is empty and then closes it even if some stray process
// still holds the write end (it is never waited for: that would hang the whole run).
void Engine::pump(Active& a, bool drain) {
  char* buf = readBuf_.get();
  for (int rounds = 0; (drain || rounds < 16) && a.proc.output; ++rounds) {
    ssize_t n = ::read(a.proc.output.get(), buf, kReadChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && !drain) return;
    scratch_.clear();
    if (n <= 0) {
      a.masker->finish(scratch_);
      a.proc.output.reset();
    } else {
      a.masker->feed({buf, static_cast<size_t>(n)}, scratch_);
    }
    if (!scratch_.empty()) keep(a, scratch_);
  }
}

// Output for the job's log and its followers, up to RunConfig::maxLogBytes: then one line says
// the rest is dropped, and the job runs on (its pipe is still read, so it never blocks).
void Engine::keep(Active& a, std::string_view text) {
  uint64_t max = config_.maxLogBytes;
  if (a.logCut) return;
  bool cut = max && a.logged + text.size() > max;
  if (cut) {
    text = text.substr(0, static_cast<size_t>(max - a.logged));
    a.logCut = true;
  }
  a.logged += text.size();
  std::string note;
  if (cut) {
    note = "\nboucle: this log reached its limit of " + std::to_string(max) +
           " bytes (the server's --max-log-size); the rest of the job's output is dropped\n";
  }
  for (std::string_view piece : {text, std::string_view(note)}) {
    if (piece.empty()) continue;
    if (auto st = os::writeAll(a.log.get(), piece); !st.ok()) {
      observer_.jobOutput(a.job->name, "boucle: log write failed: " + st.message() + "\n");
    }
    observer_.jobOutput(a.job->name, piece);
  }
}

void Engine::finish(const std::string& name) {
  Active& a = active_.at(name);
  auto exit = a.supervisor->readExit();
  // The supervisor reports only once every process of the job is gone, so the pipe is at EOF
  // (or holds the last bytes): drain it fully.
  pump(a, true);
  JobResult& r = results_[name];
  r.duration = std::chrono::duration_cast<Millis>(Clock::now() - a.started);
  int status = exit.ok() ? *exit : 0;
  r.exitCode = !exit.ok() ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (exit.ok()) {
    idle_.push_back(std::move(a.supervisor));
  } else {
    a.supervisor->kill(a.proc.pid);  // whatever is left of the job goes with it
    a.supervisor.reset();
  }
  // Its supervisor saw every process it knew end; one the job hid from it (by killing the
  // supervisor, say) is still in the job's cgroup, and ends here.
  if (!os::JobCgroups::end(a.proc.cgroup)) {
    note(a, "some of the job's processes would not end (cgroup " + a.proc.cgroup.string() + ")");
  }

  JobState state = JobState::kPassed;
  std::string reason;
  if (!a.failReason.empty()) {
    state = JobState::kFailed;
    reason = a.failReason;
  } else if (a.cancelled) {
    state = JobState::kCancelled;
    reason = "cancelled";
  } else if (a.timedOut) {
    state = JobState::kTimedOut;
    reason = "timed out after " + formatDuration(a.job->timeout);
  } else if (!exit.ok()) {
    state = JobState::kFailed;
    reason = exit.status().message();
    note(a, reason);
  } else if (r.exitCode != 0) {
    state = JobState::kFailed;
    reason = "exit code " + std::to_string(r.exitCode);
  }
  r.tests = detail::collectReports(*a.job, a.proc.workspace, config_.sourceDir);
  if (!a.job->benchmark.empty()) {
    std::vector<std::string> warnings;
    r.benchmarks = detail::collectBenchmarks(*a.job, a.proc.workspace, warnings);
    for (auto& m : r.benchmarks) m.name = maskerPrototype_.mask(m.name);
    for (const auto& w : warnings) note(a, "warning: " + maskerPrototype_.mask(w));
  }
  if (r.tests) {
    // The job wrote its reports: what it printed there goes where its log goes, masked.
    for (auto& f : r.tests->failed) {
      for (std::string* text : {&f.suite, &f.name, &f.message, &f.location, &f.details})
        *text = maskerPrototype_.mask(*text);
    }
    if (!config_.secrets.empty()) {
      for (auto& c : r.tests->cases) {
        for (std::string* text : {&c.suite, &c.name, &c.file}) *text = maskerPrototype_.mask(*text);
      }
    }
    for (auto& w : r.tests->warnings) w = maskerPrototype_.mask(w);
    for (const auto& w : r.tests->warnings) note(a, "warning: " + w);
  }
  // Its exit says it failed, its tests say only quarantined ones did (a timeout, a cancel or a
  // failure of the engine's own is never excused).
  if (state == JobState::kFailed && a.failReason.empty() && exit.ok() && r.exitCode > 0 &&
      r.exitCode < 128 && excuse(a, r)) {
    state = JobState::kPassed;
    reason.clear();
  }
  if (state == JobState::kPassed && !a.job->artifacts.empty()) {
    r.artifacts.clear();
    Status st = detail::collectArtifacts(*a.job, a.proc.workspace, config_, r.artifacts);
    for (const auto& art : r.artifacts) {
      // An artifact's name is shown everywhere (API, UI, run.json): one naming a secret is
      // refused rather than published.
      if (st.ok() && maskerPrototype_.mask(art.path) != art.path)
        st = Status::Invalid("artifacts: a file's name holds a secret: " +
                             maskerPrototype_.mask(art.path));
    }
    if (st.ok()) {
      launch_.artifacts[name] = r.artifacts;
      std::error_code ec;
      fs::create_directories(config_.runDir / "artifacts", ec);
      st = detail::writeManifest(config_.runDir / "artifacts" / (name + ".json"), r.artifacts);
    }
    if (!st.ok()) {
      r.artifacts.clear();  // none of a job that failed collecting them is published
      state = JobState::kFailed;
      reason = st.message();
      note(a, st.message());
    }
  }
  conclude(name, state, reason);
}

// The attempt is over: started again (a retry, or `requeue` after a lost agent), or finished.
void Engine::conclude(const std::string& name, JobState state, std::string reason, bool requeue) {
  Active& a = active_.at(name);
  JobResult& r = results_[name];
  const pipeline::Job* job = a.job;
  int attempt = a.attempt;
  // What comes of the attempt is said at the end of its own log: it stays with the run.
  std::optional<std::string> last;
  // Retries count the job's failures: an attempt lost with its agent is not one.
  int allowed = job->retry + config_.extraRetries;
  bool retry = !requeue && state == JobState::kFailed && cancelRequests_ == 0 &&
               ++failures_[name] <= allowed;
  if (requeue) {
    last = reason + "; queued again (attempt " + std::to_string(attempt + 1) + ")";
  } else if (retry) {
    bool confirming = failures_[name] > job->retry;
    last = reason + (confirming ? "; trying it once more before the branch is called broken "
                                  "(the project's on_red: retry_once), attempt " +
                                      std::to_string(attempt + 1)
                                : "; retrying (retry " + std::to_string(failures_[name]) + " of " +
                                      std::to_string(job->retry) + ", attempt " +
                                      std::to_string(attempt + 1) + ")");
  } else if (state == JobState::kPassed && !r.retried.empty()) {
    r.flaky = true;
    r.flakyTests = flakyAcross(r.retried, r.tests);
    std::string names;
    for (const auto& t : r.flakyTests) names += (names.empty() ? "" : ", ") + t;
    last = "passed on attempt " + std::to_string(attempt) + " after failing: flaky" +
           (names.empty() ? "" : " (" + names + ")");
  }
  if (last) note(a, maskerPrototype_.mask(*last));
  if (a.log && ::lseek(a.log.get(), 0, SEEK_END) > 0) ::fdatasync(a.log.get());
  if (a.remote) --remoteActive_;
  active_.erase(name);
  if (requeue) {
    start(*job, attempt + 1);
    return;
  }
  if (retry) {
    r.retried.push_back({attempt, r.agent, maskerPrototype_.mask(reason), std::move(r.tests)});
    r.tests.reset();
    start(*job, attempt + 1);
    return;
  }
  complete(r, state, reason);
}

void Engine::cancelAll() {
  ++cancelRequests_;
  planner_.cancelPending();
  if (config_.remote) config_.remote->cancelAll();
  for (auto& [name, a] : active_) {
    a.cancelled = true;
    if (a.remote) {
      // Its agent stops it, told at its next call; one that never confirms is let go.
      if (a.hardDeadline == Clock::time_point::max())
        a.hardDeadline = Clock::now() + config_.killGrace + kRemoteSlack;
      continue;
    }
    a.supervisor->terminate();  // TERM then KILL; a second request skips the grace period
    if (a.hardDeadline == Clock::time_point::max()) {
      a.hardDeadline = Clock::now() + config_.killGrace + kSupervisorSlack;
    }
  }
  for (const auto& name : planner_.order()) {
    JobResult& r = results_[name];
    if (planner_.state(name) == JobState::kCancelled && r.state == JobState::kPending) {
      r.state = JobState::kCancelled;
      r.reason = planner_.reason(name);
    }
  }
}

void Engine::enforceDeadlines() {
  auto now = Clock::now();
  // Remote jobs whose agent kept its lease but never ended them (its clock, its engine, its
  // cancel gone astray): ended here, and given up on so that whatever the agent says next is
  // refused and it stops the job.
  std::vector<std::pair<std::string, bool>> letGo;  // job, timed out (else cancelled)
  for (auto& [name, a] : active_) {
    if (!a.remote) continue;
    if (a.cancelled && now >= a.hardDeadline) letGo.emplace_back(name, false);
    if (!a.cancelled && now >= a.deadline) letGo.emplace_back(name, true);
  }
  for (const auto& [name, timedOut] : letGo) {
    Active& a = active_.at(name);
    std::string why = timedOut ? "timed out after " + formatDuration(a.job->timeout) +
                                     " on agent " + a.agent + ", which did not end it"
                               : "cancelled; agent " + a.agent + " did not confirm it in time";
    config_.remote->abandon(name, a.attempt);  // first: no append of its agent's cuts the note
    note(a, why);
    conclude(name, timedOut ? JobState::kTimedOut : JobState::kCancelled, why);
  }
  for (auto& [name, a] : active_) {
    if (a.remote) continue;
    if (!a.timedOut && !a.cancelled && now >= a.deadline) {
      a.timedOut = true;
      note(a, "timed out after " + formatDuration(a.job->timeout) + ", stopping the job");
      a.supervisor->terminate();
      a.hardDeadline = now + config_.killGrace + kSupervisorSlack;
    }
    if (now >= a.hardDeadline) {
      // The supervisor itself does not answer: last resort.
      a.supervisor->kill(a.proc.pid);
      a.hardDeadline = Clock::time_point::max();
    }
  }
}

int Engine::pollTimeoutMs() const {
  auto next = Clock::now() + std::chrono::seconds(1);  // progress ticks
  for (const auto& [name, a] : active_) {
    if (a.remote) next = std::min(next, lastRemotePoll_ + kRemotePollEvery);
    if (!a.timedOut && !a.cancelled) next = std::min(next, a.deadline);
    next = std::min(next, a.hardDeadline);
  }
  auto ms = std::chrono::duration_cast<Millis>(next - Clock::now()).count();
  return static_cast<int>(std::max<long long>(0, ms + 1));
}

RunResult Engine::run() {
  auto t0 = Clock::now();
  launch_.config = &config_;
  std::error_code ec;
  // "artifacts" is made by the first job that has some: one inode less per run on its way.
  fs::create_directories(config_.runDir / "logs", ec);
  fs::create_directories(config_.workRoot() / "ws", ec);
  if (pipeline_.checksOut() && !config_.sourceDir.empty()) {
    auto tree = SourceTree::scan(config_.sourceDir);
    if (!tree.ok()) {
      for (const auto& name : planner_.takeReady(pipeline_.jobs.size())) {
        complete(results_[name], JobState::kFailed,
                 "cannot read the checkout: " + tree.status().message());
      }
    } else {
      source_ = std::move(tree).value();
      launch_.source = &*source_;
    }
  }
  adoptCarried();
  auto lastTick = Clock::now();
  while (!planner_.done()) {
    startReady();
    if (active_.empty()) {
      if (planner_.done()) break;
      continue;  // jobs finished while starting (launch failures); plan again
    }
    prepareAhead();
    std::vector<pollfd> fds;
    std::vector<std::pair<std::string, bool>> owners;  // job, is the supervisor's socket
    if (config_.cancelFd >= 0) fds.push_back({config_.cancelFd, POLLIN, 0});
    bool remotes = active_.size() > localActive();
    if (remotes) fds.push_back({config_.remote->wakeFd(), POLLIN, 0});
    for (auto& [name, a] : active_) {
      if (a.remote) continue;
      if (a.proc.output) {
        fds.push_back({a.proc.output.get(), POLLIN, 0});
        owners.emplace_back(name, false);
      }
      fds.push_back({a.supervisor->fd(), POLLIN, 0});
      owners.emplace_back(name, true);
    }
    int n = ::poll(fds.data(), fds.size(), pollTimeoutMs());
    if (n < 0 && errno != EINTR) break;
    size_t base = (config_.cancelFd >= 0 ? 1 : 0) + (remotes ? 1 : 0);
    if (config_.cancelFd >= 0 && (fds[0].revents & POLLIN)) {
      char buf[16];
      ssize_t got = 0;
      for (ssize_t n; (n = ::read(config_.cancelFd, buf, sizeof buf)) > 0;) got += n;
      cancelAll();
      if (got > 1) cancelAll();  // asked twice at once: no grace period
    }
    std::vector<std::string> exited;
    for (size_t i = base; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      auto& [name, isSupervisor] = owners[i - base];
      if (isSupervisor && active_.at(name).starting) {
        started(name);  // an exit that is already there is seen at the next poll
      } else if (isSupervisor) {
        exited.push_back(name);
      } else {
        pump(active_.at(name));
      }
    }
    for (const auto& name : exited) finish(name);
    if (remotes && (fds[base - 1].revents || Clock::now() - lastRemotePoll_ >= kRemotePollEvery))
      pollRemote();
    enforceDeadlines();
    if (Clock::now() - lastTick >= std::chrono::seconds(1)) {
      lastTick = Clock::now();
      observer_.tick(planner_);
    }
  }
  // What was made ahead for jobs that never started (skipped, cancelled) goes.
  for (const auto& name : launch_.prepared) ::rmdir((config_.workRoot() / "ws" / name).c_str());
  for (const auto& [name, fd] : preparedLogs_)
    ::unlink(detail::logPathFor(config_, name, 1).c_str());
  RunResult result;
  result.interrupted = cancelRequests_ > 0;
  for (const auto& name : planner_.order()) {
    JobResult r = results_[name];
    if (r.state == JobState::kPending || r.state == JobState::kRunning) {
      r.state = planner_.state(name);
      r.reason = planner_.reason(name);
    }
    result.jobs.push_back(std::move(r));
  }
  result.duration = std::chrono::duration_cast<Millis>(Clock::now() - t0);
  return result;
}

}  // namespace

RunResult runPipeline(const pipeline::Pipeline& p, const RunConfig& config, RunObserver& observer) {
  Engine engine(p, config, observer);
  return engine.run();
}

}  // namespace boucle::runner
