#!/bin/bash
# Deploy target hosts for the tests: COUNT sshd processes, each in its own network namespace
# with its own hostname (UTS namespace) and a private tmpfs /srv (mount namespace), reachable
# as root with a generated key through DIR/ssh_config at 10.214.SLOT.1I (I = 1..COUNT) over a
# bridge in the default namespace. SLOT (1-200) keeps tests that run at the same time apart;
# the caller holds a lock on it.
#
# usage: ssh_hosts.sh up DIR SLOT COUNT | down DIR SLOT COUNT | stop DIR SLOT I
set -euo pipefail
cmd=$1 S=$2 K=$3 N=$4
NET=10.214.$K
BR=bclb$K

down() {
  # Sessions end while the bridge still exists, so every TCP close completes inside it.
  for i in $(seq "$N"); do ip netns pids "bcl${K}h$i" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  for _ in $(seq 50); do
    left=""
    for i in $(seq "$N"); do left+=$(ip netns pids "bcl${K}h$i" 2>/dev/null || true); done
    [ -z "$left" ] && break
    sleep 0.1
  done
  ss -K dst "$NET.0/24" >/dev/null 2>&1 || true
  for i in $(seq "$N"); do
    ip netns del "bcl${K}h$i" 2>/dev/null || true
    ip link del "bcl${K}v$i" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
}

case "$cmd" in
up)
  down  # what a killed test may have left in this slot
  install -d -m 0755 /run/sshd
  mkdir -p "$S" && chmod 700 "$S"
  ssh-keygen -q -t ed25519 -N '' -f "$S/client_ed25519" -C boucle-test-client
  cp "$S/client_ed25519.pub" "$S/authorized_keys"
  cat >"$S/ssh_config" <<CFG
Host *
  User root
  IdentityFile $S/client_ed25519
  IdentitiesOnly yes
  BatchMode yes
  StrictHostKeyChecking accept-new
  UserKnownHostsFile $S/known_hosts
  ConnectTimeout 5
  LogLevel ERROR
CFG
  ip link add "$BR" type bridge
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up
  for i in $(seq "$N"); do
    ns=bcl${K}h$i
    ip netns add "$ns"
    ip link add "bcl${K}v$i" type veth peer name eth0 netns "$ns"
    ip link set "bcl${K}v$i" master "$BR" up
    ip -n "$ns" addr add "$NET.1$i/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ssh-keygen -q -t ed25519 -N '' -f "$S/host_$i" -C "$ns"
    cat >"$S/sshd_$i.config" <<CFG
Port 22
ListenAddress $NET.1$i
HostKey $S/host_$i
PidFile $S/sshd_$i.pid
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
Subsystem sftp internal-sftp
CFG
    # sshd by absolute path (it re-executes itself), in the foreground so that $! is its pid.
    # The hosts share this machine's files: root's ~/.bashrc (which bash reads for every ssh
    # command, and which here starts pyenv, ~0.5 s) is hidden, as on a freshly installed host.
    ip netns exec "$ns" unshare --uts --mount --propagation private \
      sh -c "hostname $ns && mount -t tmpfs -o size=512m tmpfs /srv &&
             { [ ! -f /root/.bashrc ] || mount --bind /dev/null /root/.bashrc; } &&
             exec /usr/sbin/sshd -D -f $S/sshd_$i.config -E $S/sshd_$i.log" \
      >/dev/null 2>&1 </dev/null &
    echo $! >"$S/host_$i.pid"
  done
  for i in $(seq "$N"); do
    for _ in $(seq 100); do
      ssh -F "$S/ssh_config" -o ConnectTimeout=1 "$NET.1$i" true 2>/dev/null && break
      sleep 0.05
    done
    ssh -F "$S/ssh_config" "$NET.1$i" 'echo "$(hostname) $(findmnt -no FSTYPE /srv)"'
  done
  ;;
stop)  # host N's sshd and everything in its namespace: the host is unreachable
  ip netns pids "bcl${K}h$N" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ;;
down)
  down
  rm -rf "$S"
  ;;
esac
