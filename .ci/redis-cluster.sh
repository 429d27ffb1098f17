#!/usr/bin/env bash
# A throwaway Redis Cluster for the tests, from the machine's redis-server: 3 primaries and 3
# replicas on loopback ports, everything in one temporary directory. Nothing is downloaded and
# the Redis on 6379 is left alone.
#
#   .ci/redis-cluster.sh start DIR [FIRST_PORT]   starts it; prints its node URLs, comma-separated
#   .ci/redis-cluster.sh stop DIR                  stops every node started in DIR and deletes DIR
#
# Each node runs from DIR/<port>/redis.conf (daemonized, no persistence; cluster-node-timeout
# 1 s so a killed primary's replica takes over within a few seconds). A test that kills a
# primary restarts it from the `executable` and `config_file` of its INFO: it rejoins as a replica.
set -euo pipefail

command="${1:-}"
dir="${2:-}"
[ -n "$command" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [FIRST_PORT]" >&2; exit 64; }

stop() {
  [ -d "$dir" ] || return 0
  for conf in "$dir"/*/redis.conf; do
    [ -f "$conf" ] || continue
    port="$(basename "$(dirname "$conf")")"
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    pidfile="$(dirname "$conf")/redis.pid"
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" >/dev/null 2>&1 || true; fi
  done
  rm -rf "$dir"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "$command" in
  stop) stop ;;
  start)
    first="${3:-7101}"
    # Six free ports in a row (and their cluster bus ports, +10000), starting at FIRST_PORT.
    for _ in $(seq 1 50); do
      ok=1
      for p in $(seq "$first" $((first + 5))); do
        port_free "$p" && port_free $((p + 10000)) || { ok=0; break; }
      done
      [ "$ok" = 1 ] && break
      first=$((first + 6))
    done
    [ "$ok" = 1 ] || { echo "redis-cluster: no six free ports from ${3:-7101}" >&2; exit 1; }
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    nodes=()
    for p in $(seq "$first" $((first + 5))); do
      mkdir -p "$dir/$p"
      cat > "$dir/$p/redis.conf" <<CONF
port $p
bind 127.0.0.1
daemonize yes
dir $dir/$p
pidfile $dir/$p/redis.pid
logfile $dir/$p/redis.log
save ""
appendonly no
cluster-enabled yes
cluster-config-file $dir/$p/nodes.conf
cluster-node-timeout 1000
cluster-replica-validity-factor 0
CONF
      redis-server "$dir/$p/redis.conf"
      nodes+=("127.0.0.1:$p")
    done
    for p in $(seq "$first" $((first + 5))); do
      for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
      || { cat "$dir/create.log" >&2; stop; exit 1; }
    for p in $(seq "$first" $((first + 5))); do
      for _ in $(seq 1 100); do
        redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
        sleep 0.1
      done
      redis-cli -h 127.0.0.1 -p "$p" cluster info | grep -q '^cluster_state:ok' || { echo "redis-cluster: node $p is not ok" >&2; stop; exit 1; }
    done
    urls=()
    for node in "${nodes[@]}"; do urls+=("redis://$node"); done
    (IFS=,; echo "${urls[*]}")
    ;;
  *) echo "usage: $0 start|stop DIR [FIRST_PORT]" >&2; exit 64 ;;
esac
