#include "agent/remote_agent.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "os/files.h"
#include "os/process.h"
#include "pipeline/parser.h"
#include "runner/engine.h"
#include "runner/job_env.h"
#include "scheduler/agent.h"
#include "scheduler/agent_protocol.h"
#include "vault/blob_store.h"

#ifndef BOUCLE_VERSION
#define BOUCLE_VERSION "dev"
#endif

namespace boucle::agent {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr size_t kLogPiece = 256 << 10;         // under the server's 1 MiB body limit
constexpr auto kLongPollTimeout = seconds(45);  // the server answers a long poll within 20 s

// Waits after a failed call: 0.5 s, doubling, at most 10 s.
class Backoff {
 public:
  milliseconds next() {
    auto d = delay_;
    delay_ = std::min<milliseconds>(delay_ * 2, seconds(10));
    return d;
  }
  void reset() { delay_ = milliseconds(500); }

 private:
  milliseconds delay_{500};
};

std::string jobTarget(int64_t id, const std::string& what, int64_t epoch) {
  return "/api/agent/jobs/" + std::to_string(id) + "/" + what + "?epoch=" + std::to_string(epoch);
}

// "job 12 is no longer yours": a 409 without a size. The job was given to another agent or its
// run went: nothing of it is to be sent any more.
bool refused(const cli::HttpResult& r) {
  if (r.status != 409) return r.status == 401 || r.status == 403;
  json j = json::parse(r.body, nullptr, false);
  return !(j.is_object() && j.contains("size"));
}

std::optional<uint64_t> sizeIn(const cli::HttpResult& r) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("size") || !j["size"].is_number_unsigned()) return {};
  return j["size"].get<uint64_t>();
}

// Wakes the agent's main loop when one of its jobs is over: a full agent asks for the next
// job at once rather than at its next heartbeat.
struct Slots {
  std::mutex mu;
  std::condition_variable cv;
  bool freed = false;
  void free() {
    std::lock_guard lock(mu);
    freed = true;
    cv.notify_all();
  }
  // Until a job is over, `stop`, or `until`.
  void wait(std::chrono::steady_clock::time_point until, const std::atomic<bool>& stop) {
    std::unique_lock lock(mu);
    while (!freed && !stop && std::chrono::steady_clock::now() < until)
      cv.wait_for(lock, milliseconds(250));  // `stop` comes from a signal thread: looked at
    freed = false;
  }
};

// One claimed job: runs it, streams its log, and reports its end.
class JobRun : public runner::RunObserver {
 public:
  JobRun(const AgentOptions& o, int64_t id, int64_t epoch, scheduler::AgentJobSpec spec,
         const std::atomic<bool>& stop, Slots& slots)
      : o_(o), id_(id), epoch_(epoch), spec_(std::move(spec)), stop_(stop), slots_(slots) {
    dir_ = o.work / "jobs" / (std::to_string(id) + "-" + std::to_string(epoch));
  }
  ~JobRun() override {
    if (thread_.joinable()) thread_.join();
    if (sender_.joinable()) sender_.join();
  }

  void start() {
    thread_ = std::thread([this] { main(); });
  }
  // Everything is over (ended, reported): its threads may be joined.
  bool finished() const { return over_; }
  // Its end was taken (or it is no longer ours): no more heartbeats for it.
  bool settled() const { return settled_ || abandoned_; }
  int64_t id() const { return id_; }
  int64_t epoch() const { return epoch_; }
  const std::string& name() const { return spec_.job; }
  // Stops the job: `abandon` when it is no longer ours (nothing more is sent), else a cancel
  // (its end is reported).
  void cancel(bool abandon) {
    if (abandon) abandoned_ = true;
    std::lock_guard lock(mu_);
    if (cancelled_ && !abandon) return;  // told again: the grace period it has goes on
    cancelled_ = true;
    // Once: the job's grace period; twice: none (it is no longer ours to finish).
    for (int i = 0; cancelWrite_ && i < (abandon ? 2 : 1); ++i)
      [[maybe_unused]] auto n = ::write(cancelWrite_.get(), "x", 1);
    cv_.notify_all();
  }

  void jobOutput(const std::string&, std::string_view bytes) override {
    // Only what reached the spool is sent: the log and its size stay one and the same.
    if (!os::writeAll(spool_.get(), bytes).ok()) return;
    std::lock_guard lock(mu_);
    spooled_ += bytes.size();
    cv_.notify_all();
  }

 private:
  void main();
  Status prepare(runner::RunConfig& config, pipeline::Pipeline& p);
  void sendLog();
  bool call(const std::string& method, const std::string& target, const std::string& body,
            const cli::CallOptions& options, cli::HttpResult* out);
  Status uploadArtifacts(const std::vector<runner::ArtifactEntry>& artifacts);
  void report(const runner::JobResult& r);
  void say(const std::string& line) {
    std::string text = "boucle-agent: " + line + "\n";
    jobOutput(spec_.job, text);
  }

  const AgentOptions& o_;
  int64_t id_, epoch_;
  scheduler::AgentJobSpec spec_;
  const std::atomic<bool>& stop_;
  Slots& slots_;
  fs::path dir_;
  std::thread thread_, sender_;
  // finished_: the job ended, its log is complete (the sender stops once all is acknowledged).
  std::atomic<bool> finished_{false}, over_{false}, abandoned_{false}, settled_{false};
  os::Fd spool_, cancelWrite_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t spooled_ = 0, acked_ = 0;  // under mu_
  bool cancelled_ = false;            // under mu_
};

// A call retried until the server answers (a server restarting, a network cut): false when the
// job is no longer ours or the agent stops.
bool JobRun::call(const std::string& method, const std::string& target, const std::string& body,
                  const cli::CallOptions& options, cli::HttpResult* out) {
  Backoff backoff;
  while (!abandoned_) {
    auto r = cli::httpCall(o_.server, method, target, body, options);
    if (r.ok() && r->status < 500) {
      *out = *r;
      if (refused(*r)) {
        abandoned_ = true;
        return false;
      }
      return true;
    }
    if (stop_) return false;  // stopping: one try each, its lease then runs out
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff.next(), [&] { return abandoned_.load(); });
  }
  return false;
}

Status JobRun::prepare(runner::RunConfig& config, pipeline::Pipeline& p) {
  auto parsed = pipeline::parsePipeline(spec_.pipeline);
  const pipeline::Job* job = parsed.ok() ? parsed.pipeline.findJob(spec_.job) : nullptr;
  if (!job) return Status::Invalid("the server's pipeline file has no job '" + spec_.job + "'");
  pipeline::Job one = *job;
  one.needs.clear();  // they ran elsewhere: their artifacts come with the job
  one.needsPos.clear();
  one.retry = 0;  // the server retries, on whichever agent
  p.jobs = {one};
  fs::create_directories(dir_ / "run");
  config.project = spec_.project;
  config.runId = std::to_string(spec_.runId);
  config.commit = spec_.commit;
  config.branch = spec_.branch;
  config.runDir = dir_ / "run";
  config.blobRoot = o_.work / "blobs";
  config.parallelism = 1;
  config.firstAttempt = spec_.attempt;
  config.baseEnv = runner::inheritedEnvironment();
  config.baseEnv.insert(config.baseEnv.end(), spec_.env.begin(), spec_.env.end());
  config.defaultIsolation = pipeline::Isolation::kSandbox;
  config.processAllowed = spec_.processAllowed && o_.allowProcessJobs;
  config.quarantined = {spec_.quarantined.begin(), spec_.quarantined.end()};
  config.cacheDir = scheduler::cacheDirFor(o_.work, spec_.project, spec_.branch);
  // A job sees its workspace, not the agent's other jobs, its spool or its token.
  config.hiddenPaths = {o_.work};
  config.hiddenPaths.insert(config.hiddenPaths.end(), o_.hidden.begin(), o_.hidden.end());
  if (const char* home = std::getenv("HOME"); home && *home) config.hiddenPaths.emplace_back(home);

  cli::HttpResult r;
  if (spec_.source) {
    say("fetching the checkout of " + spec_.commit.substr(0, 12));
    cli::CallOptions get;
    get.timeout = std::chrono::minutes(10);
    get.saveTo = dir_ / "src.tar";
    if (!call("GET", jobTarget(id_, "source", epoch_), "", get, &r)) return Status::Cancelled("");
    if (r.status != 200) return Status::Io("the checkout: HTTP " + std::to_string(r.status));
    fs::create_directories(dir_ / "src");
    auto x =
        os::runAndCapture({"tar", "--extract", "--no-same-owner", "--file",
                           (dir_ / "src.tar").string(), "--directory", (dir_ / "src").string()});
    if (!x.ok()) return x.status();
    if (x->exitCode != 0) return Status::Io("unpacking the checkout: " + x->output);
    fs::remove(dir_ / "src.tar");
    config.sourceDir = dir_ / "src";
  }
  vault::BlobStore blobs(config.blobRoot);
  for (const auto& a : spec_.needed) {
    if (blobs.contains(a.sha256)) continue;
    cli::CallOptions get;
    get.timeout = std::chrono::minutes(30);
    get.saveTo = dir_ / "blob";
    if (!call("GET",
              "/api/agent/jobs/" + std::to_string(id_) + "/blobs/" + a.sha256 +
                  "?epoch=" + std::to_string(epoch_),
              "", get, &r))
      return Status::Cancelled("");
    if (r.status != 200)
      return Status::Io("artifact " + a.path + ": HTTP " + std::to_string(r.status));
    auto put = blobs.putFile(dir_ / "blob");  // hashed again: what arrived is what was asked
    if (!put.ok()) return put.status();
    if (put->sha256 != a.sha256) return Status::Io("artifact " + a.path + " arrived damaged");
  }
  config.givenArtifacts = spec_.needed;
  return Status::Ok();
}

// Sends the spool from what the server acknowledged, as it grows, until the job has ended and
// every byte is acknowledged.
void JobRun::sendLog() {
  os::Fd in(::open((dir_ / "log").c_str(), O_RDONLY | O_CLOEXEC));
  std::string piece;
  Backoff backoff;
  while (!abandoned_) {
    uint64_t from;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, milliseconds(200),
                   [&] { return spooled_ > acked_ || finished_ || abandoned_; });
      if (spooled_ == acked_ && finished_) return;
      if (spooled_ == acked_) continue;
      from = acked_;
      piece.resize(static_cast<size_t>(std::min<uint64_t>(kLogPiece, spooled_ - acked_)));
    }
    ssize_t n = ::pread(in.get(), piece.data(), piece.size(), static_cast<off_t>(from));
    if (n <= 0) return;
    piece.resize(static_cast<size_t>(n));
    cli::CallOptions post;
    post.timeout = seconds(30);
    post.contentType = "application/octet-stream";
    auto r = cli::httpCall(o_.server, "POST",
                           jobTarget(id_, "log", epoch_) + "&offset=" + std::to_string(from), piece,
                           post);
    if (r.ok() && refused(*r)) {
      abandoned_ = true;
      cancel(true);
      return;
    }
    auto size = r.ok() ? sizeIn(*r) : std::nullopt;
    if (!size) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, backoff.next(), [&] { return abandoned_.load(); });
      continue;
    }
    backoff.reset();
    if (json::parse(r->body, nullptr, false).value("cancel", false)) cancel(false);
    std::lock_guard lock(mu_);
    acked_ = std::min(*size, spooled_);  // the server's word: resume from there
    cv_.notify_all();
  }
}

Status JobRun::uploadArtifacts(const std::vector<runner::ArtifactEntry>& artifacts) {
  vault::BlobStore blobs(o_.work / "blobs");
  for (const auto& a : artifacts) {
    cli::HttpResult r;
    cli::CallOptions head;
    head.timeout = seconds(30);
    if (!call("GET",
              "/api/agent/jobs/" + std::to_string(id_) + "/blobs/" + a.sha256 +
                  "/present?epoch=" + std::to_string(epoch_),
              "", head, &r))
      return Status::Cancelled("");
    if (r.status == 200) continue;
    cli::CallOptions up;
    up.timeout = std::chrono::minutes(30);
    up.contentType = "application/octet-stream";
    up.bodyFile = blobs.pathOf(a.sha256);
    if (!call("POST", jobTarget(id_, "blobs", epoch_) + "&sha256=" + a.sha256, "", up, &r))
      return Status::Cancelled("");
    if (r.status != 201)
      return Status::Io("uploading " + a.path + ": HTTP " + std::to_string(r.status));
  }
  return Status::Ok();
}

void JobRun::report(const runner::JobResult& result) {
  scheduler::AgentReport rep;
  rep.state = result.state;
  rep.exitCode = result.exitCode;
  rep.duration = result.duration;
  rep.reason = result.reason;
  rep.tests = result.tests;
  rep.benchmarks = result.benchmarks;
  rep.artifacts = result.artifacts;
  if (!rep.artifacts.empty()) {
    if (auto st = uploadArtifacts(rep.artifacts); !st.ok()) {
      if (abandoned_) return;
      rep.state = runner::JobState::kFailed;
      rep.reason = st.message();
      rep.artifacts.clear();
      say(st.message());
    }
  }
  finished_ = true;
  cv_.notify_all();
  if (sender_.joinable()) sender_.join();
  if (abandoned_) return;
  cli::CallOptions post;
  post.timeout = seconds(30);
  for (;;) {
    {
      std::lock_guard lock(mu_);
      rep.logSize = spooled_;
    }
    cli::HttpResult r;
    if (!call("POST", jobTarget(id_, "end", epoch_), scheduler::reportToJson(rep), post, &r))
      return;
    if (r.status == 200) {
      settled_ = true;
      return;
    }
    auto size = sizeIn(r);
    if (r.status == 409 && size) {
      // The server has less of the log than was sent (it lost a write): sent again from there.
      {
        std::lock_guard lock(mu_);
        acked_ = *size;
      }
      finished_ = false;
      sender_ = std::thread([this] { sendLog(); });
      finished_ = true;
      cv_.notify_all();
      sender_.join();
      continue;
    }
    logError("job " + std::to_string(id_) + ": the server refused its end: HTTP " +
             std::to_string(r.status) + " " + r.body);
    return;
  }
}

void JobRun::main() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  fs::create_directories(dir_, ec);
  spool_ = os::Fd(
      ::open((dir_ / "log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  int fds[2];
  bool piped = ::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0;
  os::Fd cancelRead;
  if (piped) {
    cancelRead.reset(fds[0]);
    std::lock_guard lock(mu_);
    cancelWrite_.reset(fds[1]);
  }
  sender_ = std::thread([this] { sendLog(); });
  logInfo("job " + std::to_string(id_) + ": " + spec_.project + " run " +
          std::to_string(spec_.runId) + " " + spec_.job + " (attempt " +
          std::to_string(spec_.attempt) + ")");
  runner::RunConfig config;
  pipeline::Pipeline p;
  runner::JobResult result;
  result.name = spec_.job;
  Status st = spool_ ? prepare(config, p) : Status::Io("cannot write the log spool");
  if (st.ok()) {
    config.cancelFd = cancelRead.get();
    {
      std::lock_guard lock(mu_);  // a cancel that came while the job was being prepared
      if (cancelled_ && cancelWrite_) [[maybe_unused]]
        auto n = ::write(cancelWrite_.get(), "x", 1);
    }
    // A supervisor of its own, not one kept from an earlier job: a supervisor ends with the
    // thread that started it (PR_SET_PDEATHSIG), and each job has a thread of its own.
    auto run = runner::runPipeline(p, config, *this);
    result = run.jobs.empty() ? result : run.jobs[0];
  } else if (!abandoned_) {
    result.state = runner::JobState::kFailed;
    result.reason = st.code() == Code::kCancelled ? "cancelled" : st.message();
    if (st.code() == Code::kCancelled) result.state = runner::JobState::kCancelled;
    say(result.reason);
  }
  {
    std::lock_guard lock(mu_);  // the job is over: a late cancel has nothing to stop
    cancelWrite_.reset();
  }
  if (!abandoned_) report(result);
  finished_ = true;
  cv_.notify_all();
  if (sender_.joinable()) sender_.join();
  logInfo("job " + std::to_string(id_) + ": " + std::string(runner::toString(result.state)) +
          (abandoned_ ? " (no longer ours: not reported)" : ""));
  fs::remove_all(dir_, ec);
  over_ = true;
  slots_.free();
}

}  // namespace

int runAgent(const AgentOptions& o, const std::atomic<bool>& stop) {
  std::error_code ec;
  fs::create_directories(o.work / "jobs", ec);
  if (ec) {
    logError("cannot make " + (o.work / "jobs").string() + ": " + ec.message());
    return 1;
  }
  // What a killed agent left: its jobs were given to others by now.
  for (const auto& e : fs::directory_iterator(o.work / "jobs", ec)) fs::remove_all(e.path(), ec);
  Slots slots;  // before `jobs`: their threads use it until they are joined
  std::map<int64_t, std::unique_ptr<JobRun>> jobs;
  Backoff backoff;
  bool reachable = true;
  while (!stop) {
    json running = json::array();
    for (auto it = jobs.begin(); it != jobs.end();) {
      if (it->second->finished()) {
        it = jobs.erase(it);  // joins its threads
        continue;
      }
      if (!it->second->settled())
        running.push_back({{"id", it->first}, {"epoch", it->second->epoch()}});
      ++it;
    }
    // Jobs whose end was taken but whose folders are still going hold a slot the server no
    // longer sees: whether there is room is said, not left to the server to count.
    bool room = static_cast<int>(jobs.size()) < o.capacity;
    json ask = {{"labels", o.labels}, {"capacity", o.capacity}, {"version", BOUCLE_VERSION},
                {"host", o.host},     {"running", running},     {"wait", room},
                {"room", room}};
    cli::CallOptions options;
    options.timeout = kLongPollTimeout;
    options.abandon = &stop;
    auto r = cli::httpCall(o.server, "POST", "/api/agent/poll", ask.dump(), options);
    if (!r.ok() || r->status >= 500) {
      if (reachable)
        logError("cannot reach the server (" +
                 (r.ok() ? "HTTP " + std::to_string(r->status) : r.status().message()) +
                 "); trying again");
      reachable = false;
      std::this_thread::sleep_for(backoff.next());
      continue;
    }
    if (r->status == 401 || r->status == 403) {
      logError("the server refuses this agent's token: " + r->body);
      return 3;
    }
    if (!reachable) logInfo("the server answers again");
    reachable = true;
    backoff.reset();
    json answer = json::parse(r->body, nullptr, false);
    if (r->status != 200 || !answer.is_object()) {
      logError("the server's answer: HTTP " + std::to_string(r->status) + " " + r->body);
      std::this_thread::sleep_for(backoff.next());
      continue;
    }
    for (const auto& id : answer.value("stop", json::array())) {
      if (auto it = jobs.find(id.get<int64_t>()); it != jobs.end()) {
        logInfo("job " + std::to_string(it->first) + " is no longer ours: stopped");
        it->second->cancel(true);
      }
    }
    for (const auto& id : answer.value("cancel", json::array())) {
      if (auto it = jobs.find(id.get<int64_t>()); it != jobs.end()) it->second->cancel(false);
    }
    const json& job = answer["job"];
    if (job.is_object()) {
      auto spec = scheduler::specFromJson(job["spec"].dump());
      int64_t id = job.value("id", int64_t{0});
      if (!spec.ok()) {
        logError("job " + std::to_string(id) + ": " + spec.status().message());
        continue;  // its lease runs out: the server gives it to another agent
      }
      auto run = std::make_unique<JobRun>(o, id, job.value("epoch", int64_t{0}),
                                          std::move(spec).value(), stop, slots);
      run->start();
      jobs.emplace(id, std::move(run));
      continue;  // ask for more at once while there is room
    }
    if (!room) {
      // Full: a heartbeat a quarter of the lease apart keeps the jobs ours.
      int64_t lease = answer.value("lease_ms", int64_t{60000});
      auto until =
          std::chrono::steady_clock::now() + milliseconds(std::max<int64_t>(250, lease / 4));
      bool done =
          std::any_of(jobs.begin(), jobs.end(), [](const auto& j) { return j.second->finished(); });
      if (!done) slots.wait(until, stop);
    }
  }
  logInfo("stopping: cancelling " + std::to_string(jobs.size()) + " job(s)");
  for (auto& [id, j] : jobs) j->cancel(false);
  jobs.clear();
  return 0;
}

}  // namespace boucle::agent
