#!/bin/bash
# A throwaway PostgreSQL cluster for tests and benchmarks: initdb into DIR, a server listening
# on a socket in DIR only (no TCP port), trust for the user `boucle`.
#   pg_cluster.sh start DIR   prints the URL of its `postgres` database
#   pg_cluster.sh stop DIR    stops it at once and removes DIR
#   pg_cluster.sh halt DIR    stops the server (a fast shutdown), keeping its data
#   pg_cluster.sh resume DIR  starts it again, as it was started
# PostgreSQL refuses to run as root: as root, it runs as the `postgres` user Debian's package
# made. fsync is off unless PG_DURABLE=1 (a test that kills the server and counts what it kept).
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?the cluster\'s folder}

bindir=$(pg_config --bindir 2> /dev/null || true)
if [ ! -x "$bindir/initdb" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
fi
if [ ! -x "$bindir/initdb" ]; then
  echo "pg_cluster: PostgreSQL's initdb is missing (Debian package postgresql)" >&2
  exit 1
fi
as=()
if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi

case $cmd in
  start)
    # What a killed test run left behind goes first; anything else in the way stays.
    if [ -e "$dir/.boucle-pg-cluster" ]; then "$0" stop "$dir"; fi
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
      echo "pg_cluster: $dir is in use and not a cluster pg_cluster.sh made" >&2
      exit 1
    fi
    # The superuser logs in without a password: only this user (and root) reach the socket.
    mkdir -p "$dir"
    chmod 700 "$dir"
    touch "$dir/.boucle-pg-cluster"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir"; fi
    "${as[@]}" "$bindir/initdb" -D "$dir/data" -U boucle --auth=trust -E UTF8 --locale=C -N \
      > "$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    opts="-k $dir -c listen_addresses='' -c unix_socket_permissions=0700 -c max_connections=200"
    if [ "${PG_DURABLE:-0}" != 1 ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    echo "$opts" > "$dir/options"
    "$0" resume "$dir"
    echo "postgres://boucle@/postgres?host=$dir"
    ;;
  resume)
    "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "$(cat "$dir/options")" start > /dev/null || {
      cat "$dir/server.log" >&2
      exit 1
    }
    ;;
  halt)
    "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop > /dev/null
    ;;
  stop)
    [ -e "$dir" ] || exit 0
    # Only a folder this script made is removed.
    if [ ! -e "$dir/.boucle-pg-cluster" ]; then
      echo "pg_cluster: $dir is not a cluster pg_cluster.sh made: left as it is" >&2
      exit 1
    fi
    if [ -d "$dir/data" ]; then
      "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop > /dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "pg_cluster: start, stop, halt or resume, not $cmd" >&2
    exit 2
    ;;
esac
