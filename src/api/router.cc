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

void Router::add(const std::string& method, const std::string& pattern, RouteHandler handler) {
  routes_.push_back({method, segments(pattern), std::move(handler)});
}

Response Router::dispatch(const Request& req) const {
  const auto& path = req.segments;
  std::string allowed;
  for (const auto& r : routes_) {
    Params params;
    if (!match(r.parts, path, &params)) continue;
    if (r.method == req.method) return r.handler(req, params);
    if (!allowed.empty()) allowed += ", ";
    allowed += r.method;
  }
  if (allowed.empty()) return errorResponse(404, "no such resource: " + req.path);
  Response res = errorResponse(405, req.method + " is not allowed here (allowed: " + allowed + ")");
  res.headers.emplace_back("Allow", allowed);
  return res;
}

}  // namespace boucle::api
