#!/bin/bash
# A job printing 100 MB: wall time and peak RSS of `boucle run`, and a check that the log is
# byte-identical to what the job wrote. Run once without secrets and once with 5 secrets (the
# masking path), then with one 16 KB secret.
#   usage: bench/big_log.sh BUILD_DIR [MEGABYTES]
set -euo pipefail
BUILD=${1:-build-release}
MB=${2:-100}
BOUCLE=$(cd "$BUILD" && pwd)/boucle
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d -t boucle-biglog.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/repo"
# Log-like lines, generated identically by the job and for the check; `yes` so that the
# generator is not what is being measured.
GEN="yes '2026-11-26T10:00:00.123Z INFO worker-3 processed item 4711 in 12 ms status=ok' | head -c $((MB * 1000000))"
cat > "$T/repo/.boucle.yml" <<YML
version: 1
jobs:
  noisy:
    checkout: false
    run: $GEN
YML
git -C "$T/repo" init -q -b main
git -C "$T/repo" -c user.name=b -c user.email=b@b add -A
git -C "$T/repo" -c user.name=b -c user.email=b@b commit -q -m bench
expected=$(sh -c "$GEN" | sha256sum | cut -d' ' -f1)
t0=$(date +%s%N)
sh -c "$GEN" > /dev/null
echo "the generator alone, to /dev/null: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

run() {  # run LABEL [boucle args]
  local label=$1
  shift
  rm -rf "$T/data"
  local out
  out=$(cd "$T/repo" && "$HERE/peak_rss.py" "$BOUCLE" run -q --data "$T/data" "$@" 2>&1 >/dev/null | tail -1)
  local log="$T/data/runs/repo/1/logs/noisy.log"
  local got size
  got=$(sha256sum "$log" | cut -d' ' -f1)
  size=$(stat -c %s "$log")
  local same=no
  [ "$got" = "$expected" ] && same=yes
  printf '%-22s %s MB log: %s  log_bytes=%s identical=%s\n' "$label" "$MB" "$out" "$size" "$same"
}
run "no secrets"
run "5 secrets" --secret A=correct-horse --secret B=battery-staple-9 --secret C=s3cr3t \
  --secret D=tok_ABCDEFGH12345678 --secret "E=-----BEGIN KEY-----
MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu
-----END KEY-----"
# One 16 KB secret (a PEM-like key; then 16 KB of random bytes): what its masker costs.
{ echo "-----BEGIN PRIVATE KEY-----"; head -c 12000 /dev/urandom | base64 -w 64; echo "-----END PRIVATE KEY-----"; } > "$T/key.pem"
head -c 16384 /dev/urandom > "$T/key.bin"
run "one 16 KB PEM secret" --secret-file KEY="$T/key.pem"
run "one 16 KB binary secret" --secret-file KEY="$T/key.bin"
