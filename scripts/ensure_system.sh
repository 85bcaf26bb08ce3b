#!/usr/bin/env bash
# Make sure the system programs Tandem needs are present: Java (Spark), Redis, PostgreSQL
# (Airflow's metadata DB when configured, and its integration test), curl, python3-venv,
# Prometheus (promtool checks and unit-tests docker/prometheus/*.rules.yml), and
# Chromium for the Airflow UI test (`make test-browser`: Playwright drives Debian's chromium,
# never a downloaded browser).
# Installs what is missing with apt-get when running as root; otherwise says what to install.
# Starts a local PostgreSQL cluster when one is installed but not answering.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v pg_isready >/dev/null 2>&1 || missing+=(postgresql)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)   # promtool: the alert rule tests
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_system: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "ensure_system: missing ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}) and re-run" >&2
    exit 1
  fi
fi

# PostgreSQL: the Airflow integration test talks to 127.0.0.1:5432 (trust auth, user postgres).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$version" ]; then
      conf="/etc/postgresql/$version/main"
      # local trust auth on loopback, as the tests expect (only when nothing else is configured)
      if ! grep -q "tandem-ci" "$conf/pg_hba.conf" 2>/dev/null; then
        sed -i '1i host all all 127.0.0.1/32 trust # tandem-ci\nhost all all ::1/128 trust # tandem-ci\nlocal all all trust # tandem-ci' "$conf/pg_hba.conf"
      fi
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
      for _ in $(seq 1 100); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 0.1   # poll until the server accepts connections
      done
    fi
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 \
    || echo "ensure_system: no PostgreSQL answers at 127.0.0.1:5432; the PostgreSQL test will fail" >&2
fi
