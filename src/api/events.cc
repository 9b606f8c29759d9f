#include "api/events.h"

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/encoding.h"
#include "deploy/verify.h"

namespace boucle::api {

using nlohmann::json;

namespace {

constexpr size_t kPiece = 64 * 1024;
constexpr auto kKeepAlive = std::chrono::seconds(15);
// A stream ends after this, between two events: its client reconnects with Last-Event-ID and
// loses nothing, and its token is checked again (a revoked one reads no more).
constexpr auto kLifetime = std::chrono::minutes(15);
// Reasons can be long (a failure's text): an event carries the start, the API the rest.
constexpr size_t kReasonCut = 300;

struct Entry {
  uint64_t id;
  std::string project;
  std::string frame;  // "id: …\nevent: …\ndata: …\n\n"
};

json orNull(const std::optional<int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

struct EventHub::State {
  mutable std::mutex mu;  // guards everything below
  size_t keep = 1024;
  std::deque<Entry> ring;  // ids contiguous, oldest first
  // Ids go on from one server process to the next (they start at the start time), so a client
  // that reconnects after a restart is told to reload, not handed someone else's events.
  uint64_t nextId = static_cast<uint64_t>(nowMs()) * 1000;
  uint64_t nextSubscriber = 1;
  std::map<uint64_t, std::function<void()>> waiting;  // each subscriber's one wake-up

  uint64_t first() const { return ring.empty() ? nextId : ring.front().id; }
};

namespace {

class EventStream : public BodyStream {
 public:
  EventStream(std::shared_ptr<EventHub::State> s, std::string project, uint64_t position,
              bool reset)
      : s_(std::move(s)), project_(std::move(project)), position_(position), reset_(reset) {
    std::lock_guard lock(s_->mu);
    id_ = s_->nextSubscriber++;
  }
  ~EventStream() override {
    std::lock_guard lock(s_->mu);
    s_->waiting.erase(id_);
  }

  Piece next() override {
    Piece p;
    p.retryMs = 15'000;
    if (!greeted_) {
      // How long a browser's EventSource waits before it reconnects.
      p.data = "retry: 3000\n\n";
      greeted_ = true;
    }
    {
      std::lock_guard lock(s_->mu);
      uint64_t first = s_->first();
      if (reset_ || position_ + 1 < first) {
        // What it missed is no longer held: it reloads, and goes on from the newest.
        p.data += "event: reset\ndata: {}\n\n";
        position_ = s_->nextId - 1;
        reset_ = false;
      }
      for (size_t i = position_ + 1 - first; i < s_->ring.size() && p.data.size() < kPiece; ++i) {
        const Entry& e = s_->ring[i];
        if (project_.empty() || e.project == project_) p.data += e.frame;
        position_ = e.id;
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (p.data.empty() && now - openedAt_ >= kLifetime) {
      p.done = true;
      return p;
    }
    if (p.data.empty() && now - lastSent_ >= kKeepAlive) {
      // With the id it has read up to: a client of a quiet project resumes from there, not
      // from an id the ring has long dropped.
      std::lock_guard lock(s_->mu);
      p.data = "id: " + std::to_string(position_) + "\n: keep-alive\n\n";
    }
    if (!p.data.empty()) lastSent_ = now;
    return p;
  }

  bool onMore(std::function<void()> wake) override {
    {
      std::lock_guard lock(s_->mu);
      if (position_ + 1 >= s_->nextId) {
        s_->waiting[id_] = std::move(wake);
        return true;
      }
    }
    wake();  // something came since the last next()
    return true;
  }

 private:
  std::shared_ptr<EventHub::State> s_;
  std::string project_;
  uint64_t position_;  // the last event id looked at
  bool reset_;
  uint64_t id_ = 0;
  bool greeted_ = false;
  std::chrono::steady_clock::time_point lastSent_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point openedAt_ = std::chrono::steady_clock::now();
};

}  // namespace

EventHub::EventHub(size_t keep) : state_(std::make_shared<State>()) {
  state_->keep = std::max<size_t>(1, keep);
}

EventHub::~EventHub() = default;

void EventHub::publish(std::string_view type, std::string_view project, const std::string& data) {
  deliver(type, project, data);
  if (relay_) relay_(type, project, data);
}

void EventHub::deliver(std::string_view type, std::string_view project, const std::string& data) {
  std::map<uint64_t, std::function<void()>> wake;
  {
    std::lock_guard lock(state_->mu);
    uint64_t id = state_->nextId++;
    std::string frame;
    frame.reserve(data.size() + type.size() + 40);
    frame += "id: " + std::to_string(id) + "\nevent: ";
    frame += type;
    frame += "\ndata: " + data + "\n\n";
    state_->ring.push_back({id, std::string(project), std::move(frame)});
    if (state_->ring.size() > state_->keep) state_->ring.pop_front();
    wake.swap(state_->waiting);
  }
  for (auto& [id, fn] : wake) fn();
}

std::shared_ptr<BodyStream> EventHub::subscribe(std::string project,
                                                std::optional<uint64_t> lastId) {
  uint64_t position = 0;
  bool reset = false;
  {
    std::lock_guard lock(state_->mu);
    uint64_t newest = state_->nextId - 1;
    // An id this server never gave (another process's, or from the future) or one no longer
    // held: reload.
    bool known = lastId && *lastId <= newest && *lastId + 1 >= state_->first();
    position = known ? *lastId : newest;
    reset = lastId && !known;
  }
  return std::make_shared<EventStream>(state_, std::move(project), position, reset);
}

namespace {

std::string line(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

void EventHub::runChanged(const store::Run& r) {
  publish("run", r.project,
          line({{"id", r.id},
                {"project", r.project},
                {"number", r.number},
                {"branch", r.branch},
                {"commit", r.commit},
                {"trigger", r.trigger},
                {"state", store::toString(r.state)},
                {"reason", cutUtf8(r.reason, kReasonCut)},
                {"event", r.event},
                {"queued_at_ms", r.queuedAt},
                {"started_at_ms", orNull(r.startedAt)},
                {"finished_at_ms", orNull(r.finishedAt)}}));
}

void EventHub::jobChanged(std::string_view project, const store::JobRecord& j) {
  publish("job", project,
          line({{"project", project},
                {"run_id", j.runId},
                {"name", j.name},
                {"state", j.state},
                {"attempts", j.attempts},
                {"exit_code", j.exitCode},
                {"started_at_ms", orNull(j.startedAt)},
                {"finished_at_ms", orNull(j.finishedAt)}}));
}

void EventHub::deployChanged(const store::Deploy& d) {
  publish("deploy", d.project,
          line({{"id", d.id},
                {"project", d.project},
                {"env", d.env},
                {"version", d.version},
                {"state", store::toString(d.state)},
                {"reason", cutUtf8(d.reason, kReasonCut)},
                {"rollback", d.rollback},
                {"dry_run", d.dryRun},
                {"verifying", deploy::underVerification(d)},
                {"requested_by", d.requestedBy},
                {"finished_at_ms", orNull(d.finishedAt)}}));
}

void EventHub::incidentChanged(const store::Incident& i) {
  publish("incident", i.project,
          line({{"id", i.id},
                {"project", i.project},
                {"env", i.env},
                {"state", i.state},
                {"title", cutUtf8(i.title, kReasonCut)},
                {"monitor", i.monitor},
                {"source", i.source},
                {"opened_at_ms", i.openedAt},
                {"resolved_at_ms", orNull(i.resolvedAt)}}));
}

void EventHub::monitorChanged(const monitor::ProbeStatus& s) {
  publish("monitor", s.project,
          line({{"project", s.project},
                {"env", s.env},
                {"monitor", s.monitor},
                {"host", s.host},
                {"release", s.release},
                {"state", monitor::stateOf(s)},
                {"verdict", monitor::toString(s.verdict)},
                {"at_ms", s.atMs},
                {"latency_ms", s.latencyMs},
                {"detail", cutUtf8(s.detail, kReasonCut)},
                {"incident_id", orNull(s.incidentId)}}));
}

}  // namespace boucle::api
