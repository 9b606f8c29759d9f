#!/bin/bash
# The Debian package, installed on this machine as a user would (dpkg -i), its server started
# as boucle.service would start it (tests/systemd_exec.py: systemd does not run here), a
# project built through it as the `boucle` user, then the package purged: the programs go, the
# state folder stays.
# usage: package_test.sh BUILD_DIR   (root; exit 77, a skip, otherwise)
set -euo pipefail
BUILD=$(realpath "${1:?the build folder}")
SRC=$(realpath "$(dirname "$0")/..")
if [ "$(id -u)" -ne 0 ]; then
  echo "package test: needs root (dpkg -i)"
  exit 77
fi
# Only on a machine boucle was never installed on: the test removes what the package makes,
# and a purged install keeps its state folder on purpose.
if dpkg-query -W boucle > /dev/null 2>&1 || [ -e /var/lib/boucle ] || [ -e /etc/boucle ] ||
  [ -e /var/lib/boucle-agent ] || getent passwd boucle > /dev/null ||
  getent passwd boucle-agent > /dev/null; then
  echo "package test: boucle was installed on this machine (package, /var/lib/boucle," \
    "/etc/boucle or the boucle user): not touching it"
  exit 77
fi
work=$(mktemp -d /tmp/boucle-package-XXXXXX)
pid=""
agent=""
cleanup() {
  if [ -n "$pid" ]; then kill -9 -- "-$pid" 2> /dev/null || true; fi
  if [ -n "$agent" ]; then kill -9 -- "-$agent" 2> /dev/null || true; fi
  dpkg --purge boucle > /dev/null 2>&1 || true
  rm -rf /var/lib/boucle /etc/boucle /var/lib/boucle-agent
  for u in boucle boucle-agent; do
    if getent passwd $u > /dev/null; then deluser --quiet $u > /dev/null 2>&1 || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "package test: $*" >&2
  exit 1
}

(cd "$BUILD" && cpack -G DEB -B "$work/deb" > "$work/cpack.log") || {
  cat "$work/cpack.log"
  fail "cpack failed"
}
deb=$(ls "$work"/deb/boucle_*.deb)
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KB)"
dpkg-deb --info "$deb" | grep -E "Depends|Package|Version"
dpkg -i "$deb" > "$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log"
  fail "dpkg -i failed"
}

# What the package put where.
for f in /usr/bin/boucle /usr/libexec/boucle/boucle-supervise /usr/share/boucle/ui/index.html \
  /lib/systemd/system/boucle.service /etc/boucle/boucle.conf /usr/share/doc/boucle/README.md; do
  [ -e "$f" ] || fail "$f is missing"
done
dpkg-query -W -f='${Conffiles}' boucle | grep -q /etc/boucle/boucle.conf ||
  fail "/etc/boucle/boucle.conf is not a conffile"
getent passwd boucle > /dev/null || fail "no boucle user"
[ "$(stat -c '%U %a' /var/lib/boucle)" = "boucle 700" ] || fail "/var/lib/boucle: $(stat -c '%U %a' /var/lib/boucle)"
[ "$(stat -c '%U:%G %a' /etc/boucle/boucle.conf)" = "root:boucle 640" ] ||
  fail "/etc/boucle/boucle.conf: $(stat -c '%U:%G %a' /etc/boucle/boucle.conf)"
/usr/bin/boucle --version | grep -q "boucle " || fail "boucle --version"

# The server, started the unit's way, on a free port.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/^BOUCLE_LISTEN=.*/BOUCLE_LISTEN=127.0.0.1:$port/" /etc/boucle/boucle.conf
pid=$("$SRC/tests/systemd_exec.py" /lib/systemd/system/boucle.service "$work/server.log")
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/api/health" > /dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/api/health" > /dev/null || {
  cat "$work/server.log"
  fail "the server did not start"
}
[ "$(ps -o user= -p "$pid")" = boucle ] || fail "the server runs as $(ps -o user= -p "$pid")"
[ "$(stat -c '%U' /var/lib/boucle/boucle.db)" = boucle ] || fail "the database is not boucle's"
curl -sf "http://127.0.0.1:$port/" | grep -q "<html" || fail "the web UI is not served"

# A project built by the installed server, its job in the sandbox as the boucle user.
repo="$work/repo"
git init -q -b main "$repo"
printf 'jobs:\n  build:\n    run: echo "built as $(id -un)" && test -r /etc/os-release\n' \
  > "$repo/.boucle.yml"
git -C "$repo" add .boucle.yml
git -C "$repo" -c user.name=Pack -c user.email=p@x commit -q -m "a commit"
chmod a+rx "$work"
chown -R boucle: "$repo"  # git reads only repositories of the user it runs as
export BOUCLE_SERVER="http://127.0.0.1:$port"
BOUCLE_TOKEN=$(cat /var/lib/boucle/initial-admin-token)
export BOUCLE_TOKEN
/usr/bin/boucle project add web "$repo" --poll 0 > /dev/null
/usr/bin/boucle trigger web --wait > "$work/trigger.log" 2>&1 || {
  cat "$work/trigger.log" "$work/server.log"
  fail "the run did not pass"
}
/usr/bin/boucle logs 1/build | grep -q "built as" || fail "no log"
echo "run 1 passed: $(/usr/bin/boucle logs 1/build | head -1)"

# An agent, started as boucle-agent@pkg.service would, runs a job that asks for its label.
/usr/bin/boucle token add pkg --role agent 2> /dev/null > /etc/boucle/agent-pkg.token
chown root:boucle-agent /etc/boucle/agent-pkg.token
chmod 0640 /etc/boucle/agent-pkg.token
printf 'BOUCLE_SERVER=http://127.0.0.1:%s\nBOUCLE_AGENT_ARGS=--labels pkg --capacity 2\n' "$port" \
  > /etc/boucle/agent-pkg.conf
agent=$("$SRC/tests/systemd_exec.py" /lib/systemd/system/boucle-agent@.service "$work/agent.log" pkg)
[ "$(ps -o user= -p "$agent")" = boucle-agent ] || fail "the agent runs as $(ps -o user= -p "$agent")"
printf 'jobs:\n  remote:\n    runs-on: [pkg]\n    run: echo "agent job as $(id -un)"\n' \
  > "$repo/.boucle.yml"
git -C "$repo" -c safe.directory="$repo" -c user.name=Pack -c user.email=p@x commit -q -am "on the agent"
/usr/bin/boucle trigger web --wait > "$work/trigger.log" 2>&1 || {
  cat "$work/trigger.log" "$work/server.log" "$work/agent.log"
  /usr/bin/boucle logs 2/remote || true
  fail "the agent's run did not pass"
}
/usr/bin/boucle logs 2/remote | grep -q "agent job as boucle-agent" || {
  /usr/bin/boucle logs 2/remote
  fail "the job did not run on the agent as boucle-agent"
}
/usr/bin/boucle agents | grep -q "^pkg " || fail "boucle agents does not list the agent"
echo "run 2 passed on agent pkg: $(/usr/bin/boucle logs 2/remote | tail -1)"
kill -TERM "$agent"
for _ in $(seq 100); do
  kill -0 "$agent" 2> /dev/null || break
  sleep 0.1
done
kill -0 "$agent" 2> /dev/null && fail "the agent did not stop on SIGTERM"
agent=""
rm -f /etc/boucle/agent-pkg.token /etc/boucle/agent-pkg.conf

# SIGTERM, as systemd stops it.
kill -TERM "$pid"
for _ in $(seq 100); do
  kill -0 "$pid" 2> /dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2> /dev/null && fail "the server did not stop on SIGTERM"
pid=""

dpkg --purge boucle > "$work/purge.log" 2>&1 || {
  cat "$work/purge.log"
  fail "dpkg --purge failed"
}
[ -e /usr/bin/boucle ] && fail "/usr/bin/boucle is still there"
[ -e /var/lib/boucle/boucle.db ] || fail "the purge removed the state folder"
echo "package test: installed, served, built a run as boucle and one on an agent, stopped, purged"
