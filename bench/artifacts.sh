#!/bin/bash
# Artifact download through the server against `cp` of the same file on the same disk, and the
# server's RSS while it sends. A run makes a SIZE_MB artifact, which is released; curl then
# downloads it from the release (streamed from the blob store) to a file on the same disk.
# Then an upload of UPLOAD_MB (default 1024) through POST /api/blobs against cp, with the
# server's RSS sampled while it receives.
#   usage: bench/artifacts.sh BUILD_DIR [SIZE_MB] [UPLOAD_MB]
set -euo pipefail
BUILD=${1:-build-release}
SIZE=${2:-500}
UPLOAD=${3:-1024}
BOUCLE=$(cd "$BUILD" && pwd)/boucle
T=$(mktemp -d -t boucle-abench.XXXXXX)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
start_server "$T"

mkdir -p "$T/repo" && cd "$T/repo" && git init -q -b main
cat > .boucle.yml <<YML
jobs:
  make: {run: 'head -c ${SIZE}M /dev/urandom > big.bin', artifacts: [big.bin]}
YML
git -c user.name=b -c user.email=b@b add -A && git -c user.name=b -c user.email=b@b commit -q -m "feat: big"
"$BOUCLE" project add big "$T/repo" --poll 0 > /dev/null
"$BOUCLE" trigger big > /dev/null
until "$BOUCLE" status big --json | grep -q '"state": "passed"'; do sleep 0.5; done
"$BOUCLE" release big > /dev/null
sha=$(curl -fs -H "Authorization: Bearer $BOUCLE_TOKEN" "$BOUCLE_SERVER/api/projects/big/releases/0.1.0" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["artifacts"][0]["sha256"])')
blob=$(find "$T/data/blobs" -name "*$sha*" -type f | head -1)

best() { sort -n | head -1; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
peak=0
: > "$T/cp"; : > "$T/cps"; : > "$T/dl"; : > "$T/dls"
for i in 1 2 3; do
  sync
  t0=$(date +%s%N); cp "$blob" "$T/copy.bin"; t1=$(date +%s%N); sync; t2=$(date +%s%N)
  ms "$t0" "$t1" >> "$T/cp"; ms "$t0" "$t2" >> "$T/cps"
  rm -f "$T/copy.bin"; sync
  ( while kill -0 "$SERVER_PID" 2>/dev/null; do grep VmRSS /proc/$SERVER_PID/status | awk '{print $2}'; sleep 0.05; done ) > "$T/rss.$i" &
  sampler=$!
  t0=$(date +%s%N)
  curl -fs -o "$T/down.bin" -H "Authorization: Bearer $BOUCLE_TOKEN" \
    "$BOUCLE_SERVER/api/projects/big/releases/0.1.0/artifacts/big.bin"
  t1=$(date +%s%N); sync; t2=$(date +%s%N)
  ms "$t0" "$t1" >> "$T/dl"; ms "$t0" "$t2" >> "$T/dls"
  kill $sampler; wait $sampler 2>/dev/null || true
  [ "$(sha256sum < "$T/down.bin" | cut -c1-64)" = "$sha" ] || { echo "download corrupted"; exit 1; }
  rm -f "$T/down.bin"
  p=$(sort -n "$T/rss.$i" | tail -1); [ "$p" -gt "$peak" ] && peak=$p
done
line() {  # line WHAT CP_FILE DL_FILE
  local c d; c=$(best < "$2"); d=$(best < "$3")
  echo "$1: cp ${c} ms ($(( SIZE * 1000 / (c > 0 ? c : 1) )) MB/s), download through the server ${d} ms ($(( SIZE * 1000 / d )) MB/s) = $(( c * 100 / d ))% of cp"
}
echo "artifact of ${SIZE} MB, best of 3:"
line "  into the page cache" "$T/cp" "$T/dl"
line "  written to disk (sync)" "$T/cps" "$T/dls"
echo "server RSS while sending: peak $(( peak / 1024 )) MB"
# Without the client's disk: the server's side alone (1 MB reads, thrown away), and raw
# loopback TCP moving as many bytes (no server, no disk), the bound for any download here.
: > "$T/srv"; : > "$T/raw"
for i in 1 2 3; do
  /usr/bin/python3 "$BENCH/tcp_read.py" get \
    "$BOUCLE_SERVER/api/projects/big/releases/0.1.0/artifacts/big.bin" "$BOUCLE_TOKEN" >> "$T/srv"
  /usr/bin/python3 "$BENCH/tcp_read.py" raw "$SIZE" >> "$T/raw"
done
c=$(best < "$T/cp"); d=$(best < "$T/srv"); r=$(best < "$T/raw")
echo "  the server's side alone (1 MB reads, no disk): ${d} ms ($(( SIZE * 1000 / (d > 0 ? d : 1) )) MB/s) = $(( c * 100 / (d > 0 ? d : 1) ))% of cp"
echo "  raw loopback TCP, same bytes, no server: ${r} ms = $(( c * 100 / (r > 0 ? r : 1) ))% of cp"
# The same through boucle's own client, which hashes while it writes.
: > "$T/cli"
for i in 1 2 3; do
  rm -rf "$T/dl-cli"; sync
  t0=$(date +%s%N)
  "$BOUCLE" release download big 0.1.0 --to "$T/dl-cli" > /dev/null
  t1=$(date +%s%N)
  ms "$t0" "$t1" >> "$T/cli"
done
c=$(best < "$T/cp"); d=$(best < "$T/cli")
echo "  boucle release download (hash checked), page cache: ${d} ms ($(( SIZE * 1000 / d )) MB/s) = $(( c * 100 / d ))% of cp"

# Upload: a file on the same disk, streamed by curl -T; the server hashes and stores it.
head -c "${UPLOAD}M" /dev/urandom > "$T/up.bin"
sync
t0=$(date +%s%N); cp "$T/up.bin" "$T/up-copy.bin"; sync; t1=$(date +%s%N); rm -f "$T/up-copy.bin"
cp_ms=$(( (t1 - t0) / 1000000 ))
sync
( while kill -0 "$SERVER_PID" 2>/dev/null; do grep VmRSS /proc/$SERVER_PID/status | awk '{print $2}'; sleep 0.05; done ) > "$T/rss.up" &
sampler=$!
before=$(grep VmRSS /proc/$SERVER_PID/status | awk '{print $2}')
t0=$(date +%s%N)
answer=$(curl -fsS -X POST -T "$T/up.bin" -H "Authorization: Bearer $BOUCLE_TOKEN" "$BOUCLE_SERVER/api/blobs")
sync; t1=$(date +%s%N)
kill $sampler; wait $sampler 2>/dev/null || true
up_ms=$(( (t1 - t0) / 1000000 ))
[ "$(echo "$answer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')" = "$(sha256sum < "$T/up.bin" | cut -c1-64)" ] || { echo "upload stored wrong"; exit 1; }
peak=$(sort -n "$T/rss.up" | tail -1)
echo "upload of ${UPLOAD} MB (to disk, sync): cp ${cp_ms} ms ($(( UPLOAD * 1000 / cp_ms )) MB/s), upload through the server ${up_ms} ms ($(( UPLOAD * 1000 / up_ms )) MB/s) = $(( cp_ms * 100 / up_ms ))% of cp"
echo "server RSS while receiving: $(( before / 1024 )) MB before, peak $(( peak / 1024 )) MB"
