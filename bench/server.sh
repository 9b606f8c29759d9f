#!/bin/bash
# The server's figures: start-up to healthy, idle RSS, webhook -> job started (p50/p99),
# a 1,000-job run through the server, and wrk on the badge and the runs list.
#   usage: bench/server.sh BUILD_DIR [PUSHES]
set -euo pipefail
BUILD=${1:-build-release}
PUSHES=${2:-100}
BOUCLE=$(cd "$BUILD" && pwd)/boucle
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d -t boucle-sbench.XXXXXX)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
SECRET=bench-secret
mkdir -p "$T/repo" "$T/starts"

start_server() {
  local t0 t1
  t0=$(date +%s%N)
  "$BOUCLE" server --data "$T/data" --listen 127.0.0.1:0 > "$T/server.log" 2>&1 &
  SERVER_PID=$!
  until grep -q "listening on" "$T/server.log" 2>/dev/null; do sleep 0.001; done
  PORT=$(grep -o "127.0.0.1:[0-9]*" "$T/server.log" | head -1 | cut -d: -f2)
  until curl -fs "http://127.0.0.1:$PORT/api/health" >/dev/null; do sleep 0.001; done
  t1=$(date +%s%N)
  echo "start-up to healthy: $(( (t1 - t0) / 1000000 )) ms (includes the shell's polling)"
}

start_server
TOKEN=$(cat "$T/data/initial-admin-token")
export BOUCLE_SERVER=http://127.0.0.1:$PORT BOUCLE_TOKEN=$TOKEN
echo "idle RSS: $(( $(grep VmRSS /proc/$SERVER_PID/status | awk '{print $2}') / 1024 )) MB"

# webhook -> job started: each push is a new commit; the job marks itself (bench/webhook_latency.py
# explains how it measures). The mark is made outside the job's sandbox, so the job runs as a
# plain process (an admin's choice for the project): these figures leave out the sandbox's start.
cd "$T/repo"
git init -q -b main
cat > .boucle.yml <<YML
version: 1
jobs:
  mark: {run: 'touch $T/starts/\$BOUCLE_COMMIT', checkout: false, isolation: process}
YML
git -c user.name=b -c user.email=b@b add -A
git -c user.name=b -c user.email=b@b commit -q -m c0
"$BOUCLE" project add bench "$T/repo" --poll 0 --webhook-secret "$SECRET" --allow-process-jobs \
  > /dev/null
/usr/bin/python3 "$HERE/webhook_latency.py" "$PORT" "$TOKEN" "$SECRET" bench "$T/repo" \
  "$T/starts" "$PUSHES"
p() { sed -n "$(( ($(wc -l < "$T/sorted") * $1 + 99) / 100 ))p" "$T/sorted"; }

# The same without a fetch that brings anything: manual triggers of the head already mirrored,
# from the run's queued_at to its job's started_at, as the server recorded them.
for i in $(seq 20); do
  id=$("$BOUCLE" trigger bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  until "$BOUCLE" status bench --json -n 1 | grep -q '"state": "passed"'; do sleep 0.01; done
  curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/runs/$id" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["jobs"][0]["started_at_ms"]-r["queued_at_ms"])'
done | sort -n > "$T/sorted"
echo "trigger -> job started, nothing new to fetch, 20 runs: p50 $(p 50) ms, max $(tail -1 "$T/sorted") ms"

# One run of 1,000 trivial jobs through the server (agent, store, logs), two at a time.
mkdir -p "$T/big" && cd "$T/big" && git init -q -b main
{ echo "jobs:"; for i in $(seq 1000); do echo "  j$i: {run: 'true', checkout: false}"; done; } > .boucle.yml
git -c user.name=b -c user.email=b@b add -A && git -c user.name=b -c user.email=b@b commit -q -m big
"$BOUCLE" project add big "$T/big" --poll 0 > /dev/null
id=$("$BOUCLE" trigger big --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
until "$BOUCLE" status big --json | python3 -c "import json,sys; r=[x for x in json.load(sys.stdin)['runs'] if x['id']==$id][0]; sys.exit(0 if r['state'] in ('passed','failed') else 1)"; do sleep 0.2; done
"$BOUCLE" status big --json | python3 -c "
import json,sys
r=[x for x in json.load(sys.stdin)['runs'] if x['id']==$id][0]
ms=r['finished_at_ms']-r['started_at_ms']
print(f\"1,000 jobs in one run, 2 at a time: {ms} ms, {1000*1000/ms:.0f} jobs/s ({r['state']})\")"

# One at a time: a chain of 500 trivial jobs, each needing the one before, so each is queued
# the moment the previous one ends; queue -> done is the time between two ends.
mkdir -p "$T/chain" && cd "$T/chain" && git init -q -b main
{ echo "jobs:"; echo "  j1: {run: 'true', checkout: false}"
  for i in $(seq 2 500); do echo "  j$i: {run: 'true', checkout: false, needs: [j$((i - 1))]}"; done
} > .boucle.yml
git -c user.name=b -c user.email=b@b add -A && git -c user.name=b -c user.email=b@b commit -q -m chain
"$BOUCLE" project add chain "$T/chain" --poll 0 > /dev/null
id=$("$BOUCLE" trigger chain --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
until curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/runs/$id" |
  python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["state"] in ("passed","failed") else 1)'; do
  sleep 0.2
done
curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/runs/$id" | python3 -c '
import json,sys
r=json.load(sys.stdin)
ends=sorted(j["finished_at_ms"] for j in r["jobs"])
gaps=sorted(b-a for a,b in zip(ends, ends[1:]))
state=r["state"]
print(f"500 chained jobs, one at a time: queue -> done p50 {gaps[len(gaps)//2]} ms, "
      f"p99 {gaps[len(gaps)*99//100]} ms, {len(ends)*1000/(ends[-1]-ends[0]):.0f} jobs/s ({state})")'

if command -v wrk > /dev/null; then
  echo "wrk -t2 -c64 -d5s:"
  echo "badge:"
  wrk -t2 -c64 -d5s --latency "http://127.0.0.1:$PORT/badge/bench/main.svg" | grep -E "Requests/sec|^ +99%"
  echo "/api/runs?limit=20 with a token:"
  wrk -t2 -c64 -d5s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/runs?limit=20" | grep -E "Requests/sec|^ +99%"
  # The web UI's files on a kept-alive connection, as a browser asks for them (one at a time,
  # compressed): a header and a file in two writes used to wait 40 ms for a delayed ACK.
  ASSET=$(ls "$(dirname "$0")/../ui/dist/assets/" 2>/dev/null | grep -E '\.js$' | head -1)
  for path in / "/assets/$ASSET"; do
    echo "$path, one connection (wrk -t1 -c1), Accept-Encoding: br:"
    wrk -t1 -c1 -d5s --latency -H "Accept-Encoding: gzip, br" "http://127.0.0.1:$PORT$path" | grep -E "Requests/sec|^ +50%|^ +99%"
  done
  echo "/, wrk -t2 -c64:"
  wrk -t2 -c64 -d5s --latency -H "Accept-Encoding: gzip, br" "http://127.0.0.1:$PORT/" | grep -E "Requests/sec|^ +99%"
fi
echo "RSS after all this: $(( $(grep VmRSS /proc/$SERVER_PID/status | awk '{print $2}') / 1024 )) MB"
