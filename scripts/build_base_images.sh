#!/usr/bin/env bash
# Build the stack's base images from Debian packages, for machines where no container registry
# answers (air-gapped builds, docs/DEPLOY.md). Needs root, podman (or docker), debootstrap and a
# Debian mirror (TANDEM_DEBIAN_MIRROR, default http://deb.debian.org/debian; an internal mirror
# or apt proxy behind a firewall). Images, all localhost/tandem-base/*:
#   debian:bookworm               debootstrap --variant=minbase bookworm, then `podman import`
#   python:3.11-bookworm          + python3 python3-venv python-is-python3  (PYTHON_IMAGE)
#   python-java:3.11-bookworm     + openjdk-17-jre-headless procps tini     (Spark, Airflow)
#   redis:bookworm  postgres:bookworm  prometheus:bookworm  nginx:bookworm
# An image already present is kept (TANDEM_BASE_REBUILD=1 rebuilds). Airflow itself is pip-
# installed on the Python base by docker/airflow.Dockerfile (constraints.txt pins its set).
#   bash scripts/build_base_images.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE="${CONTAINER_ENGINE:-$(command -v podman || command -v docker)}"
MIRROR="${TANDEM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PREFIX=localhost/tandem-base
WORK=var/images
mkdir -p "$WORK"

have() { [ -z "${TANDEM_BASE_REBUILD:-}" ] && "$ENGINE" image inspect "$1" >/dev/null 2>&1; }
timed() {  # timed NAME CMD...: run, print the seconds it took
  local t0=$SECONDS
  "${@:2}"
  echo "build_base_images: $1 built in $((SECONDS - t0)) s"
}

debian_base() {
  local rootfs="$WORK/rootfs-debian"
  rm -rf "$rootfs"
  nice -n 10 debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; return 1; }
  # apt's downloaded packages, lists and docs are not part of the image
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  tar -C "$rootfs" -c . | "$ENGINE" import --change 'CMD ["/bin/bash"]' - "$PREFIX/debian:bookworm"
  rm -rf "$rootfs"
}

build() {  # build NAME TAG [--build-arg ...]: docker/base/NAME.Containerfile
  local name="$1" tag="$2"
  shift 2
  nice -n 10 "$ENGINE" build --network host -q -f "docker/base/$name.Containerfile" \
    -t "$PREFIX/$tag" "$@" docker/base >/dev/null
}

have "$PREFIX/debian:bookworm" || timed debian:bookworm debian_base
have "$PREFIX/python:3.11-bookworm" || timed python build python python:3.11-bookworm
have "$PREFIX/python-java:3.11-bookworm" || timed python-java build python-java python-java:3.11-bookworm
for svc in redis postgres prometheus nginx; do
  have "$PREFIX/$svc:bookworm" || timed "$svc" build "$svc" "$svc:bookworm"
done
"$ENGINE" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^$PREFIX/" | sort
