#!/usr/bin/env bash
# Make rootful podman usable where it runs inside an unprivileged container or CI job (cgroups v1,
# an OCI runtime that may not raise RLIMIT_NOFILE/NPROC): install podman, runc and debootstrap
# (and python3-yaml: scripts/stack.py reads docker/compose.yaml) when missing, and set in
# podman's system containers.conf, only where the key is not set yet:
#   [containers] default_ulimits = []
#   [engine]     cgroup_manager = "cgroupfs"
#                runtime = "runc"
# A key already present (any value) is left as it is: the owner of the machine decides.
#   bash scripts/podman_setup.sh [--conf PATH]      (default /etc/containers/containers.conf)
set -euo pipefail

conf=/etc/containers/containers.conf
[ "${1:-}" = "--conf" ] && conf="$2"

if [ "$conf" = /etc/containers/containers.conf ]; then
  need=()
  for p in podman runc debootstrap; do
    command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || need+=("$p")
  done
  # scripts/stack.py reads docker/compose.yaml, its catalogue, with PyYAML
  python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "podman_setup: apt-get install ${need[*]}, then re-run" >&2; exit 1; }
    echo "podman_setup: apt-get install ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

mkdir -p "$(dirname "$conf")"
touch "$conf"
python3 - "$conf" <<'PY'
"""Add each wanted key to its [section] unless the section already sets it."""
import re
import sys
import tomllib

path = sys.argv[1]
wanted = {
    "containers": {"default_ulimits": "[]"},
    "engine": {"cgroup_manager": '"cgroupfs"', "runtime": '"runc"'},
}
text = open(path, encoding="utf-8").read()
present = tomllib.loads(text)
lines = text.splitlines()
added = []
for section, keys in wanted.items():
    todo = {k: v for k, v in keys.items() if k not in present.get(section, {})}
    if not todo:
        continue
    new = [f"{k} = {v}" for k, v in todo.items()]
    added += [f"[{section}] {line}" for line in new]
    header = next((i for i, l in enumerate(lines) if re.fullmatch(rf"\s*\[{section}\]\s*", l)), None)
    if header is None:
        lines += ["", f"[{section}]", *new]
    else:
        lines[header + 1 : header + 1] = new
if added:
    out = "\n".join(lines) + "\n"
    tomllib.loads(out)  # still valid TOML
    open(path, "w", encoding="utf-8").write(out)
    print(f"podman_setup: {path}: set " + "; ".join(added))
else:
    print(f"podman_setup: {path}: nothing to change")
PY
