#!/bin/bash
# Store operations per second, SQLite against PostgreSQL: one run's life in the store (queued,
# claimed, two jobs recorded, finished, read back: 9 operations) over and over, on this
# machine's disk. The PostgreSQL server is a fresh one in a temp folder, reached over its Unix
# socket, first with its default durability (every commit waits for its WAL fsync), then with
# synchronous_commit=off, which is what SQLite's WAL with synchronous=NORMAL does (a crash of
# the machine may lose the last commits; a crash of the server loses nothing).
# usage: bench/store.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build-release}
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/boucle-bench-pg-XXXXXX)
trap 'tests/pg_cluster.sh stop "$dir"' EXIT
url=$(PG_DURABLE=1 tests/pg_cluster.sh start "$dir")
psql -q -X "$url" -c "CREATE DATABASE bench"
db="postgres://boucle@/bench?host=$dir"
echo "-- SQLite, and PostgreSQL with synchronous_commit=on (its default)"
BOUCLE_BENCH_PG="$db" "$BUILD/boucle_bench" --benchmark_filter='StoreRunCycle' \
  --benchmark_min_time=2
echo "-- PostgreSQL with synchronous_commit=off"
BOUCLE_BENCH_PG="$db&options=-c%20synchronous_commit%3Doff" "$BUILD/boucle_bench" \
  --benchmark_filter='StoreRunCyclePostgres' --benchmark_min_time=2
