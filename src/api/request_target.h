#pragma once
// A request's target ("/api/runs/12/jobs/a%2Fb/log?follow=1") into the Request's path,
// segments and query, each decoded on its own: "%2F" stays inside its segment and can never
// make a new one, so it cannot change which route answers. Kept apart from the server (Beast)
// so that it is unit-tested and fuzzed alone.

#include <string_view>

#include "api/http.h"

namespace boucle::api {

// False for a malformed target (not origin-form).
bool parseTarget(std::string_view target, Request& req);

}  // namespace boucle::api
