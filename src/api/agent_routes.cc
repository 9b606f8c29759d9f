// Remote agents: the routes an agent's token reaches (claim jobs, fetch what they need, send
// their logs and ends), and the ones people use to see and drain the agents. An agent is named
// by its token: it cannot speak for another, and every report names the claim's epoch, so an
// agent whose job was given to another is refused (409) whatever it sends.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/names.h"
#include "os/files.h"
#include "os/process.h"
#include "scheduler/agent_protocol.h"
#include "scheduler/remote_dispatch.h"
#include "vault/blob_store.h"

namespace boucle::api {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxLabels = 32;
constexpr size_t kMaxHeld = 1024;  // an agent's --capacity at most
constexpr auto kLongPoll = std::chrono::seconds(20);

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int64_t leaseMs(const ApiContext& c) {
  return c.agentTimeout.count();
}

// The job `req` names, if it is the asking agent's under the epoch it gives: else the refusal.
Result<store::AgentJob> heldJob(const ApiContext& c, const Request& req, const Params& p) {
  auto id = toId(p.at("id"));
  auto epoch = req.query.count("epoch") ? toId(req.query.at("epoch")) : std::nullopt;
  if (!id || !epoch) return Status::Invalid("a job id and ?epoch=N");
  auto j = c.store->getAgentJob(*id);
  if (!j.ok() && j.status().code() == Code::kNotFound)
    return Status::Conflict("job " + std::to_string(*id) + " is no longer yours");
  if (!j.ok()) return j.status();
  if (j->agent != req.actor || j->epoch != *epoch || j->state != "running")
    return Status::Conflict("job " + std::to_string(*id) + " is no longer yours");
  return j;
}

json jobJson(const store::AgentJob& j, const ApiContext& c) {
  json spec = json::parse(j.spec, nullptr, false);
  return {{"id", j.id}, {"epoch", j.epoch}, {"spec", spec}, {"lease_ms", leaseMs(c)}};
}

// The answer to a poll: the job claimed (or null), and what the agent is to stop.
std::string pollAnswer(const std::optional<store::AgentJob>& job, const json& stop,
                       const json& cancel, const ApiContext& c) {
  json j = {{"job", job ? jobJson(*job, c) : json(nullptr)},
            {"stop", stop},
            {"cancel", cancel},
            {"lease_ms", leaseMs(c)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// A long poll: answered the moment a job this agent can run is queued (the board wakes it, on
// this server's news and on the others' that share the database; a lost piece of news is made
// up for by a look every second), else after 20 s.
class LongPoll : public BodyStream {
 public:
  LongPoll(const ApiContext& c, std::string agent, std::vector<std::string> labels,
           std::vector<std::string> projects, bool labelledOnly, json stop, json cancel,
           std::chrono::steady_clock::time_point arrived)
      : c_(c),
        agent_(std::move(agent)),
        labels_(std::move(labels)),
        projects_(std::move(projects)),
        labelledOnly_(labelledOnly),
        stop_(std::move(stop)),
        cancel_(std::move(cancel)),
        arrived_(arrived),
        // Its leases are renewed when it calls: it calls again well within --agent-timeout.
        deadline_(arrived_ + std::min<std::chrono::milliseconds>(kLongPoll, c.agentTimeout / 3)),
        cancellations_(c.board ? c.board->cancellations() : 0) {}
  ~LongPoll() override {
    if (key_) c_.board->forget(key_);
  }
  Piece next() override {
    int64_t now = nowMs();
    auto job =
        c_.store->claimAgentJob(agent_, labels_, projects_, labelledOnly_, now, now + leaseMs(c_));
    if (!job.ok()) {
      logError("agents: " + job.status().message());
      return {pollAnswer(std::nullopt, stop_, cancel_, c_), true};
    }
    if (*job && c_.board && first_) c_.board->claimLatency.observe({}, secondsSince(arrived_));
    first_ = false;
    bool cancelled = c_.board && c_.board->cancellations() != cancellations_;
    if (*job || cancelled || std::chrono::steady_clock::now() >= deadline_)
      return {pollAnswer(*job, stop_, cancel_, c_), true};
    return {"", false, 1000};
  }
  bool perClientLimited() const override { return false; }
  bool onMore(std::function<void()> wake) override {
    if (!c_.board) return false;
    if (key_) c_.board->forget(key_);
    key_ = c_.board->onJobQueued(std::move(wake));
    return true;
  }

 private:
  const ApiContext& c_;
  std::string agent_;
  std::vector<std::string> labels_;
  std::vector<std::string> projects_;
  bool labelledOnly_;
  json stop_, cancel_;
  std::chrono::steady_clock::time_point arrived_, deadline_;
  bool first_ = true;       // a job claimed at the first look was there when the poll came
  uint64_t cancellations_;  // the board's count when the poll began
  uint64_t key_ = 0;
};

Response poll(const ApiContext& c, const Request& req) {
  auto arrived = std::chrono::steady_clock::now();
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) return errorResponse(400, "a JSON object");
  store::AgentRecord a;
  a.name = req.actor;
  for (const auto& l : body.value("labels", json::array())) {
    auto label = l.get<std::string>();
    if (!validName(label)) return errorResponse(400, "labels: '" + label + "' is not a label");
    // A token pinned to labels claims with those only: a stolen one cannot reach the jobs
    // meant for other machines by saying it has their labels.
    if (!req.agentLabels.empty() &&
        std::find(req.agentLabels.begin(), req.agentLabels.end(), label) == req.agentLabels.end()) {
      return errorResponse(403, "token " + req.actor + " may claim with the labels " +
                                    joinNames(req.agentLabels) + " only, not '" + label + "'");
    }
    if (a.labels.size() < kMaxLabels) a.labels.push_back(label);
  }
  a.version = body.value("version", "").substr(0, 64);
  a.host = body.value("host", "").substr(0, 255);
  a.capacity = std::clamp<int64_t>(body.value("capacity", int64_t{1}), 1, 1024);
  a.seenAt = nowMs();
  std::vector<std::pair<int64_t, int64_t>> held;
  for (const auto& h : body.value("running", json::array())) {
    if (held.size() >= kMaxHeld) break;
    held.emplace_back(h.at("id").get<int64_t>(), h.at("epoch").get<int64_t>());
  }
  auto draining = c.store->agentSeen(a);
  if (!draining.ok()) return fromStatus(draining.status());
  auto told = c.store->renewAgentLeases(a.name, held, a.seenAt + leaseMs(c));
  if (!told.ok()) return fromStatus(told.status());
  json stop = json::array(), cancel = json::array();
  for (const auto& j : *told) (j.state == "running" && j.cancel ? cancel : stop).push_back(j.id);
  // A draining agent still waits out its long poll (the store gives it nothing): it does not
  // come back at once to ask again.
  bool room = static_cast<int64_t>(held.size()) < a.capacity && body.value("room", true);
  if (!room) return jsonResponse(200, pollAnswer(std::nullopt, stop, cancel, c));
  if (!body.value("wait", false)) {
    auto job = c.store->claimAgentJob(a.name, a.labels, req.agentProjects, !req.agentLabels.empty(),
                                      a.seenAt, a.seenAt + leaseMs(c));
    if (!job.ok()) return fromStatus(job.status());
    if (*job && c.board) c.board->claimLatency.observe({}, secondsSince(arrived));
    return jsonResponse(200, pollAnswer(*job, stop, cancel, c));
  }
  Response r;
  r.stream = std::make_shared<LongPoll>(c, a.name, a.labels, req.agentProjects,
                                        !req.agentLabels.empty(), stop, cancel, arrived);
  r.headers.emplace_back("X-Boucle-Long-Poll", "1");
  return r;
}

// The run's checkout as a tar, made once per run (its jobs on agents share it) beside the
// snapshot it packs, and gone with it at the run's end.
Response source(const ApiContext& c, const store::AgentJob& j) {
  // The run's server packed it as it queued the job; a run carried on from before packs it
  // here, from this server's checkout, when it is this server's.
  fs::path tar = c.shared() / "runs" / std::to_string(j.runId) / "src.tar";
  if (auto st = scheduler::packSource(c.dataDir / "runs" / std::to_string(j.runId) / "src", tar);
      !st.ok()) {
    if (st.code() == Code::kNotFound) return errorResponse(404, "this job has no checkout");
    logError("agents: run " + std::to_string(j.runId) + ": " + st.message());
    return errorResponse(500, "cannot pack the checkout");
  }
  std::error_code ec;
  auto size = fs::file_size(tar, ec);
  if (ec) return errorResponse(500, "cannot read the checkout");
  Response res;
  res.contentType = "application/x-tar";
  res.file = FileBody{tar.string(), 0, size};
  return res;
}

// A blob the job needs (an artifact of a job it needs), and no other.
Response neededBlob(const ApiContext& c, const store::AgentJob& j, const std::string& sha) {
  auto spec = scheduler::specFromJson(j.spec);
  if (!spec.ok()) return errorResponse(500, "internal error");
  bool needed = std::any_of(spec->needed.begin(), spec->needed.end(),
                            [&](const runner::ArtifactEntry& a) { return a.sha256 == sha; });
  vault::BlobStore blobs(c.shared() / "blobs");
  if (!needed || !blobs.contains(sha)) return errorResponse(404, "no such blob for this job");
  std::error_code ec;
  auto size = fs::file_size(blobs.pathOf(sha), ec);
  if (ec) return errorResponse(500, "internal error");
  Response res;
  res.contentType = "application/octet-stream";
  res.file = FileBody{blobs.pathOf(sha).string(), 0, size};
  return res;
}

// One append per job at a time on this server: a retry that overlaps its first try (a slow
// disk, a timeout on the agent's side) must not cut the file back under the other's bytes.
std::mutex& appendLock(int64_t job) {
  static std::mutex stripes[64];
  return stripes[static_cast<uint64_t>(job) % 64];
}

// A piece of the job's log from `offset`. What the server has already is acknowledged, not
// written twice; a gap is refused with the size the agent must resume from.
Response appendLog(const ApiContext& c, const Request& req, const store::AgentJob& held) {
  std::lock_guard serial(appendLock(held.id));
  auto fresh_ = c.store->getAgentJob(held.id);  // its size now that no other append runs
  if (!fresh_.ok() || fresh_->epoch != held.epoch || fresh_->state != "running")
    return errorResponse(409, "job " + std::to_string(held.id) + " is no longer yours");
  const store::AgentJob& j = *fresh_;
  std::optional<int64_t> offset;
  if (auto it = req.query.find("offset"); it != req.query.end()) {
    offset = it->second == "0" ? std::optional<int64_t>(0) : toId(it->second);
  }
  if (!offset) return errorResponse(400, "?offset=N");
  // A job whose run was cancelled hears it here too, at its next piece of log.
  auto sizeAnswer = [&j](int status, int64_t size) {
    return jsonResponse(
        status, "{\"size\":" + std::to_string(size) + (j.cancel ? ",\"cancel\":true" : "") + "}\n");
  };
  if (*offset > j.logSize) return sizeAnswer(409, j.logSize);
  int64_t end = *offset + static_cast<int64_t>(req.body.size());
  if (end <= j.logSize) return sizeAnswer(200, j.logSize);
  // Past --max-log-size the agent's bytes are acknowledged (it must not send them again) and
  // dropped, once a line has said so: the file holds the first bytes and that line.
  const int64_t max = c.maxLogBytes ? static_cast<int64_t>(c.maxLogBytes) : INT64_MAX;
  if (j.logSize <= max) {
    fs::path file = c.shared() / j.logPath;
    os::Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return errorResponse(500, "cannot write the log");
    // Bytes past the acknowledged size are a write a crash cut short: written again now.
    if (::ftruncate(fd.get(), j.logSize) != 0) return errorResponse(500, "cannot write the log");
    std::string fresh = req.body.substr(static_cast<size_t>(j.logSize - *offset));
    if (end > max) {
      fresh.resize(static_cast<size_t>(max - j.logSize));
      fresh += "\nboucle: this log reached its limit of " + std::to_string(max) +
               " bytes (the server's --max-log-size); the rest of the job's output is dropped\n";
    }
    size_t done = 0;
    while (done < fresh.size()) {
      ssize_t n = ::pwrite(fd.get(), fresh.data() + done, fresh.size() - done,
                           static_cast<off_t>(j.logSize) + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return errorResponse(500, "cannot write the log");
      done += static_cast<size_t>(n);
    }
    // Acknowledged bytes survive a crash of this server: the agent forgets them once told.
    ::fdatasync(fd.get());
  }
  auto st = c.store->growAgentLog(j.id, j.epoch, j.logSize, end);
  if (!st.ok() && st.message().starts_with("log_size ")) {
    // Another server took a piece meanwhile: the agent resumes from what is recorded.
    return sizeAnswer(409, std::stoll(st.message().substr(9)));
  }
  if (!st.ok()) return fromStatus(st);
  if (c.board) c.board->runChanged(j.runId);
  return sizeAnswer(200, end);
}

// Whether the job's agent may name this blob: one it uploaded for this job, or one the job was
// given (an artifact of a job it needs). Knowing a hash is not having the content: an agent
// cannot publish, then download through a later job, a blob of another project's.
bool jobsOwnBlob(const store::AgentJob& j, const std::string& sha) {
  if (std::find(j.uploads.begin(), j.uploads.end(), sha) != j.uploads.end()) return true;
  auto spec = scheduler::specFromJson(j.spec);
  return spec.ok() && std::any_of(spec->needed.begin(), spec->needed.end(),
                                  [&](const runner::ArtifactEntry& a) { return a.sha256 == sha; });
}

Response endJob(const ApiContext& c, const Request& req, const store::AgentJob& j) {
  auto report = scheduler::reportFromJson(req.body);
  if (!report.ok()) return fromStatus(report.status());
  if (static_cast<int64_t>(report->logSize) != j.logSize)
    return jsonResponse(409, "{\"size\":" + std::to_string(j.logSize) + "}\n");
  vault::BlobStore blobs(c.shared() / "blobs");
  for (auto& a : report->artifacts) {
    std::error_code ec;
    auto size = blobs.contains(a.sha256) ? fs::file_size(blobs.pathOf(a.sha256), ec) : 0;
    if (!blobs.contains(a.sha256) || ec || !jobsOwnBlob(j, a.sha256))
      return errorResponse(400, "artifact " + a.path + " (" + a.sha256 + ") was not uploaded");
    a.size = size;  // the server's word, not the agent's
  }
  auto st = c.store->endAgentJob(j.id, j.epoch, scheduler::reportToJson(*report), nowMs());
  if (!st.ok()) return fromStatus(st);
  if (c.board) c.board->runChanged(j.runId);
  return jsonResponse(200, "{}\n");
}

}  // namespace

namespace {

// An upload for a job: stored like any, then recorded as that job's (jobsOwnBlob).
class AgentUpload : public BodySink {
 public:
  AgentUpload(const ApiContext& c, store::AgentJob j, std::shared_ptr<BodySink> inner)
      : c_(c), job_(std::move(j)), inner_(std::move(inner)) {}
  bool write(std::string_view bytes) override { return inner_->write(bytes); }
  Response finish() override {
    Response r = inner_->finish();
    if (r.status != 201) return r;
    json stored = json::parse(r.body, nullptr, false);
    std::string sha = stored.is_object() ? stored.value("sha256", "") : "";
    if (auto st = c_.store->noteAgentUpload(job_.id, job_.epoch, sha); !st.ok())
      return fromStatus(st);
    return r;
  }

 private:
  const ApiContext& c_;
  store::AgentJob job_;
  std::shared_ptr<BodySink> inner_;
};

}  // namespace

// An artifact an agent uploads for a job it holds: refused before its body is read when the
// job is not its own; then streamed into the blob store like any upload.
std::shared_ptr<BodySink> openAgentUpload(const ApiContext& c, const Request& req,
                                          Response* refusal) {
  auto j = heldJob(c, req, {{"id", req.segments.size() > 3 ? req.segments[3] : ""}});
  if (!j.ok()) {
    *refusal = fromStatus(j.status());
    return nullptr;
  }
  if (!req.query.count("sha256")) {
    *refusal = errorResponse(400, "?sha256=HEX: the upload's hash, checked");
    return nullptr;
  }
  auto inner = openBlobUpload(c, req, refusal);
  if (!inner) return nullptr;
  return std::make_shared<AgentUpload>(c, std::move(j).value(), std::move(inner));
}

void addAgentRoutes(Router& r, const ApiContext& c) {
  r.add("POST", "/api/agent/poll", Access::kAgent,
        [&c](const Request& req, const Params&) { return poll(c, req); });
  r.add("GET", "/api/agent/jobs/{id}/source", Access::kAgent,
        [&c](const Request& req, const Params& p) {
          auto j = heldJob(c, req, p);
          return j.ok() ? source(c, *j) : fromStatus(j.status());
        });
  r.add("GET", "/api/agent/jobs/{id}/blobs/{sha256}", Access::kAgent,
        [&c](const Request& req, const Params& p) {
          auto j = heldJob(c, req, p);
          return j.ok() ? neededBlob(c, *j, p.at("sha256")) : fromStatus(j.status());
        });
  // Whether the server has, for this job, a blob already (one the job was given, or its agent
  // uploaded for it): that artifact is not sent again.
  r.add("GET", "/api/agent/jobs/{id}/blobs/{sha256}/present", Access::kAgent,
        [&c](const Request& req, const Params& p) {
          auto j = heldJob(c, req, p);
          if (!j.ok()) return fromStatus(j.status());
          vault::BlobStore blobs(c.shared() / "blobs");
          bool have = vault::isSha256Hex(p.at("sha256")) && blobs.contains(p.at("sha256")) &&
                      jobsOwnBlob(*j, p.at("sha256"));
          return have ? jsonResponse(200, "{}\n") : errorResponse(404, "no such blob");
        });
  r.add("POST", "/api/agent/jobs/{id}/blobs", Access::kAgent, [](const Request&, const Params&) {
    return errorResponse(400, "uploads are streamed: POST the file as the body");
  });
  r.add("POST", "/api/agent/jobs/{id}/log", Access::kAgent,
        [&c](const Request& req, const Params& p) {
          auto j = heldJob(c, req, p);
          return j.ok() ? appendLog(c, req, *j) : fromStatus(j.status());
        });
  r.add("POST", "/api/agent/jobs/{id}/end", Access::kAgent,
        [&c](const Request& req, const Params& p) {
          auto j = heldJob(c, req, p);
          return j.ok() ? endJob(c, req, *j) : fromStatus(j.status());
        });

  r.add("GET", "/api/agents", Access::kRead, [&c](const Request&, const Params&) {
    auto agents = c.store->listAgents();
    if (!agents.ok()) return fromStatus(agents.status());
    int64_t now = nowMs();
    json out = json::array();
    for (const auto& a : *agents) {
      bool online = now - a.seenAt <= leaseMs(c);
      out.push_back({{"name", a.name},
                     {"labels", a.labels},
                     {"version", a.version},
                     {"host", a.host},
                     {"capacity", a.capacity},
                     {"running", a.running},
                     {"seen_at", a.seenAt},
                     {"state", a.draining ? "draining"
                               : online   ? "online"
                                          : "offline"}});
    }
    return ok(200, out);
  });
  r.add("POST", "/api/agents/{name}/drain", Access::kAdmin,
        [&c](const Request& req, const Params& p) {
          json body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
          bool on = body.is_object() ? body.value("drain", true) : true;
          auto st = c.store->setAgentDraining(p.at("name"), on);
          if (!st.ok()) return fromStatus(st);
          store::AuditEntry e;
          e.at = nowMs();
          e.actor = req.actor;
          e.action = on ? "agent.drain" : "agent.resume";
          e.target = p.at("name");
          if (auto a = c.store->addAudit(e); !a.ok()) logError(a.message());
          return ok(200, {{"name", p.at("name")}, {"draining", on}});
        });
}

}  // namespace boucle::api
