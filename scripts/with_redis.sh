#!/usr/bin/env bash
# Run a command with a Redis answering at TANDEM_REDIS_URL (default redis://127.0.0.1:6379/0).
# When none answers, start one for the command's lifetime and stop exactly that one afterwards.
set -euo pipefail

url="${TANDEM_REDIS_URL:-redis://127.0.0.1:6379/0}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$host" ] && port=6379

started_pid=""
cleanup() {
  if [ -n "$started_pid" ]; then
    redis-cli -h "$host" -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$started_pid" 2>/dev/null || true
    echo "with_redis: stopped the redis-server it started (pid $started_pid)"
  fi
}
trap cleanup EXIT

if ! redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
  rundir="$(pwd)/var/redis"; mkdir -p "$rundir"
  redis-server --bind "$host" --port "$port" --save "" --appendonly no --dir "$rundir" \
    --daemonize yes --pidfile "$rundir/redis.pid" --logfile "$rundir/redis.log"
  for _ in $(seq 1 100); do
    redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1   # poll until the server answers PING
  done
  redis-cli -h "$host" -p "$port" ping >/dev/null
  started_pid="$(cat "$rundir/redis.pid")"
  echo "with_redis: started redis-server on $host:$port (pid $started_pid)"
fi

"$@"
