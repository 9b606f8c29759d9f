#!/bin/bash
# Overhead per job: 200 jobs of `true`, in a chain and all independent, with and without a
# workspace (a copy of the checkout). Prints ms per job; compare with the fork+exec floor
# printed by boucle_bench (BM_SpawnTrueFloor).
#   usage: bench/job_overhead.sh BUILD_DIR [JOBS]
set -euo pipefail
BUILD=${1:-build-release}
N=${2:-200}
BOUCLE=$(cd "$BUILD" && pwd)/boucle
T=$(mktemp -d -t boucle-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

make_repo() {  # make_repo DIR chain|parallel checkout(true|false)
  local dir=$1 shape=$2 checkout=$3
  mkdir -p "$dir"
  # a small but real source tree to copy: 30 files
  for i in $(seq 30); do echo "file $i" > "$dir/f$i.txt"; done
  {
    echo "version: 1"
    echo "jobs:"
    for i in $(seq "$N"); do
      echo "  j$i:"
      echo "    run: 'true'"
      echo "    checkout: $checkout"
      if [ "$shape" = chain ] && [ "$i" -gt 1 ]; then echo "    needs: [j$((i - 1))]"; fi
    done
  } > "$dir/.boucle.yml"
  git -C "$dir" init -q -b main
  git -C "$dir" -c user.name=b -c user.email=b@b add -A
  git -C "$dir" -c user.name=b -c user.email=b@b commit -q -m bench
}

DATA=$T/data
measure() {  # measure LABEL DIR -j [boucle run options]
  local label=$1 dir=$2 par=$3 best=""
  shift 3
  for rep in 1 2 3; do
    local t0 t1 ms
    rm -rf "$DATA"
    sync
    t0=$(date +%s%N)
    (cd "$dir" && "$BOUCLE" run -q -j "$par" --data "$DATA" "$@" >/dev/null)
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  # per job, in ms with 2 decimals (best of 3 whole runs, run set-up included)
  printf '%-34s %4d jobs  total %8.1f ms  per job %6.2f ms\n' "$label" "$N" \
    "$(echo "$best / 1000" | bc -l)" "$(echo "$best / 1000 / $N" | bc -l)"
}

for shape in chain parallel; do
  make_repo "$T/$shape-ws" "$shape" true
  make_repo "$T/$shape-nows" "$shape" false
done
ALL=$N
N=1 make_repo "$T/single" chain false
# "workspace" = a private copy of the checkout per job (30 files + .git); "kept" leaves the
# workspaces on disk (preparation only), "+ cleanup" also deletes them at the end of the run.
echo "boucle run, $(nproc) cores, best of 3 (whole command: start, 200 jobs, report, exit):"
P=$(nproc)
N=1 measure "fixed cost: a run of 1 job" "$T/single" 1
N=$ALL
measure "chain, no workspace (-j 1)" "$T/chain-nows" 1
measure "chain, workspace kept (-j 1)" "$T/chain-ws" 1 --keep-workspaces
measure "chain, workspace + cleanup (-j 1)" "$T/chain-ws" 1
measure "parallel, no workspace (-j $P)" "$T/parallel-nows" "$P"
measure "parallel, workspace kept (-j $P)" "$T/parallel-ws" "$P" --keep-workspaces
measure "parallel, workspace + cleanup (-j $P)" "$T/parallel-ws" "$P"

# The same with the data directory on tmpfs: what boucle itself costs, without the disk (on
# some virtual disks creating files right after deleting many is several times slower).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  DATA=$(mktemp -d -p /dev/shm boucle-bench.XXXXXX)
  trap 'rm -rf "$T" "$DATA"' EXIT
  echo "data directory on tmpfs:"
  measure "chain, no workspace (-j 1)" "$T/chain-nows" 1
  measure "chain, workspace + cleanup (-j 1)" "$T/chain-ws" 1
  measure "parallel, workspace + cleanup (-j $P)" "$T/parallel-ws" "$P"
fi
