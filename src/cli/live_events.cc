#include "cli/live_events.h"

#include <fmt/core.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "core/duration.h"

namespace boucle::cli {

using nlohmann::json;

namespace {

bool finished(const std::string& state) {
  return state != "queued" && state != "running" && !state.empty();
}

std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

int64_t number(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<int64_t>() : 0;
}

class RunFollower {
 public:
  RunFollower(const ClientArgs& a, int64_t id) : a_(a), id_(id) {}

  // The run as the API has it now (at the start, and after a reset): what the events before
  // the stream began would have said.
  bool catchUp() {
    int code = 0;
    auto jobs = call(a_, "GET", "/api/runs/" + std::to_string(id_), nullptr, &code);
    if (!jobs) {
      exit_ = code ? code : kExitFailed;
      return false;
    }
    if (jobs->contains("jobs") && (*jobs)["jobs"].is_array()) {
      for (const auto& j : (*jobs)["jobs"]) job(j);
    }
    return run(*jobs);
  }

  // False once the run has ended.
  bool onEvent(const SseEvent& e) {
    if (e.type == "reset") return catchUp();
    json data = json::parse(e.data, nullptr, false);
    if (!data.is_object()) return true;
    if (e.type == "job" && number(data, "run_id") == id_) job(data);
    if (e.type == "run" && number(data, "id") == id_) return run(data);
    return true;
  }

  int exitCode() const { return exit_; }

 private:
  void job(const json& j) {
    std::string name = text(j, "name"), state = text(j, "state");
    if (name.empty() || state.empty() || state == "pending" || seen_[name] == state) return;
    seen_[name] = state;
    std::string took;
    if (finished(state) && j.contains("started_at_ms") && j["started_at_ms"].is_number() &&
        j.contains("finished_at_ms") && j["finished_at_ms"].is_number()) {
      took =
          "  " + formatDuration(Millis(number(j, "finished_at_ms") - number(j, "started_at_ms")));
    }
    fmt::print("  {:<20} {}{}\n", name, state, took);
    std::fflush(stdout);
  }

  bool run(const json& r) {
    std::string state = text(r, "state");
    if (!finished(state)) return true;
    std::string reason = text(r, "reason");
    fmt::print("run {} {}{}\n", id_, state, reason.empty() ? "" : ": " + reason);
    exit_ = state == "passed" ? kExitOk : kExitFailed;
    return false;
  }

  const ClientArgs& a_;
  int64_t id_;
  std::map<std::string, std::string> seen_;
  int exit_ = kExitFailed;
};

}  // namespace

int followRun(const ClientArgs& a, const std::string& project, int64_t runId) {
  auto e = endpointFrom(a.server, a.token);
  if (!e.ok()) {
    fmt::print(stderr, "boucle: {}\n", e.status().message());
    return kExitUsage;
  }
  RunFollower follower(a, runId);
  std::string lastId;
  bool ended = false, refused = false;
  // The server ends a stream now and then (its tokens are checked again): open it again from
  // the last id, and nothing is missed.
  while (!ended) {
    SseParser parser;
    bool caughtUp = false;
    auto opened = std::chrono::steady_clock::now();
    std::string target = "/api/events?project=" + urlEncode(project);
    if (!lastId.empty()) target += "&last_event_id=" + urlEncode(lastId);
    auto r = httpStream(*e, target, [&](std::string_view p) {
      // The first piece says the stream is open: whatever happened before it, the run's record
      // says.
      if (!caughtUp) {
        caughtUp = true;
        if (!follower.catchUp()) return !(ended = true);
      }
      bool more =
          parser.feed(p, [&](const SseEvent& ev) { return !(ended = !follower.onEvent(ev)); });
      if (!parser.lastId().empty()) lastId = parser.lastId();
      refused = !more && !ended;  // a frame the parser would not hold
      return more;
    });
    if (!r.ok()) {
      fmt::print(stderr, "boucle: {}\n", r.status().message());
      return kExitFailed;
    }
    if (*r >= 400) {
      fmt::print(stderr, "boucle: the server refused its live events (HTTP {})\n", *r);
      return kExitFailed;
    }
    if (ended) break;
    if (refused) {
      fmt::print(stderr, "boucle: the server sent an event too large to read\n");
      return kExitFailed;
    }
    // Ended by the server: the record says whether the run ended meanwhile.
    if (!follower.catchUp()) return follower.exitCode();
    if (std::chrono::steady_clock::now() - opened < std::chrono::seconds(1))
      std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return follower.exitCode();
}

}  // namespace boucle::cli
