#include "api/router.h"

namespace boucle::api {

namespace {
std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           Params* params) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      (*params)[p.substr(1, p.size() - 2)] = path[i];
    } else if (p != path[i]) {
      return false;
    }
  }
  return true;
}
}  // namespace

void Router::add(const std::string& method, const std::string& pattern, Access access,
                 RouteHandler handler) {
  routes_.push_back({method, segments(pattern), access, std::move(handler)});
}

const Router::Route* Router::find(const Request& req, Params* params, std::string* allowed) const {
  const std::string& method = req.method == "HEAD" ? std::string("GET") : req.method;
  for (const auto& r : routes_) {
    Params p;
    if (!match(r.parts, req.segments, &p)) continue;
    if (r.method == method) {
      *params = std::move(p);
      return &r;
    }
    if (!allowed->empty()) *allowed += ", ";
    *allowed += r.method;
  }
  return nullptr;
}

std::optional<Access> Router::accessFor(const Request& req) const {
  Params params;
  std::string allowed;
  const Route* r = find(req, &params, &allowed);
  if (!r) return std::nullopt;
  return r->access;
}

Response Router::dispatch(const Request& req, const Gate& gate) const {
  Params params;
  std::string allowed;
  const Route* route = find(req, &params, &allowed);
  if (!route) {
    if (allowed.empty()) return errorResponse(404, "no such resource: " + req.path);
    if (allowed.find("GET") != std::string::npos) allowed += ", HEAD";
    Response res =
        errorResponse(405, req.method + " is not allowed here (allowed: " + allowed + ")");
    res.headers.emplace_back("Allow", allowed);
    return res;
  }
  Request admitted = req;
  if (auto refusal = gate(route->access, admitted)) return *refusal;
  return route->handler(admitted, params);
}

}  // namespace boucle::api
