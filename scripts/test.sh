#!/usr/bin/env bash
# The test command: lint, format check, type check, then the whole pytest suite.
set -euo pipefail
export PATH="$(pwd)/.venv/bin:$PATH"
export SPARK_LOCAL_IP=127.0.0.1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
echo "== ruff check";        ruff check .
echo "== ruff format";       ruff format --check .
echo "== import contracts";  lint-imports
echo "== mypy";              mypy
echo "== pytest";            pytest -m "not e2e and not browser" --durations=15 "$@"
