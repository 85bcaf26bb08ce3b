#!/bin/sh
# Entrypoint of the Airflow image: refuse placeholder secrets, write the simple auth manager's
# passwords file from AIRFLOW_ADMIN_PASSWORD (when set), then run the command.
# A secret that is set must be 16 characters or more and not a placeholder; the Fernet key must
# be 44 characters of url-safe base64 (32 bytes).
set -eu

refuse() {
  echo "airflow-entrypoint: refusing to start: $1" >&2
  exit 78
}

check() {  # check NAME VALUE
  [ "${#2}" -ge 16 ] || refuse "$1 is shorter than 16 characters"
  lower="$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')"
  case "$lower" in
    *change*|*placeholder*|*secret*|*password*|*example*|*default*|*xxxx*)
      refuse "$1 looks like a placeholder" ;;
  esac
}

for name in AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY AIRFLOW__CORE__FERNET_KEY \
            AIRFLOW_ADMIN_PASSWORD; do
  value="$(printenv "$name" || true)"
  [ -n "$value" ] && check "$name" "$value"
done
fernet="${AIRFLOW__CORE__FERNET_KEY:-}"
if [ -n "$fernet" ]; then
  [ "${#fernet}" -eq 44 ] && printf '%s' "$fernet" | grep -Eq '^[A-Za-z0-9_-]{43}=$' \
    || refuse "AIRFLOW__CORE__FERNET_KEY is not a Fernet key (32 url-safe base64 bytes)"
fi

if [ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]; then
  file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-${AIRFLOW_HOME:-/opt/airflow}/simple_auth_manager_passwords.json.generated}"
  mkdir -p "$(dirname "$file")"
  (umask 077; python -c 'import json, os, sys; json.dump({os.environ.get("AIRFLOW_ADMIN_USER", "admin"): os.environ["AIRFLOW_ADMIN_PASSWORD"]}, open(sys.argv[1], "w"))' "$file")
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$file"
fi
exec "$@"
