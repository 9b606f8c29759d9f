#pragma once
// Routes by method and path pattern ("/api/runs/{id}/jobs/{job}/log"); every route is
// registered explicitly in one place (routes.cc).

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http.h"

namespace boucle::api {

using Params = std::map<std::string, std::string>;
using RouteHandler = std::function<Response(const Request&, const Params&)>;

class Router {
 public:
  void add(const std::string& method, const std::string& pattern, RouteHandler handler);
  // Routes on req.segments (decoded one by one: "%2F" never makes a new segment).
  // 404 for an unknown path, 405 (with Allow) for a known path and another method.
  Response dispatch(const Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> parts;  // "{name}" parts capture one path segment
    RouteHandler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace boucle::api
