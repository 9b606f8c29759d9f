#!/bin/bash
# The web UI: its bundle's size gzipped (goal < 300 KB) and how fast its first page is usable
# on loopback (goal < 1 s), against a server with one project and a run.
#   usage: bench/ui.sh BUILD_DIR   (the UI built: make ui)
set -euo pipefail
BUILD=${1:-build-release}
BENCH=$(cd "$(dirname "$0")" && pwd)
BOUCLE=$(cd "$BUILD" && pwd)/boucle
T=$(mktemp -d -t boucle-uibench.XXXXXX)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
total=0
for f in "$BENCH"/../ui/dist/index.html "$BENCH"/../ui/dist/assets/*; do
  total=$(( total + $(gzip -9c "$f" | wc -c) ))
done
echo "UI bundle, gzipped: $(( total / 1024 )) KB (index.html, scripts and styles)"
. "$BENCH/lib.sh"
start_server "$T"
mkdir -p "$T/repo" && cd "$T/repo" && git init -q -b main
echo "jobs: {build: {run: 'echo hi', checkout: false}}" > .boucle.yml
git -c user.name=b -c user.email=b@b add -A && git -c user.name=b -c user.email=b@b commit -q -m one
"$BOUCLE" project add demo "$T/repo" --poll 0 > /dev/null
"$BOUCLE" trigger demo > /dev/null
node "$BENCH/ui_first_page.mjs" "$BOUCLE_SERVER" "$BOUCLE_TOKEN"
