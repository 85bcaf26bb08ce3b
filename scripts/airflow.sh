#!/usr/bin/env bash
# Local Airflow 3 for Tandem: `bash scripts/airflow.sh start|stop|status`.
#
# start: migrates the metadata DB (SQLite under AIRFLOW_HOME, or PostgreSQL when
# TANDEM_AIRFLOW_DB_URL is set, see below), then runs api-server, scheduler, dag-processor and
# triggerer as separate background processes (each in its own process group, PID files in
# $AIRFLOW_HOME/run/, logs in $AIRFLOW_HOME/logs/), waits until the api-server answers
# /api/v2/monitor/health and prints the UI address and the admin password.
# stop: stops exactly the processes named by those PID files (their process groups), waits for them.
# env: prints the export lines for running the `airflow` CLI against the same instance:
#   eval "$(bash scripts/airflow.sh env)"; airflow backfill create --dag-id tandem_index ...
#
# Settings (environment): TANDEM_AIRFLOW_HOME (default <repo>/var/airflow),
# TANDEM_AIRFLOW_HOST (127.0.0.1), TANDEM_AIRFLOW_PORT (8080), TANDEM_AIRFLOW_DB_URL (unset: SQLite),
# TANDEM_AIRFLOW_START_TIMEOUT (180 s), TANDEM_AIRFLOW_ADMIN (admin).
#
# PostgreSQL: TANDEM_AIRFLOW_DB_URL=postgresql+psycopg2://USER[:PASSWORD]@HOST:PORT/DB (or
# postgresql://...) names an existing, empty or earlier-migrated database; `start` runs
# `airflow db migrate`, which creates or upgrades the schema. The URL becomes
# AIRFLOW__DATABASE__SQL_ALCHEMY_CONN; Airflow derives the async URL (postgresql+asyncpg) itself.
# Drivers: psycopg2-binary and asyncpg, both project dependencies. Create the database first, e.g.
#   createdb -h 127.0.0.1 -U postgres tandem_airflow
#   TANDEM_AIRFLOW_DB_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/tandem_airflow make airflow
# tests/dags/test_airflow_postgres.py runs `airflow db migrate` with exactly this configuration.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AIRFLOW_BIN="${AIRFLOW_BIN:-$ROOT/.venv/bin/airflow}"
export AIRFLOW_HOME="${TANDEM_AIRFLOW_HOME:-$ROOT/var/airflow}"
HOST="${TANDEM_AIRFLOW_HOST:-127.0.0.1}"
PORT="${TANDEM_AIRFLOW_PORT:-8080}"
RUN_DIR="$AIRFLOW_HOME/run"
LOG_DIR="$AIRFLOW_HOME/logs"
COMPONENTS=(api-server scheduler dag-processor triggerer)
START_TIMEOUT="${TANDEM_AIRFLOW_START_TIMEOUT:-180}"
ADMIN="${TANDEM_AIRFLOW_ADMIN:-admin}"

configure() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False   # backfill runs stay queued while paused
  export AIRFLOW__CORE__EXECUTOR=LocalExecutor
  export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
  export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="$ADMIN:admin"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
  export AIRFLOW__API__HOST="$HOST" AIRFLOW__API__PORT="$PORT" AIRFLOW__API__WORKERS=1
  export AIRFLOW__API__BASE_URL="http://$HOST:$PORT"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$HOST:$PORT/execution/"
  export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$LOG_DIR/tasks"
  # The task SDK's execution-API client (each task's supervisor talking to the api-server):
  # Airflow's 5 s timeout and 5 retries (given up after ~31 s) lose tasks on a loaded 2-core
  # machine while the api-server is still starting (httpcore.ReadTimeout, then SIGKILL). Wait
  # longer and retry for about five minutes before giving up.
  export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="${AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT:-30}"
  export AIRFLOW__WORKERS__EXECUTION_API_RETRIES="${AIRFLOW__WORKERS__EXECUTION_API_RETRIES:-12}"
  export AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MIN="${AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MIN:-2}"
  export AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX="${AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX:-30}"
  export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-60}"
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}" HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
  if [ -n "${TANDEM_AIRFLOW_DB_URL:-}" ]; then
    case "$TANDEM_AIRFLOW_DB_URL" in
      postgresql://*|postgresql+psycopg2://*|sqlite:///*) ;;
      *) echo "airflow: TANDEM_AIRFLOW_DB_URL must start with postgresql+psycopg2://," \
           "postgresql:// or sqlite:///, got '${TANDEM_AIRFLOW_DB_URL%%:*}:...'" >&2; exit 2 ;;
    esac
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$TANDEM_AIRFLOW_DB_URL"
  else
    export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
  fi
  # Every component must sign and verify the same JWTs: one secret per AIRFLOW_HOME, kept on disk.
  local secrets="$AIRFLOW_HOME/secrets.env"
  if [ ! -f "$secrets" ]; then
    (umask 077; {
      echo "AIRFLOW__API_AUTH__JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
      echo "AIRFLOW__API__SECRET_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    } >"$secrets")
  fi
  set -a; . "$secrets"; set +a
}

pid_of() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

healthy() {
  curl -fsS --max-time 3 "http://$HOST:$PORT/api/v2/monitor/health" >/dev/null 2>&1
}

start() {
  configure
  for c in "${COMPONENTS[@]}"; do
    if alive "$(pid_of "$c")"; then
      echo "airflow: $c already running (pid $(pid_of "$c")); run 'make airflow-stop' first" >&2
      exit 1
    fi
  done
  echo "airflow: AIRFLOW_HOME=$AIRFLOW_HOME db=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN%%:*}"
  "$AIRFLOW_BIN" db migrate >"$LOG_DIR/db-migrate.log" 2>&1 || {
    echo "airflow: db migrate failed, see $LOG_DIR/db-migrate.log" >&2; exit 1; }
  for c in "${COMPONENTS[@]}"; do
    # setsid: each component leads its own process group, so stop can end its children too.
    setsid "$AIRFLOW_BIN" "$c" >>"$LOG_DIR/$c.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/$c.pid"
    echo "airflow: started $c (pid $!) log $LOG_DIR/$c.log"
  done
  local deadline=$((SECONDS + START_TIMEOUT))
  until healthy; do
    for c in "${COMPONENTS[@]}"; do
      if ! alive "$(pid_of "$c")"; then
        echo "airflow: $c exited during start-up, see $LOG_DIR/$c.log" >&2; stop; exit 1
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "airflow: api-server not healthy after ${START_TIMEOUT}s" >&2; stop; exit 1
    fi
    sleep 1   # poll the health endpoint
  done
  local password="?"
  if [ -f "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ]; then
    password="$("$ROOT/.venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
      "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" "$ADMIN" 2>/dev/null || echo '?')"
  fi
  echo "airflow: UI at http://$HOST:$PORT  user: $ADMIN  password: $password"
  echo "airflow: (password file $AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE); stop with 'make airflow-stop'"
}

stop() {
  local any=0
  for c in "${COMPONENTS[@]}"; do
    local pid; pid="$(pid_of "$c")"
    [ -z "$pid" ] && continue
    any=1
    if alive "$pid"; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for c in "${COMPONENTS[@]}"; do
    local pid; pid="$(pid_of "$c")"
    [ -z "$pid" ] && continue
    local waited=0
    while alive "$pid" || pgrep -g "$pid" >/dev/null 2>&1; do
      if [ "$waited" -ge 30 ]; then
        echo "airflow: $c (pid $pid) ignored SIGTERM for 30s; sending SIGKILL" >&2
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      fi
      sleep 1   # poll until the process group has exited
      waited=$((waited + 1))
      [ "$waited" -ge 40 ] && break
    done
    rm -f "$RUN_DIR/$c.pid"
    echo "airflow: stopped $c (pid $pid)"
  done
  [ "$any" = 1 ] || echo "airflow: nothing to stop (no PID files in $RUN_DIR)"
}

status() {
  configure
  local rc=0
  for c in "${COMPONENTS[@]}"; do
    local pid; pid="$(pid_of "$c")"
    if alive "$pid"; then echo "$c: running (pid $pid)"; else echo "$c: stopped"; rc=3; fi
  done
  if healthy; then echo "api-server: healthy at http://$HOST:$PORT"; else echo "api-server: not answering"; rc=3; fi
  return "$rc"
}

print_env() {
  configure
  echo "export AIRFLOW_HOME=$(printf %q "$AIRFLOW_HOME") PYTHONPATH=$(printf %q "$PYTHONPATH")"
  env | grep '^AIRFLOW__' | sort | while IFS='=' read -r name value; do
    echo "export $name=$(printf %q "$value")"
  done
}

case "${1:-}" in
  start) start ;;
  env) print_env ;;
  stop) RUN_DIR="$AIRFLOW_HOME/run"; stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
