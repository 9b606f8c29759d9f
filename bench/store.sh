#!/bin/bash
# Store operations per second, SQLite against PostgreSQL: one run's life in the store (queued,
# claimed, two jobs recorded, finished, read back) over and over, on this machine's disk. The
# PostgreSQL server is a fresh one in a temp folder with its default durability (fsync and
# synchronous commit on), reached over its Unix socket.
# usage: bench/store.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build-release}
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/boucle-bench-pg-XXXXXX)
trap 'tests/pg_cluster.sh stop "$dir"' EXIT
url=$(PG_DURABLE=1 tests/pg_cluster.sh start "$dir")
psql -q -X "$url" -c "CREATE DATABASE bench"
BOUCLE_BENCH_PG="postgres://boucle@/bench?host=$dir" "$BUILD/boucle_bench" \
  --benchmark_filter='StoreRunCycle' --benchmark_min_time=2
