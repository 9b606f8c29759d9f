#pragma once
// Routes by method and path pattern ("/api/runs/{id}/jobs/{job}/log"). Each route declares who
// may call it where it is registered; the router asks a gate to admit the request before the
// handler runs, so no route is reachable without its rule, and the rule sits beside it.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/http.h"

namespace boucle::api {

// Who may call a route.
enum class Access {
  kPublic,   // anyone: health, badges, the web UI's files, forge hooks (they carry a signature)
  kMetrics,  // GET /metrics: any valid token, a `metrics` one included (and anyone with
             // --public-read)
  kRead,     // any valid token but a metrics-only one (anyone, on a server started with
             // --public-read)
  kChange,   // a token with a role beyond viewer; deploys then apply the environment's rules
  kAdmin,    // the server's setup: tokens, projects, credentials, environment values, secrets
  kAgent,    // a remote agent's work (/api/agent/*): tokens with the `agent` role only
};

using Params = std::map<std::string, std::string>;
using RouteHandler = std::function<Response(const Request&, const Params&)>;
// Admits a request to a route of the given access, filling in who it is (actor, roles), or
// answers for it (401, 403).
using Gate = std::function<std::optional<Response>(Access, Request&)>;

class Router {
 public:
  void add(const std::string& method, const std::string& pattern, Access access,
           RouteHandler handler);
  // Routes on req.segments (decoded one by one: "%2F" never makes a new segment); HEAD is
  // answered by the GET route. 404 for an unknown path, 405 (with Allow) for a known path and
  // another method; else the gate's refusal, or the handler's answer.
  Response dispatch(const Request& req, const Gate& gate) const;
  // The access a request would need (nullopt: no route takes it), so that a caller can admit
  // a request before its body is read.
  std::optional<Access> accessFor(const Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> parts;  // "{name}" parts capture one path segment
    Access access;
    RouteHandler handler;
  };
  const Route* find(const Request& req, Params* params, std::string* allowed) const;
  std::vector<Route> routes_;
};

}  // namespace boucle::api
