#!/bin/bash
# Every benchmark, figures printed. usage: bench/run.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build-release}
cd "$(dirname "$0")/.."
echo "== micro-benchmarks (Google Benchmark)"
"$BUILD/boucle_bench" --benchmark_min_time=0.2
echo
echo "== job overhead"
./bench/job_overhead.sh "$BUILD" 200
echo
echo "== 100 MB of log"
./bench/big_log.sh "$BUILD" 100
echo
echo "== the server"
./bench/server.sh "$BUILD" 200
/usr/bin/python3 bench/server_memory.py "$BUILD/boucle"
echo
echo "== artifacts"
./bench/artifacts.sh "$BUILD" 300
echo
echo "== ssh deploy (root: makes network namespaces)"
./bench/ssh_deploy.sh "$BUILD" 50 5
echo
echo "== the web UI"
./bench/ui.sh "$BUILD"
echo
echo "== monitors"
/usr/bin/python3 bench/monitors.py "$BUILD/boucle" 1000 60
echo
echo "== live events"
/usr/bin/python3 bench/events.py "$BUILD/boucle" 1000 100
echo
echo "== remote agents: 10,000 jobs drained by 1/2/4/8 agents, RSS with 100 idle ones (root)"
/usr/bin/python3 bench/agents.py "$BUILD/boucle" 10000 100
echo
echo "== two servers: a job queued by one, claimed by an agent polling the other"
/usr/bin/python3 bench/servers.py "$BUILD/boucle" 100
echo
echo "== people and pull requests: a sign-in, a request by session or token, a request's runs"
/usr/bin/python3 bench/people.py "$BUILD/boucle" 20
echo
echo "== store operations per second: SQLite, PostgreSQL"
./bench/store.sh "$BUILD"
echo
echo "== the sandbox's start: true alone, in bwrap, in bwrap with every namespace"
/usr/bin/python3 bench/sandbox_start.py 50
echo "== footprint: every process of the server, idle, after a 500-job run, a quiet minute later"
/usr/bin/python3 bench/footprint.py "$BUILD/boucle" 500
