#!/bin/sh
# pip install for the image builds: from the wheelhouse mounted at /wheelhouse when it holds
# wheels (air-gapped: --no-index --find-links, any --index-url/--extra-index-url argument is
# dropped), else from the index the arguments name (PyPI by default).
#   tandem-pip [--index-url URL] ARGS...
set -eu
if ls /wheelhouse/*.whl >/dev/null 2>&1; then
  set -- "$@" --no-index --find-links /wheelhouse
  n=$#
  i=0
  skip=0
  for arg in "$@"; do
    i=$((i + 1))
    if [ "$skip" = 1 ]; then skip=0
    elif [ "$i" -le "$((n - 3))" ] && { [ "$arg" = --index-url ] || [ "$arg" = --extra-index-url ]; }; then skip=1
    else set -- "$@" "$arg"
    fi
  done
  shift "$n"
fi
exec pip install --no-cache-dir --disable-pip-version-check "$@"
