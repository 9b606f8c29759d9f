#!/bin/bash
# Runs each libFuzzer target for a while from its seed corpus and prints what it did: inputs
# per second, inputs the corpus grew by, and any crash (the input that caused it is kept).
#   usage: bench/fuzz.sh FUZZ_BUILD_DIR [SECONDS]   (make fuzz builds FUZZ_BUILD_DIR)
set -uo pipefail
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(cd "$BUILD" && pwd)
found=0
printf '%-10s %12s %10s %8s %s\n' target "execs/s" "new inputs" crashes "(seconds: $SECONDS_EACH each)"
for target in pipeline webhook junit masker router cron window template; do
  bin="$OUT/fuzz_$target"
  [ -x "$bin" ] || { echo "$target: $bin is missing (make fuzz builds it)"; found=1; continue; }
  work="$OUT/corpus/$target"
  crashes="$OUT/crashes/$target"
  mkdir -p "$work" "$crashes"
  before=$(ls "$work" | wc -l)
  log="$OUT/fuzz-$target.log"
  # The seed corpus is read, never written: new inputs go to the working corpus.
  "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$crashes/" \
    -rss_limit_mb=2048 -timeout=10 "$work" "$HERE/fuzz/corpus/$target" > "$log" 2>&1
  rc=$?
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  secs=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  after=$(ls "$work" | wc -l)
  ncrash=$(ls "$crashes" | wc -l)
  printf '%-10s %12s %10s %8s %s\n' "$target" "$secs" "$((after - before))" "$ncrash" \
    "$( [ $rc -ne 0 ] && echo "exit $rc, see $log" )"
  [ "$ncrash" -gt 0 ] && { ls "$crashes" | sed "s|^|  $crashes/|"; found=1; }
  : "${execs}"
done
exit $found
