#!/bin/bash
# make demo: starts boucle (SQLite store, embedded agent) on the example project and pushes a
# few commits through it: one breaks the tests, one fixes them and is released, deployed to dev,
# promoted to qa and perf, measured there under load (Locust) and approved into prod; one passes
# its tests but fails its smoke test in dev and is rolled back; one passes its smoke test but
# dies a few seconds later, caught by dev's verification and rolled back; one is healthy but
# slower, and the load test in perf stops it before prod. Then prod's service stops: its
# monitor opens an incident, resolved when the service is back. The server (and the four environments'
# services) keep running for you to look around. Ctrl-C stops them.
#   DEMO_PORT (default 8080; 0 = any free port), DEMO_KEEP=0 to stop after the story (tests).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
boucle=${BOUCLE:-$here/build/boucle}
port=${DEMO_PORT:-8080}
work=${DEMO_DIR:-$here/build/demo}
rm -rf "$work"
mkdir -p "$work"
cp -r "$here/examples/hello" "$work/hello"
repo=$work/hello
g() { git -C "$repo" -c user.name="$1" -c user.email="$1@example.com" "${@:2}"; }
g "Ada" init -q -b main
g "Ada" add -A
g "Ada" commit -q -m "feat: greet people"

"$boucle" server --data "$work/data" --listen "127.0.0.1:$port" > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
# Port 0 lets the server pick a free port; the log says which.
for _ in $(seq 200); do
  listening=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/server.log" 2>/dev/null || true)
  if [ -n "$listening" ]; then
    port=${listening##*:}
    curl -fs "http://127.0.0.1:$port/api/health" > /dev/null 2>&1 && break
  fi
  kill -0 $server 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.05
done
export BOUCLE_SERVER=http://127.0.0.1:$port
BOUCLE_TOKEN=$(cat "$work/data/initial-admin-token")
export BOUCLE_TOKEN

wait_run() {  # wait_run ID: until the run has finished
  for _ in $(seq 600); do
    state=$("$boucle" status hello --json | python3 -c "import json,sys
runs=[r for r in json.load(sys.stdin)['runs'] if r['id']==$1]
print(runs[0]['state'] if runs else 'none')")
    case $state in passed|failed|cancelled|interrupted) return 0 ;; esac
    sleep 0.2
  done
  echo "run $1 did not finish" >&2
  return 1
}

wait_deploy() {  # wait_deploy ID STATE: until the deploy has ended, which must be in STATE
  for _ in $(seq 600); do
    state=$("$boucle" deploys hello --json | python3 -c "import json,sys
d=[d for d in json.load(sys.stdin)['deploys'] if d['id']==$1]
print(d[0]['state'] if d else 'none')")
    case $state in succeeded|failed|rolled_back|cancelled|interrupted)
      "$boucle" deploys hello | grep "^deploy $1:" || true
      [ "$state" = "$2" ] && return 0
      echo "demo: deploy $1 ended $state, not $2; its log:" >&2
      curl -fs -H "Authorization: Bearer $BOUCLE_TOKEN" "$BOUCLE_SERVER/api/deploys/$1/log" >&2
      return 1 ;;
    esac
    sleep 0.2
  done
  echo "deploy $1 did not end" >&2
  return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== boucle server on http://127.0.0.1:$port (data in $work/data)"
"$boucle" project add hello "$repo" --poll 0
echo
echo "== four environments, each the example service on its own port (values live in boucle)"
for env in dev qa perf prod; do
  envport=$(free_port)
  "$boucle" env set hello "$env" "dir=$work/envs/$env" "port=$envport" \
    "url=http://127.0.0.1:$envport" "greet_name=$env team"
done
# The services the deploys start are stopped with the server, however the script ends: Ctrl-C
# (SIGINT) and SIGTERM exit through the same EXIT trap.
cleanup() {
  for f in "$work"/envs/*/greet.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  kill $server 2>/dev/null
  wait $server 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo
echo "== Ada's first commit is built (a push webhook would trigger it; here: boucle trigger)"
"$boucle" trigger hello
wait_run 1
"$boucle" status hello
echo
echo "== a passing run of main is released, and dev takes every release"
"$boucle" release list hello
wait_deploy 1 succeeded
echo
echo "== Mallory changes the greeting without running the tests"
sed -i 's/Bonjour, %s!/Hello, %s!/' "$repo/src/greet.c"
g "Mallory" commit -q -am "refactor: plainer greeting"
"$boucle" trigger hello
wait_run 2
"$boucle" status hello
echo
echo "== Ada fixes it: released as 0.1.1 and deployed to dev"
sed -i 's/Hello, %s!/Bonjour, %s!/' "$repo/src/greet.c"
g "Ada" commit -q -am "fix: restore the greeting the tests expect"
"$boucle" trigger hello
wait_run 3
"$boucle" status hello
wait_deploy 2 succeeded
"$boucle" release show hello 0.1.1 --notes
echo
echo "== the same release, the same method, through qa and perf"
"$boucle" promote hello --from dev --to qa --no-wait > /dev/null
wait_deploy 3 succeeded
"$boucle" promote hello --from qa --to perf --no-wait > /dev/null
wait_deploy 4 succeeded
echo
echo "== prod needs an approval, then a load test of perf (Locust): the first one sets the bar"
prod=$("$boucle" promote hello --from perf --to prod --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$boucle" deploys hello --env prod | head -1
"$boucle" approve "$prod" --no-wait > /dev/null
wait_deploy "$prod" succeeded
perf_summary() {  # perf_summary ID: the deploy's performance check, in a line or two
  "$boucle" deploys hello --env prod --json | python3 -c "import json,sys
d=[d for d in json.load(sys.stdin)['deploys'] if d['id']==$1][0]['perf']
print('  performance check (run ' + str(d['run_id']) + '): ' + d['summary'])"
}
perf_summary "$prod"
prodport=$("$boucle" environments hello --json | python3 -c 'import json,sys
e=[e for e in json.load(sys.stdin)["environments"] if e["name"]=="prod"][0]
print(e["values"]["port"])')
answer=$(curl -fs "http://127.0.0.1:$prodport/")
echo "prod answers: $answer"
case $answer in *"version 0.1.1"*) ;; *) echo "demo: prod should run 0.1.1" >&2; exit 1 ;; esac
echo
echo "== a release whose smoke test fails is rolled back by itself"
sed -i 's/return "OK";/return "starting";/' "$repo/src/greet.c"
g "Mallory" commit -q -am "fix: say when the service is starting"
# (run 4 was prod's load test: a run of its own)
"$boucle" trigger hello --wait > /dev/null
for _ in $(seq 100); do
  "$boucle" deploys hello --env dev --json | grep -q '"version": *"0.1.2"' && break
  sleep 0.1
done
dev_deploy=$("$boucle" deploys hello --env dev --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["deploys"][0]["id"])')
wait_deploy "$dev_deploy" rolled_back
echo
echo "== a release that passes its smoke test but dies seconds later: dev's verification catches it"
g "Ada" revert --no-edit HEAD > /dev/null   # the "starting" health page, rolled back above
sed -i 's/    if (c < 0) continue;/    if (c < 0) continue;\n    static int served = 0;\n    if (++served > 4) exit(0);/' "$repo/src/greet.c"
g "Mallory" commit -q -am "perf: recycle the process every few requests"
"$boucle" trigger hello --wait > /dev/null
newest_dev() { "$boucle" deploys hello --env dev --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["deploys"][0]["id"])'; }
for _ in $(seq 100); do [ "$(newest_dev)" != "$dev_deploy" ] && break; sleep 0.1; done
dev_deploy=$(newest_dev)
wait_deploy "$dev_deploy" rolled_back
"$boucle" deploys hello --env dev --json | python3 -c 'import json,sys
v=json.load(sys.stdin)["deploys"][0]["verification"]
print("  verification " + v["state"] + ": " + v["failure"])
for p in v["probes"]:
    for e in p["evidence"]:
        print("    " + p["name"] + ": " + e["verdict"] + ", " + e["detail"])' 
echo
echo "== a healthy but slower release: the load test in perf stops it before prod"
g "Ada" revert --no-edit HEAD > /dev/null   # the recycling process, rolled back above
sed -i 's/    if (c < 0) continue;/    if (c < 0) continue;\n    usleep(100000); \/\* check the configuration again, every time \*\//' "$repo/src/greet.c"
g "Mallory" commit -q -am "feat: pick up configuration changes at once"
"$boucle" trigger hello --wait > /dev/null
slow=$("$boucle" release list hello --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["releases"][0]["version"])')
for _ in $(seq 100); do [ "$(newest_dev)" != "$dev_deploy" ] && break; sleep 0.1; done
wait_deploy "$(newest_dev)" succeeded
"$boucle" promote hello --from dev --to qa --no-wait > /dev/null
wait_deploy "$("$boucle" deploys hello --env qa --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["deploys"][0]["id"])')" succeeded
"$boucle" promote hello --from qa --to perf --no-wait > /dev/null
wait_deploy "$("$boucle" deploys hello --env perf --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["deploys"][0]["id"])')" succeeded
stopped=$("$boucle" promote hello --from perf --to prod --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$boucle" approve "$stopped" --no-wait > /dev/null
wait_deploy "$stopped" failed
perf_summary "$stopped"
answer=$(curl -fs "http://127.0.0.1:$prodport/")
echo "prod still answers: $answer"
case $answer in *"version 0.1.1"*) ;; *) echo "demo: prod should still run 0.1.1, not $slow" >&2; exit 1 ;; esac
echo
echo "== prod's service stops: its monitor opens an incident, and resolves it when it is back"
kill "$(cat "$work/envs/prod/greet.pid")"
wait_incident() {  # wait_incident STATE: until prod's newest incident is in STATE; prints its id
  for _ in $(seq 300); do
    found=$("$boucle" incidents hello --env prod --json | python3 -c "import json,sys
i=json.load(sys.stdin)['incidents']
print(i[0]['id'] if i and i[0]['state']=='$1' else '')")
    [ -n "$found" ] && { echo "$found"; return 0; }
    sleep 0.2
  done
  echo "demo: no $1 incident in prod" >&2
  return 1
}
incident=$(wait_incident open)
"$boucle" incidents hello --env prod | head -2
# The service comes back as an operator would start it: the release's own ctl, in its folder.
(cd "$work/envs/prod/current" && BOUCLE_ENV_DIR="$work/envs/prod" BOUCLE_ENV_PORT="$prodport" \
  BOUCLE_RELEASE_VERSION=0.1.1 ./ctl restart)
wait_incident resolved > /dev/null
"$boucle" incident show "$incident"
"$boucle" monitors hello --env prod
echo
echo "== the four keys of dev, from the demo's own history"
"$boucle" dora hello --env dev
echo
echo "== what runs where"
"$boucle" environments hello
echo
echo "== where to look"
echo "  $BOUCLE_SERVER/                 the web UI (sign in with the token below)"
echo "  $BOUCLE_SERVER/#/projects/hello/dora?env=dev   the four keys, charted"
echo "  $BOUCLE_SERVER/#/projects/hello/incidents      prod's incident and its timeline"
echo "  $BOUCLE_SERVER/#/projects/hello/environments   the slower release stopped before prod"
echo "  boucle logs 2/test                 the failing test's log (export the two variables below)"
echo "  boucle release show hello 0.1.1    a release: commit, artifacts, notes"
echo "  boucle audit hello                 who released, deployed, approved, rolled back"
echo "  boucle monitors hello              what each environment's monitor says, its SLO budget"
echo "  boucle dora hello                  the four keys of prod"
echo "  curl http://127.0.0.1:$prodport/   the service in prod"
echo "  curl $BOUCLE_SERVER/badge/hello/main.svg"
echo "  export BOUCLE_SERVER=$BOUCLE_SERVER BOUCLE_TOKEN=\$(cat $work/data/initial-admin-token)"
echo "  server log: $work/server.log"
if [ "${DEMO_KEEP:-1}" = 1 ]; then
  echo
  echo "The server and the four services keep running; Ctrl-C stops them all."
  wait $server
fi
