#pragma once
// For tests: a real PostgreSQL server (tests/pg_cluster.sh), one per test process, or the one
// ctest started for the whole suite (BOUCLE_TEST_PG names its folder). Each caller gets a
// database of its own.

#include <string>

#include "core/status.h"

namespace boucle::store::postgres {

// The URL of a new, empty database on the test cluster, starting the cluster at the first
// call (stopped when the process exits).
Result<std::string> newTestDatabase();

}  // namespace boucle::store::postgres
