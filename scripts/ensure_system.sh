#!/usr/bin/env bash
# Make sure the system programs Tandem needs are present: Java (for Spark) and redis-server.
# Installs them with apt-get when missing and running as root; otherwise says what to install.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_system: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "ensure_system: missing ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}) and re-run" >&2
  exit 1
fi
