#!/usr/bin/env bash
# A local Redis Cluster for the tests (issue 26): 3 masters and 3 replicas on loopback ports,
# from Debian's redis-server (--cluster-enabled yes) and `redis-cli --cluster create`.
#   bash scripts/redis_cluster.sh start [BASE_PORT]   (default 7100: ports 7100-7105)
#   bash scripts/redis_cluster.sh stop  [BASE_PORT]
#   bash scripts/redis_cluster.sh url   [BASE_PORT]   (the TANDEM_REDIS_URL of the cluster)
# Nothing is persisted (no RDB, no AOF); the nodes' files live in var/redis-cluster/<port>/.
set -euo pipefail

cmd="${1:-}"
base="${2:-${TANDEM_REDIS_CLUSTER_PORT:-7100}}"
root="$(cd "$(dirname "$0")/.." && pwd)/var/redis-cluster"
ports=()
for i in 0 1 2 3 4 5; do ports+=("$((base + i))"); done

url() {
  local nodes
  nodes="$(printf '127.0.0.1:%s,' "${ports[@]:0:3}")"
  echo "redis+cluster://${nodes%,}"
}

case "$cmd" in
  start)
    command -v redis-server >/dev/null || { echo "redis_cluster: redis-server not found (apt-get install redis-server)" >&2; exit 1; }
    for port in "${ports[@]}"; do
      if redis-cli -p "$port" ping >/dev/null 2>&1; then
        echo "redis_cluster: port $port already answers; stop it first" >&2
        exit 1
      fi
      dir="$root/$port"
      rm -rf "$dir" && mkdir -p "$dir"
      redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
        --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000 \
        --dir "$dir" --save '' --appendonly no --daemonize yes \
        --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
    done
    for port in "${ports[@]}"; do
      for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") \
      --cluster-replicas 1 --cluster-yes >"$root/create.log" 2>&1 \
      || { cat "$root/create.log" >&2; exit 1; }
    # formed once every node agrees the cluster is ok, each master has its replica and every
    # replica has synced with its master (a replica that never synced cannot take over)
    for _ in $(seq 300); do
      ok=1
      synced=0
      for port in "${ports[@]}"; do
        redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
        redis-cli -p "$port" info replication 2>/dev/null | grep -q 'master_link_status:up' \
          && synced=$((synced + 1))
      done
      [ "$ok" = 1 ] && [ "$synced" = 3 ] && { echo "redis_cluster: up, $(url)"; exit 0; }
      sleep 0.1
    done
    echo "redis_cluster: not formed in 30 s" >&2
    exit 1
    ;;
  stop)
    for port in "${ports[@]}"; do
      redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    echo "redis_cluster: stopped ${ports[0]}-${ports[5]}"
    ;;
  url)
    url
    ;;
  *)
    echo "usage: $0 start|stop|url [BASE_PORT]" >&2
    exit 2
    ;;
esac
