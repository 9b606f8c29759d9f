#!/bin/bash
# Machines for the tests as far as the network goes: COUNT network namespaces on a bridge in the
# default namespace, host I at 10.215.SLOT.1I, the bridge (where a server listens) at
# 10.215.SLOT.1. A host's link can be cut and mended, as a pulled cable would. SLOT (1-200)
# keeps tests that run at the same time apart; the caller holds a lock on it.
#
# usage: net_hosts.sh up SLOT COUNT | down SLOT COUNT | cut SLOT I | mend SLOT I
set -euo pipefail
cmd=$1 K=$2 N=$3
NET=10.215.$K
BR=bcnb$K

down() {
  for i in $(seq "$N"); do ip netns pids "bcn${K}h$i" 2>/dev/null | xargs -r kill -9 2>/dev/null || true; done
  ss -K dst "$NET.0/24" >/dev/null 2>&1 || true
  for i in $(seq "$N"); do
    ip netns del "bcn${K}h$i" 2>/dev/null || true
    ip link del "bcn${K}v$i" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
}

case "$cmd" in
up)
  down  # what a killed test may have left in this slot
  ip link add "$BR" type bridge
  ip addr add "$NET.1/24" dev "$BR"
  ip link set "$BR" up
  for i in $(seq "$N"); do
    ns=bcn${K}h$i
    ip netns add "$ns"
    ip link add "bcn${K}v$i" type veth peer name eth0 netns "$ns"
    ip link set "bcn${K}v$i" master "$BR" up
    ip -n "$ns" addr add "$NET.1$i/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
  done
  ;;
cut) ip link set "bcn${K}v$N" down ;;
mend) ip link set "bcn${K}v$N" up ;;
down) down ;;
esac
