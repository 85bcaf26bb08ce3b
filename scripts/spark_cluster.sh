#!/usr/bin/env bash
# A standalone Spark cluster (one master + N workers) from the pyspark wheel, on 127.0.0.1.
#
#   scripts/spark_cluster.sh start|stop|status
#
# The wheel ships bin/spark-class but no sbin/start-*.sh, so the JVMs are started here directly.
# State (ports, PIDs, logs, worker dirs) goes under $SPARK_CLUSTER_DIR (default var/spark-cluster):
# master.url, master.pid, worker-<i>.pid, logs/. `start` returns once the master reports every
# worker ALIVE (deadline $SPARK_CLUSTER_TIMEOUT_S, default 90 s) and prints the master URL.
#
# Settings (environment): SPARK_CLUSTER_WORKERS (2), SPARK_MASTER_PORT (17077),
# SPARK_MASTER_UI_PORT (18081; workers' UIs take the next ports), SPARK_WORKER_CORES (1),
# SPARK_WORKER_MEMORY (2g), PYTHON (the venv's python; executors start their Python workers
# with the driver's PYSPARK_PYTHON, see docs/DEPLOY.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
DIR="${SPARK_CLUSTER_DIR:-$ROOT/var/spark-cluster}"
WORKERS="${SPARK_CLUSTER_WORKERS:-2}"
MASTER_PORT="${SPARK_MASTER_PORT:-17077}"
UI_PORT="${SPARK_MASTER_UI_PORT:-18081}"
CORES="${SPARK_WORKER_CORES:-1}"
MEMORY="${SPARK_WORKER_MEMORY:-2g}"
TIMEOUT_S="${SPARK_CLUSTER_TIMEOUT_S:-90}"
export SPARK_LOCAL_IP=127.0.0.1
export SPARK_HOME="${SPARK_HOME:-$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

spawn() {  # spawn <pidfile> <log> <class> <args...>: a JVM in its own session, its PID recorded
  local pidfile=$1 log=$2
  shift 2
  setsid "$SPARK_HOME/bin/spark-class" "$@" >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

alive_workers() {  # how many workers the master's JSON view lists as ALIVE
  "$PYTHON" - "$UI_PORT" <<'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=2) as r:
        print(sum(w.get("state") == "ALIVE" for w in json.load(r).get("workers", [])))
except OSError:
    print(0)
EOF
}

start() {
  mkdir -p "$DIR/logs" "$DIR/work"
  if alive "$DIR/master.pid"; then
    echo "already running: $(cat "$DIR/master.url")"
    return 0
  fi
  local url="spark://127.0.0.1:$MASTER_PORT"
  spawn "$DIR/master.pid" "$DIR/logs/master.log" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$MASTER_PORT" --webui-port "$UI_PORT"
  for i in $(seq 1 "$WORKERS"); do
    spawn "$DIR/worker-$i.pid" "$DIR/logs/worker-$i.log" org.apache.spark.deploy.worker.Worker \
      "$url" --host 127.0.0.1 --cores "$CORES" --memory "$MEMORY" \
      --webui-port $((UI_PORT + i)) --work-dir "$DIR/work/worker-$i"
  done
  echo "$url" >"$DIR/master.url"
  echo "$UI_PORT" >"$DIR/master.ui-port"
  local deadline=$((SECONDS + TIMEOUT_S))
  until [[ "$(alive_workers)" -ge "$WORKERS" ]]; do
    if ((SECONDS >= deadline)) || ! alive "$DIR/master.pid"; then
      echo "cluster not ready within ${TIMEOUT_S}s; see $DIR/logs" >&2
      stop
      return 1
    fi
    sleep 0.5 # polling the master's view, with a deadline
  done
  echo "$url"
}

stop() {
  local f
  for f in "$DIR"/worker-*.pid "$DIR/master.pid"; do
    [[ -f "$f" ]] || continue
    if alive "$f"; then
      kill -- -"$(cat "$f")" 2>/dev/null || kill "$(cat "$f")" 2>/dev/null || true
      for _ in $(seq 1 40); do alive "$f" || break; sleep 0.25; done
      alive "$f" && kill -9 -- -"$(cat "$f")" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  rm -f "$DIR/master.url"
}

status() {
  if ! alive "$DIR/master.pid"; then
    echo "stopped"
    return 3
  fi
  echo "master $(cat "$DIR/master.url") (pid $(cat "$DIR/master.pid")), UI http://127.0.0.1:$UI_PORT"
  echo "workers alive: $(alive_workers)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
