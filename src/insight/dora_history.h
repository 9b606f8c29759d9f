#pragma once
// The rows DORA's figures are counted from, read from the store: an environment's deploys,
// the commits each brought there first (from its releases' change lists), when each commit
// was first built. Kept apart from dora.h, which only counts.

#include <cstdint>
#include <string>

#include "core/status.h"
#include "insight/dora.h"
#include "store/store.h"

namespace boucle::insight {

// `env` of `project` over [fromMs, toMs), its incidents included.
Result<DoraReport> doraOf(store::Store& store, const std::string& project, const std::string& env,
                          int64_t fromMs, int64_t toMs);

}  // namespace boucle::insight
