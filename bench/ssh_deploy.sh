#!/bin/bash
# A SIZE_MB artifact deployed by the ssh driver to COUNT hosts (sshd in network namespaces, as
# the tests make them): rolling one at a time, then all at once, against the time of copying
# the artifact once to one host over ssh (`ssh host 'cat > file' < artifact`, a fresh
# connection). Deploy times are the server's own (started → finished, from the API).
#   usage: bench/ssh_deploy.sh BUILD_DIR [SIZE_MB] [COUNT]   (as root: it makes namespaces)
set -euo pipefail
BUILD=${1:-build-release}
SIZE=${2:-50}
COUNT=${3:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BOUCLE=$(cd "$BUILD" && pwd)/boucle
HOSTS_SH=$HERE/tests/integration/ssh_hosts.sh
SLOT=201  # outside the tests' slots (1-200)
T=$(mktemp -d -t boucle-sshbench.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null
  bash "$HOSTS_SH" down "$T/hosts" "$SLOT" "$COUNT" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
bash "$HOSTS_SH" up "$T/hosts" "$SLOT" "$COUNT" >/dev/null
HOSTS=$(for i in $(seq "$COUNT"); do echo -n "10.214.$SLOT.1$i "; done)

. "$(dirname "$0")/lib.sh"
start_server "$T"

mkdir -p "$T/repo" && cd "$T/repo" && git init -q -b main
pipeline() {  # pipeline STRATEGY_LINE
  cat > .boucle.yml <<YML
jobs:
  make: {run: 'head -c ${SIZE}M /dev/urandom > big.bin', artifacts: [big.bin]}
environments:
  rolling: {}
  together: {}
deploy:
  driver: ssh
  hosts: "{{ env.hosts }}"
  $1
  steps: ["test -s big.bin"]
YML
  git -c user.name=b -c user.email=b@b add -A
  git -c user.name=b -c user.email=b@b commit -q -m "feat: $2"
}
release() {  # release RUN → version
  "$BOUCLE" trigger big > /dev/null
  until curl -fs -H "Authorization: Bearer $BOUCLE_TOKEN" "$BOUCLE_SERVER/api/runs/$1" |
    python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["state"] != "passed")'; do
    sleep 0.3
  done
  "$BOUCLE" release big --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'
}
deploy_ms() {  # deploy_ms VERSION ENV → server-side milliseconds
  local id state
  id=$("$BOUCLE" deploy big "$1" --to "$2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  while :; do
    state=$(curl -fs -H "Authorization: Bearer $BOUCLE_TOKEN" "$BOUCLE_SERVER/api/deploys/$id")
    case "$state" in *'"state":"succeeded"'*) break ;; *'"state":"failed"'*|*'"state":"rolled_back"'*) echo "deploy $id failed: $state" >&2; exit 1 ;; esac
    sleep 0.1
  done
  echo "$state" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["finished_at_ms"]-d["started_at_ms"])'
}

pipeline "strategy: {rolling: 1}" rolling
"$BOUCLE" project add big "$T/repo" --poll 0 > /dev/null
for e in rolling together; do
  "$BOUCLE" env set big "$e" "dir=/srv/$e" "hosts=$HOSTS" "ssh_config=$T/hosts/ssh_config" > /dev/null
done
v1=$(release 1)
rolling=$(deploy_ms "$v1" rolling)
pipeline "" together
v2=$(release 2)
together=$(deploy_ms "$v2" together)

blob=$(find "$T/data/blobs" -type f -size +$(( SIZE * 1000 ))k | head -1)
t0=$(date +%s%N)
ssh -F "$T/hosts/ssh_config" "10.214.$SLOT.11" 'cat > /srv/copy.bin' < "$blob"
t1=$(date +%s%N)
copy=$(( (t1 - t0) / 1000000 ))
echo "ssh deploy of a ${SIZE} MB artifact to ${COUNT} hosts (sshd in network namespaces):"
echo "  one copy to one host over ssh: ${copy} ms"
echo "  rolling, 1 at a time:          ${rolling} ms ($(( rolling * 10 / (copy > 0 ? copy : 1) ))/10 of one copy; ${COUNT} copies in sequence)"
echo "  all at once:                   ${together} ms ($(( together * 10 / (copy > 0 ? copy : 1) ))/10 of one copy)"
