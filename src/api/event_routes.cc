// GET /api/events: the live events (api/events.h) as Server-Sent Events, all projects' or one's.
#include <charconv>

#include "api/route_helpers.h"

namespace boucle::api {

namespace {

std::optional<uint64_t> parseId(const std::string& text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

void addEventRoutes(Router& r, const ApiContext& c) {
  r.add("GET", "/api/events", Access::kRead, [&c](const Request& req, const Params&) {
    if (!c.events) return errorResponse(404, "this server has no live events");
    std::string project;
    if (auto it = req.query.find("project"); it != req.query.end()) {
      project = it->second;
      if (auto p = c.store->getProject(project); !p.ok()) return fromStatus(p.status());
    }
    // A browser's EventSource sends the header when it reconnects; fetch() readers may use
    // either.
    std::string last = req.header("last-event-id");
    if (auto it = req.query.find("last_event_id"); last.empty() && it != req.query.end())
      last = it->second;
    std::optional<uint64_t> lastId;
    if (!last.empty()) {
      lastId = parseId(last);
      if (!lastId) return errorResponse(400, "Last-Event-ID: expected a number");
    }
    Response res;
    res.contentType = "text/event-stream";
    res.stream = c.events->subscribe(project, lastId);
    res.headers.emplace_back("X-Accel-Buffering", "no");  // nginx: pass each event on at once
    return res;
  });
}

}  // namespace boucle::api
