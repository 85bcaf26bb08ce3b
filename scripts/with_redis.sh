#!/usr/bin/env bash
# Run a command with a Redis answering at WITH_REDIS_URL (default: TANDEM_REDIS_URL, else
# redis://127.0.0.1:6379/0). When none answers, start one for the command's lifetime and stop
# exactly that one afterwards.
set -euo pipefail

url="${WITH_REDIS_URL:-${TANDEM_REDIS_URL:-redis://127.0.0.1:6379/0}}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$host" ] && port=6379

rundir="${TANDEM_DATA_DIR:-$(pwd)/var}/redis"
pidfile="$rundir/redis-$port.pid"
started=""
cleanup() {
  if [ -n "$started" ]; then
    redis-cli -h "$host" -p "$port" shutdown nosave >/dev/null 2>&1 \
      || { [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; } || true
    echo "with_redis: stopped the redis-server it started on $host:$port"
  fi
}
trap cleanup EXIT

if ! redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1; then
  mkdir -p "$rundir"
  started="yes"   # from here on, cleanup stops it whatever happens
  redis-server --bind "$host" --port "$port" --save "" --appendonly no --dir "$rundir" \
    --daemonize yes --pidfile "$pidfile" --logfile "$rundir/redis-$port.log"
  for _ in $(seq 1 100); do
    redis-cli -h "$host" -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1   # poll until the server answers PING
  done
  redis-cli -h "$host" -p "$port" ping >/dev/null \
    || { echo "with_redis: redis-server did not answer on $host:$port" >&2; exit 1; }
  echo "with_redis: started redis-server on $host:$port"
fi

"$@"
