#pragma once
// What every route file shares: JSON answers and the mapping of a Status to an HTTP status.
// Only route files include this (nlohmann/json is heavy to compile).

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/http.h"
#include "api/router.h"
#include "api/routes.h"
#include "auth/roles.h"
#include "core/status.h"

namespace boucle::api {

inline Response fromStatus(const Status& st) {
  switch (st.code()) {
    case Code::kNotFound:
      return errorResponse(404, st.message());
    case Code::kConflict:
      return errorResponse(409, st.message());
    case Code::kInvalid:
      return errorResponse(400, st.message());
    case Code::kUnauthorized:
      return errorResponse(403, st.message());
    default:
      return errorResponse(500, "internal error");
  }
}

inline auth::Principal principalOf(const Request& r) {
  return {r.actor, r.roles};
}

// Texts from git and from jobs (commit messages, file names, test names) need not be UTF-8:
// what is not is replaced, never thrown on (every dump of them does the same).
inline Response ok(int status, const nlohmann::json& j) {
  return jsonResponse(status,
                      j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

inline nlohmann::json optMs(const std::optional<int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// A positive id from a path segment or query value ("12abc" is not one).
inline std::optional<int64_t> toId(const std::string& s) {
  try {
    size_t used = 0;
    long long v = std::stoll(s, &used);
    if (used == s.size() && v > 0) return v;
  } catch (...) {
  }
  return std::nullopt;
}

// ?limit=N (1 to 1000), `otherwise` when absent; nullopt when malformed.
inline std::optional<int> limitOf(const Request& req, int otherwise) {
  auto it = req.query.find("limit");
  if (it == req.query.end()) return otherwise;
  auto v = toId(it->second);
  if (!v || *v > 1000) return std::nullopt;
  return static_cast<int>(*v);
}

// Records who did what (the request's actor). A failure is the request's: it answers 500 and
// the error is logged, never dropped (the change itself is already made).
std::optional<Response> audited(store::Store& store, const Request& req, const std::string& action,
                                const std::string& project, const std::string& target,
                                const std::string& detail);

// A run as the API shows it; with the store, who broke its branch (looked up once per run in
// `cache` when listing many).
using RunCache = std::map<int64_t, std::optional<store::Run>>;
nlohmann::json runJson(const store::Run& r, store::Store* store = nullptr,
                       RunCache* cache = nullptr);

// An upload into the blob store, its body streamed into the returned sink (null with
// `*refusal` set when it cannot be taken).
std::shared_ptr<BodySink> openBlobUpload(const ApiContext& ctx, const Request& req,
                                         Response* refusal);

// Each file of routes adds its own (release_routes.cc, …).
void addProjectRoutes(Router& r, const ApiContext& c);
void addRunRoutes(Router& r, const ApiContext& c);
void addBlobRoutes(Router& r, const ApiContext& c);
void addAccessRoutes(Router& r, const ApiContext& c);
void addPeopleRoutes(Router& r, const ApiContext& c);
void addReleaseRoutes(Router& r, const ApiContext& c);
void addUiRoutes(Router& r, const ApiContext& c);
void addDeployRoutes(Router& r, const ApiContext& c);
void addDoraRoutes(Router& r, const ApiContext& c);
void addIncidentRoutes(Router& r, const ApiContext& c);
void addMonitorRoutes(Router& r, const ApiContext& c);
void addMetricsRoutes(Router& r, const ApiContext& c);
void addEventRoutes(Router& r, const ApiContext& c);
void addAgentRoutes(Router& r, const ApiContext& c);
void addTestRoutes(Router& r, const ApiContext& c);
std::shared_ptr<BodySink> openAgentUpload(const ApiContext& ctx, const Request& req,
                                          Response* refusal);

}  // namespace boucle::api
