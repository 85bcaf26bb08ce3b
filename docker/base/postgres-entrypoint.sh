#!/bin/sh
# First start: initdb with POSTGRES_PASSWORD (scram-sha-256 for every login), create
# POSTGRES_USER and POSTGRES_DB. Then exec the server (listen_addresses from PGHOST_LISTEN,
# default '*'; port PGPORT, default 5432).
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
port="${PGPORT:-5432}"
sockets="${PGSOCKETDIR:-/tmp}"   # on the tmpfs: the root filesystem may be read-only
if [ ! -f "$PGDATA/.initialised" ]; then
  # a first start that did not finish leaves no marker: start over
  find "$PGDATA" -mindepth 1 -delete
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-host=scram-sha-256 --auth-local=scram-sha-256 \
    --encoding=UTF8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p $port -c unix_socket_directories=$sockets" \
    -w start >/dev/null
  if [ "$db" != postgres ]; then
    PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 -h "$sockets" -p "$port" -U "$user" -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  touch "$PGDATA/.initialised"
  echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)"
fi
if [ "${1:-postgres}" = postgres ]; then
  [ $# -gt 0 ] && shift
  exec postgres -D "$PGDATA" -p "$port" -c "listen_addresses=${PGHOST_LISTEN:-*}" \
    -c "unix_socket_directories=$sockets" "$@"
fi
exec "$@"
