// A request target from anywhere, decoded and routed: no crash, and a decoded "/" never makes
// a segment of its own (it cannot change which route answers).
#include <cstdint>
#include <string>

#include "api/request_target.h"
#include "api/router.h"

using namespace boucle::api;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Router router = [] {
    Router r;
    auto ok = [](const Request&, const Params& p) {
      std::string all;
      for (const auto& [k, v] : p) all += k + "=" + v + ";";
      return jsonResponse(200, all);
    };
    r.add("GET", "/api/runs/{id}/jobs/{job}/log", Access::kRead, ok);
    r.add("GET", "/api/projects/{name}", Access::kRead, ok);
    r.add("POST", "/hooks/{forge}/{project}", Access::kPublic, ok);
    r.add("GET", "/", Access::kPublic, ok);
    return r;
  }();
  std::string target(reinterpret_cast<const char*>(data), size);
  Request req;
  req.method = size > 0 && data[0] % 2 ? "POST" : "GET";
  if (!parseTarget(target, req)) return 0;
  size_t slashes = 0;
  for (char ch : req.path) slashes += ch == '/';
  if (req.segments.size() > slashes) __builtin_trap();
  Gate admit = [](Access, Request&) -> std::optional<Response> { return std::nullopt; };
  Response r = router.dispatch(req, admit);
  if (r.status != 200 && r.status != 404 && r.status != 405) __builtin_trap();
  return 0;
}
