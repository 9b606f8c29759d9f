#pragma once
// What every route file shares: JSON answers and the mapping of a Status to an HTTP status.
// Only route files include this (nlohmann/json is heavy to compile).

#include <nlohmann/json.hpp>

#include "api/http.h"
#include "api/router.h"
#include "api/routes.h"
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

inline Response ok(int status, const nlohmann::json& j) {
  return jsonResponse(status, j.dump() + "\n");
}

// Each file of routes adds its own (release_routes.cc, …).
void addReleaseRoutes(Router& r, const ApiContext& c);
void addDeployRoutes(Router& r, const ApiContext& c);

}  // namespace boucle::api
