#!/bin/bash
# make demo: starts boucle (SQLite store, embedded agent) on the example project, pushes a few
# commits through it (one breaks the tests, one fixes them), shows what the team would see, and
# leaves the server running for you to look around. Ctrl-C stops it.
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

echo "== boucle server on http://127.0.0.1:$port (data in $work/data)"
"$boucle" project add hello "$repo" --poll 1
echo
echo "== the first commit is picked up by polling"
wait_run 1
"$boucle" status hello
echo
echo "== Mallory changes the greeting without running the tests"
sed -i 's/Bonjour, %s!/Hello, %s!/' "$repo/src/greet.c"
g "Mallory" commit -q -am "refactor: plainer greeting"
wait_run 2
"$boucle" status hello
echo
echo "== Ada fixes it"
sed -i 's/Hello, %s!/Bonjour, %s!/' "$repo/src/greet.c"
g "Ada" commit -q -am "fix: restore the greeting the tests expect"
wait_run 3
"$boucle" status hello
echo
echo "== where to look"
echo "  boucle logs 2/test                 the failing test's log (export the two variables below)"
echo "  boucle artifacts 3                 the packaged build of the fix"
echo "  curl $BOUCLE_SERVER/badge/hello/main.svg"
echo "  export BOUCLE_SERVER=$BOUCLE_SERVER BOUCLE_TOKEN=\$(cat $work/data/initial-admin-token)"
echo "  server log: $work/server.log"
if [ "${DEMO_KEEP:-1}" = 1 ]; then
  echo
  echo "The server keeps running; Ctrl-C stops it."
  wait $server
fi
