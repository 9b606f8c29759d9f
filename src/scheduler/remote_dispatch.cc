#include "scheduler/remote_dispatch.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include "core/clock.h"
#include "core/log.h"
#include "os/process.h"
#include "scheduler/agent_protocol.h"

namespace boucle::scheduler {

Status packSource(const std::filesystem::path& source, const std::filesystem::path& tar) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(tar, ec)) return Status::Ok();
  if (!fs::is_directory(source, ec)) return Status::NotFound("this job has no checkout");
  fs::create_directories(tar.parent_path(), ec);
  fs::path tmp = tar;
  static std::atomic<uint64_t> packs{0};
  tmp += "." + std::to_string(::getpid()) + "-" + std::to_string(++packs);
  // tar, not a library: it keeps modes, symlinks and long names exactly as git left them.
  auto r = os::runAndCapture(
      {"tar", "--create", "--file", tmp.string(), "--directory", source.string(), "."});
  if (!r.ok() || r->exitCode != 0) {
    fs::remove(tmp, ec);
    return Status::Internal("cannot pack the checkout: " +
                            (r.ok() ? r->output : r.status().message()));
  }
  fs::rename(tmp, tar, ec);
  if (ec) return Status::Internal("cannot pack the checkout: " + ec.message());
  return Status::Ok();
}

RemoteDispatch::RemoteDispatch(store::Store& store, AgentBoard& board, const store::Run& run,
                               std::string pipelineText, bool source, DispatchOptions options)
    : store_(store),
      board_(board),
      run_(run),
      jobTexts_(pipelineText),
      source_(source),
      options_(std::move(options)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_[0].reset(fds[0]);
    wake_[1].reset(fds[1]);
    board_.listen(run_.id, fds[1]);
  }
}

RemoteDispatch::~RemoteDispatch() {
  board_.unlisten(run_.id);
}

bool RemoteDispatch::takes(const pipeline::Job& job) const {
  return options_.everyJob || !job.runsOn.empty();
}

Status RemoteDispatch::submit(const pipeline::Job& job, int attempt,
                              const std::filesystem::path& log,
                              const std::vector<runner::ArtifactEntry>& needed) {
  AgentJobSpec spec;
  spec.project = run_.project;
  spec.runId = run_.id;
  spec.job = job.name;
  spec.attempt = attempt;
  spec.commit = run_.commit;
  spec.branch = run_.branch;
  auto text = jobTexts_.alone(job.name);
  if (!text.ok()) return text.status();
  spec.pipeline = std::move(text).value();
  spec.source = source_ && job.checkout;
  spec.processAllowed = options_.processAllowed;
  spec.quarantined = options_.quarantined;
  spec.env = options_.env;
  spec.needed = needed;
  store::AgentJob j;
  j.runId = run_.id;
  j.project = run_.project;
  j.job = job.name;
  j.attempt = attempt;
  j.labels = job.runsOn;
  j.spec = specToJson(spec);
  j.logPath = log.lexically_relative(options_.sharedDir).string();
  j.queuedAt = nowMs();
  if (j.logPath.empty() || j.logPath.starts_with(".."))
    return Status::Internal("the job's log " + log.string() + " is outside the shared folder");
  if (spec.source) {
    auto tar = options_.sharedDir / "runs" / std::to_string(run_.id) / "src.tar";
    if (auto st = packSource(options_.sourceDir, tar); !st.ok()) return st;
  }
  auto queued = store_.queueAgentJob(j);
  if (!queued.ok()) return queued.status();
  board_.jobQueued();
  return Status::Ok();
}

Result<std::vector<runner::RemoteUpdate>> RemoteDispatch::poll() {
  char buf[64];
  while (wake_[0] && ::read(wake_[0].get(), buf, sizeof buf) > 0) {
  }
  auto started = store_.startedAgentJobs(run_.id);
  if (!started.ok()) return started.status();
  std::vector<runner::RemoteUpdate> out;
  for (const auto& j : *started) {
    runner::RemoteUpdate u;
    u.id = j.id;
    u.job = j.job;
    u.attempt = j.attempt;
    u.agent = j.agent;
    u.logSize = static_cast<uint64_t>(j.logSize);
    if (j.state == "running") {
      auto& last = logSizes_[j.id];
      if (last == u.logSize && last != 0) continue;  // nothing new
      last = u.logSize;
      u.kind = runner::RemoteUpdate::Kind::kRunning;
      out.push_back(std::move(u));
      continue;
    }
    if (j.state == "lost") {
      u.kind = runner::RemoteUpdate::Kind::kLost;
    } else if (j.state == "cancelled") {
      u.kind = runner::RemoteUpdate::Kind::kEnded;
      u.state = runner::JobState::kCancelled;
      u.reason = "cancelled before an agent took it";
    } else {
      u.kind = runner::RemoteUpdate::Kind::kEnded;
      auto report = reportFromJson(j.result);
      if (!report.ok()) {
        u.state = runner::JobState::kFailed;
        u.reason = "the agent's report: " + report.status().message();
      } else {
        u.state = report->state;
        u.exitCode = report->exitCode;
        u.duration = report->duration;
        u.reason = report->reason;
        u.tests = std::move(report->tests);
        u.benchmarks = std::move(report->benchmarks);
        u.artifacts = std::move(report->artifacts);
      }
    }
    // Measured once, however often the end is reported before it is taken in.
    if (options_.metrics && j.startedAt > 0 && measured_.insert(j.id).second) {
      options_.metrics->agentQueue.observe(
          {run_.project},
          static_cast<double>(std::max<int64_t>(0, j.startedAt - j.queuedAt)) / 1000);
    }
    out.push_back(std::move(u));
  }
  return out;
}

// Taken in: the row goes, and whatever its agent says of it afterwards is refused. Should that
// fail, the end comes again at the next look, and the engine, done with that attempt, passes
// over it and gives it back here.
void RemoteDispatch::taken(int64_t id) {
  logSizes_.erase(id);
  measured_.erase(id);
  if (auto st = store_.forgetAgentJob(id); !st.ok()) logError("agents: " + st.message());
}

void RemoteDispatch::abandon(const std::string& job, int attempt) {
  auto jobs = store_.agentJobsOfRun(run_.id);
  if (!jobs.ok()) return logError("agents: " + jobs.status().message());
  for (const auto& j : *jobs) {
    if (j.job != job || j.attempt != attempt) continue;
    if (auto st = store_.forgetAgentJob(j.id); !st.ok()) logError("agents: " + st.message());
  }
}

void RemoteDispatch::cancelAll() {
  if (auto st = store_.cancelAgentJobs(run_.id); !st.ok())
    logError("run " + std::to_string(run_.id) +
             ": cannot cancel its agents' jobs: " + st.message());
  board_.runChanged(run_.id);
  board_.jobsCancelled();
}

}  // namespace boucle::scheduler
