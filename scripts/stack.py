#!/usr/bin/env python3
"""The whole Tandem stack in containers on one machine, driven with podman (or docker).

    python3 scripts/stack.py images [--registry|--local] [--no-cache]   # build every image
    python3 scripts/stack.py up                     # secrets, configs, start, wait on healthchecks
    python3 scripts/stack.py down [--volumes]       # remove the containers (and the volumes)
    python3 scripts/stack.py switch [blue|green]    # blue-green: move the proxy, graceful reload
    python3 scripts/stack.py status

`make images`, `make stack`, `make stack-down` and `make stack-e2e` call it. Standard library
only. Every container shares the host network (rootful podman in an unprivileged CI container has
no working bridge) and listens on 127.0.0.1 only, each on its own port (PORTS; override the
first one with TANDEM_STACK_PORT_BASE, the rest follow). docker/compose.yaml describes the same
stack for Docker users (service names on a bridge network); tests/deploy/test_stack.py keeps the
two in step.

Images: `--local` (the default when no registry answers) builds the bases from Debian packages
(scripts/build_base_images.sh), fills docker/wheelhouse/ (scripts/fill_wheelhouse.sh) and builds
the images with `--network none`; `--registry` uses the official bases and the package indexes.

Secrets: `up` generates real ones into var/stack/stack.env (mode 600, untracked) when missing and
refuses to start with an empty, short or placeholder value (JWT secret, Fernet key, admin token,
database and Redis passwords).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "stack"
ENV_FILE = VAR / "stack.env"
STATE_FILE = VAR / "images.json"
LABEL = "io.tandem.stack=1"
LOOPBACK = "127.0.0.1"
COLOURS = ("blue", "green")

_BASE_PORT = int(os.environ.get("TANDEM_STACK_PORT_BASE", "18000"))
_PORT_OFFSETS = {
    "proxy": 0,
    "blue": 1,
    "green": 2,
    "airflow": 80,
    "spark": 677,
    "spark_ui": 681,
    "spark_worker_ui": 682,
    "prometheus": 90,
    "redis": 379,
    "postgres": 432,
    "airflow_logs": 793,
    "triggerer_logs": 794,
    "scheduler_health": 974,
}
PORTS = {name: _BASE_PORT + off for name, off in _PORT_OFFSETS.items()}

LOCAL_BASE = "localhost/tandem-base"
BASES = {
    # role: (local Debian-built image, registry image)
    "python": (f"{LOCAL_BASE}/python:3.11-bookworm", "python:3.11-slim-bookworm"),
    "python-java": (f"{LOCAL_BASE}/python-java:3.11-bookworm", "python:3.11-slim-bookworm"),
    "redis": (f"{LOCAL_BASE}/redis:bookworm", "docker.io/library/redis:7.4-alpine"),
    "postgres": (f"{LOCAL_BASE}/postgres:bookworm", "docker.io/library/postgres:16-alpine"),
    "prometheus": (f"{LOCAL_BASE}/prometheus:bookworm", "docker.io/prom/prometheus:v2.53.4"),
    "proxy": (f"{LOCAL_BASE}/nginx:bookworm", "docker.io/library/nginx:1.27-bookworm"),
}
# our images: name -> (Dockerfile, base role)
IMAGES = {
    "online": ("docker/online.Dockerfile", "python"),
    "batch-cpu": ("docker/batch-cpu.Dockerfile", "python-java"),
    "airflow": ("docker/airflow.Dockerfile", "python-java"),
}
TAG = os.environ.get("TANDEM_STACK_TAG", "dev")

# the secrets of the stack; each must be long and random (a placeholder is refused)
SECRETS = (
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
    "TANDEM_ADMIN_TOKEN",
)
PLACEHOLDERS = ("change", "placeholder", "secret", "password", "example", "default", "xxxx")
MIN_SECRET_LEN = 16


class StackError(Exception):
    """A step of the stack failed; the message says which and where to look."""


# --------------------------------------------------------------------------- engine


def engine() -> str:
    found = os.environ.get("CONTAINER_ENGINE") or shutil.which("podman") or shutil.which("docker")
    if not found:
        raise StackError("neither podman nor docker is installed (bash scripts/podman_setup.sh)")
    return found


def is_podman() -> bool:
    return Path(engine()).name.startswith("podman")


def run(
    *args: str, check: bool = True, timeout: float = 600, quiet: bool = False
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [engine(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise StackError(
            f"{Path(engine()).name} {' '.join(args[:3])}: {proc.stderr.strip()[-800:]}"
        )
    if not quiet and proc.returncode != 0:
        print(proc.stderr.strip()[-400:], file=sys.stderr)
    return proc


# --------------------------------------------------------------------------- images


def registry_answers(timeout_s: float = 5.0) -> bool:
    """Docker Hub answers its API root (401 without a token counts as an answer)."""
    try:
        urllib.request.urlopen("https://registry-1.docker.io/v2/", timeout=timeout_s)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def image_name(name: str) -> str:
    return f"localhost/tandem-{name}:{TAG}"


def load_state() -> dict[str, object]:
    if STATE_FILE.exists():
        return json.loads(STATE_FILE.read_text())  # type: ignore[no-any-return]
    return {}


def base_image(role: str, state: dict[str, object] | None = None) -> str:
    mode = (state or load_state()).get("mode", "local")
    local, registry = BASES[role]
    return local if mode == "local" else registry


def wheelhouse_current() -> bool:
    """docker/wheelhouse/ was filled from the committed constraints.txt (its stamp matches)."""
    stamp = ROOT / "docker" / "wheelhouse" / ".constraints.sha256"
    head = subprocess.run(
        ["git", "show", "HEAD:constraints.txt"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return stamp.exists() and stamp.read_text().strip() == hashlib.sha256(head).hexdigest()


def build_context(dest: Path, *, worktree: bool = False) -> Path:
    """The build context: the committed tree (``git archive HEAD``, what a fresh clone builds)
    or, with ``worktree``, the repository itself; the wheelhouse's wheels linked in."""
    if worktree:
        return ROOT
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    for wheel in (ROOT / "docker" / "wheelhouse").glob("*.whl"):
        os.link(wheel, dest / "docker" / "wheelhouse" / wheel.name)
    return dest


def build_one(
    name: str, context: Path, mode: str, *, no_cache: bool = False, log_name: str = ""
) -> tuple[float, Path]:
    """Build one image of ours from ``context``; returns (seconds, build log)."""
    dockerfile, role = IMAGES[name]
    args = ["build", "-f", dockerfile, "-t", image_name(name)]
    args += ["--build-arg", f"PYTHON_IMAGE={base_image(role, {'mode': mode})}"]
    if mode == "local":
        args += ["--network", "none"]  # air-gapped: everything from the bases and wheelhouse
    if no_cache:
        args.append("--no-cache")
    log = VAR / f"build-{log_name or name}.log"
    t0 = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            ["nice", "-n", "10", engine(), *args, str(context)],
            cwd=context,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=3600,
            check=False,
        )
    if proc.returncode != 0:
        raise StackError(f"building {name} failed, see {log}")
    return round(time.monotonic() - t0, 1), log


def build_images(mode: str, *, no_cache: bool = False, worktree: bool = False) -> dict[str, float]:
    """Build every image of ours; returns seconds per image (and the bases' in local mode)."""
    VAR.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    state: dict[str, object] = {"mode": mode}
    if mode == "local":
        t0 = time.monotonic()
        subprocess.run(["bash", str(ROOT / "scripts" / "build_base_images.sh")], check=True)
        times["bases"] = round(time.monotonic() - t0, 1)
        if not wheelhouse_current():
            t0 = time.monotonic()
            subprocess.run(["bash", str(ROOT / "scripts" / "fill_wheelhouse.sh")], check=True)
            times["wheelhouse"] = round(time.monotonic() - t0, 1)
    context = build_context(VAR / "context", worktree=worktree)
    for name in IMAGES:
        times[name], _ = build_one(name, context, mode, no_cache=no_cache)
        print(f"stack: built {image_name(name)} in {times[name]} s", flush=True)
    STATE_FILE.write_text(json.dumps(state))
    return times


def image_sizes() -> dict[str, int]:
    names = [image_name(n) for n in IMAGES] + [base_image(r) for r in BASES]
    sizes: dict[str, int] = {}
    for name in dict.fromkeys(names):
        proc = run("image", "inspect", "--format", "{{.Size}}", name, check=False, quiet=True)
        if proc.returncode == 0:
            sizes[name] = int(proc.stdout.strip())
    return sizes


# --------------------------------------------------------------------------- secrets


def _random_secret(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":  # a Fernet key: 32 random bytes, url-safe base64
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_hex(24)


def read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
    return env


def secret_problem(name: str, value: str) -> str | None:
    """Why ``value`` is refused as ``name``, or None."""
    if len(value) < MIN_SECRET_LEN:
        return f"{name} is empty or shorter than {MIN_SECRET_LEN} characters"
    low = value.lower()
    if any(p in low for p in PLACEHOLDERS) or len(set(value)) < 6:
        return f"{name} looks like a placeholder"
    if name == "AIRFLOW_FERNET_KEY":
        try:
            if len(base64.urlsafe_b64decode(value.encode())) != 32:
                return f"{name} is not a Fernet key (32 url-safe base64 bytes)"
        except ValueError:
            return f"{name} is not a Fernet key (32 url-safe base64 bytes)"
    return None


def ensure_secrets(path: Path = ENV_FILE) -> dict[str, str]:
    """Generate the missing secrets into ``path`` (0600); refuse placeholders."""
    env = read_env(path)
    added = [n for n in SECRETS if not env.get(n)]
    for name in added:
        env[name] = _random_secret(name)
    problems = [p for n in SECRETS if (p := secret_problem(n, env[n]))]
    if problems:
        raise StackError(f"{path}: refusing to start: " + "; ".join(problems))
    if added:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# generated by scripts/stack.py; keep private, never commit\n")
            out.writelines(f"{k}={v}\n" for k, v in env.items())
        print(f"stack: generated {', '.join(added)} into {path}")
    os.chmod(path, 0o600)
    return env


# --------------------------------------------------------------------------- services


@dataclass
class Service:
    name: str
    image: str
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    health: list[str] | None = None  # exec form, run inside the container
    user: str | None = None
    entrypoint: str | None = None
    read_only: bool = True
    tmpfs: tuple[str, ...] = ("/tmp",)
    one_shot: bool = False
    health_timeout_s: float = 600
    #: services of one stage start together, after every earlier stage is healthy
    stage: int = 0

    @property
    def container(self) -> str:
        return f"tandem-{self.name}"


def redis_url(env: dict[str, str]) -> str:
    return f"redis://:{env['REDIS_PASSWORD']}@{LOOPBACK}:{PORTS['redis']}/0"


def _http_probe(port: int, path: str) -> list[str]:
    return [
        "python",
        "-c",
        "import urllib.request; "
        f"urllib.request.urlopen('http://{LOOPBACK}:{port}{path}', timeout=3)",
    ]


def airflow_env(env: dict[str, str]) -> dict[str, str]:
    api = f"http://{LOOPBACK}:{PORTS['airflow']}"
    out = {
        "AIRFLOW_HOME": "/tmp/airflow",  # airflow.cfg and run files on the tmpfs (read-only root)
        "AIRFLOW__CORE__DAGS_FOLDER": "/opt/airflow/dags",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": "/opt/airflow/logs",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
        "simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW_ADMIN_PASSWORD": env["AIRFLOW_ADMIN_PASSWORD"],  # the entrypoint writes the file
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__CORE__FERNET_KEY": env["AIRFLOW_FERNET_KEY"],
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://airflow:"
        f"{env['POSTGRES_PASSWORD']}@{LOOPBACK}:{PORTS['postgres']}/airflow",
        "AIRFLOW__API_AUTH__JWT_SECRET": env["AIRFLOW_JWT_SECRET"],
        "AIRFLOW__API__SECRET_KEY": env["AIRFLOW_API_SECRET_KEY"],
        "AIRFLOW__API__HOST": LOOPBACK,
        "AIRFLOW__API__PORT": str(PORTS["airflow"]),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "12",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": LOOPBACK,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(PORTS["scheduler_health"]),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(PORTS["airflow_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(PORTS["triggerer_logs"]),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW_CONN_SPARK_DEFAULT": f"spark://{LOOPBACK}:{PORTS['spark']}",
        "TANDEM_REDIS_URL": redis_url(env),
        "TANDEM_EMBED_MODE": os.environ.get("TANDEM_EMBED_MODE", "spark_submit"),
        "SPARK_LOCAL_IP": LOOPBACK,
        "TOKENIZERS_PARALLELISM": "false",
        **TIERS,
    }
    for name in ("TANDEM_GATE_ANSWERS", "TANDEM_HOT_TOP_K", "TANDEM_ALERTS__WEBHOOK_URL"):
        if os.environ.get(name):
            out[name] = os.environ[name]
    return out


#: the tiers' models (docs/MODELS.md): not in any image. `up` publishes the host's verified
#: copies (`make setup` installs them) into the shared volume's artifact store
#: (/data/model-artifacts); each container fetches its tier's model into its own models volume,
#: verifies the sha256 and only then starts its engine. TANDEM_LLM_MODEL /
#: TANDEM_DEEP_LLM_MODEL pick others (SmolLM2-135M-Instruct-Q4_1, in the images, for a quick run).
DEFAULT_TIERS = {
    "TANDEM_LLM_MODEL": "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M",
    "TANDEM_DEEP_LLM_MODEL": "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M",
}
TIERS = {
    **{name: os.environ.get(name, model) for name, model in DEFAULT_TIERS.items()},
    "TANDEM_MODELS_DIR": "/models",
}
#: the model the images carry (nothing to publish)
BUNDLED_MODEL = "SmolLM2-135M-Instruct-Q4_1"
HOST_MODELS = Path(
    os.environ.get("TANDEM_MODELS_DIR", str(Path.home() / ".cache" / "tandem" / "models"))
)


def models_to_publish() -> list[str]:
    names = [TIERS["TANDEM_LLM_MODEL"], TIERS["TANDEM_DEEP_LLM_MODEL"]]
    return sorted({n for n in names if n != BUNDLED_MODEL})


def online_env(env: dict[str, str], colour: str) -> dict[str, str]:
    return {
        "TANDEM_HOST": LOOPBACK,
        "TANDEM_PORT": str(PORTS[colour]),
        "TANDEM_REDIS_URL": redis_url(env),
        "TANDEM_DATA_DIR": "/data",
        "TANDEM_LOG_JSON": "true",
        "TANDEM_ADMIN_TOKEN": env["TANDEM_ADMIN_TOKEN"],
        **TIERS,
        "TOKENIZERS_PARALLELISM": "false",
    }


def services(env: dict[str, str]) -> list[Service]:
    """Every service, in start order."""
    state = load_state()
    airflow = image_name("airflow")
    batch = image_name("batch-cpu")
    online = image_name("online")
    af_env = airflow_env(env)
    af_volumes = [
        "tandem-data:/data",
        "tandem-models-airflow:/models",  # the deep tier's model, fetched and verified at start
        "tandem-airflow-logs:/opt/airflow/logs",
        f"{VAR / 'corpus'}:/corpus:ro",
    ]
    spark_env = {
        "SPARK_LOCAL_IP": LOOPBACK,
        "SPARK_WORKER_DIR": "/tmp/spark-work",
        "SPARK_WORKER_CORES": "2",
        "SPARK_WORKER_MEMORY": "3g",
        "TANDEM_REDIS_URL": redis_url(env),
        "TOKENIZERS_PARALLELISM": "false",
    }
    out = [
        Service(
            "redis",
            base_image("redis", state),
            [
                "redis-server",
                "--bind",
                LOOPBACK,
                "--port",
                str(PORTS["redis"]),
                "--requirepass",
                env["REDIS_PASSWORD"],
                "--appendonly",
                "yes",
                "--dir",
                "/data",
                "--maxmemory",
                "1gb",
                "--maxmemory-policy",
                "volatile-lru",
            ],
            env={"REDISCLI_AUTH": env["REDIS_PASSWORD"]},
            volumes=["tandem-redis-data:/data"],
            health=["redis-cli", "-p", str(PORTS["redis"]), "ping"],
            user="redis" if state.get("mode", "local") == "local" else "999:999",
        ),
        Service(
            "postgres",
            base_image("postgres", state),
            ["postgres", "-c", f"listen_addresses={LOOPBACK}", "-c", f"port={PORTS['postgres']}"]
            if state.get("mode", "local") != "local"
            else ["postgres"],
            env={
                "POSTGRES_USER": "airflow",
                "POSTGRES_PASSWORD": env["POSTGRES_PASSWORD"],
                "POSTGRES_DB": "airflow",
                "PGPORT": str(PORTS["postgres"]),
                "PGHOST_LISTEN": LOOPBACK,
            },
            volumes=["tandem-postgres-data:/var/lib/postgresql/data"],
            health=["pg_isready", "-h", LOOPBACK, "-p", str(PORTS["postgres"]), "-U", "airflow"],
            user="postgres" if state.get("mode", "local") == "local" else "70:70",
        ),
        models_publish_service(airflow),
        Service(
            "airflow-init",
            airflow,
            ["airflow", "db", "migrate"],
            env=af_env,
            volumes=af_volumes,
            one_shot=True,
            stage=1,
        ),
        Service(
            "spark-master",
            batch,
            [
                "--host",
                LOOPBACK,
                "--port",
                str(PORTS["spark"]),
                "--webui-port",
                str(PORTS["spark_ui"]),
            ],
            env=spark_env,
            entrypoint="spark-class org.apache.spark.deploy.master.Master",
            health=_http_probe(PORTS["spark_ui"], "/"),
            user="50000:0",
            stage=2,
        ),
        Service(
            "spark-worker",
            batch,
            [
                f"spark://{LOOPBACK}:{PORTS['spark']}",
                "--host",
                LOOPBACK,
                "--webui-port",
                str(PORTS["spark_worker_ui"]),
            ],
            env=spark_env,
            volumes=["tandem-data:/data", f"{VAR / 'corpus'}:/corpus:ro"],
            entrypoint="spark-class org.apache.spark.deploy.worker.Worker",
            health=_http_probe(PORTS["spark_worker_ui"], "/"),
            user="50000:0",
            stage=3,
        ),
    ]
    jobs_check = 'airflow jobs check --job-type {} --hostname "$HOSTNAME"'
    airflow_parts = {
        "apiserver": ("api-server", _http_probe(PORTS["airflow"], "/api/v2/monitor/health")),
        "scheduler": ("scheduler", _http_probe(PORTS["scheduler_health"], "/health")),
        "dag-processor": ("dag-processor", ["sh", "-c", jobs_check.format("DagProcessorJob")]),
        "triggerer": ("triggerer", ["sh", "-c", jobs_check.format("TriggererJob")]),
    }
    for part, (command, health) in airflow_parts.items():
        out.append(
            Service(
                f"airflow-{part}",
                airflow,
                ["airflow", command],
                env=af_env,
                volumes=af_volumes,
                health=health,
                stage=3,
            )
        )
    for colour in COLOURS:
        out.append(
            Service(
                f"online-{colour}",
                online,
                ["serve"],
                env=online_env(env, colour),
                volumes=["tandem-data:/data:ro", f"tandem-models-{colour}:/models"],
                # live, not ready: /readyz answers 200 only once an index is published
                health=_http_probe(PORTS[colour], "/healthz"),
                stage=3,
            )
        )
    out += [
        Service(
            "worker",
            online,
            ["worker"],
            env=online_env(env, "blue"),  # binds no port
            volumes=["tandem-data:/data:ro", "tandem-models-worker:/models"],
            health=[
                "python",
                "-c",
                "import os, redis; redis.Redis.from_url(os.environ['TANDEM_REDIS_URL']).ping()",
            ],
            stage=3,
        ),
        Service(
            "proxy",
            base_image("proxy", state),
            ["nginx", "-g", "daemon off;"],
            volumes=[
                f"{VAR / 'proxy' / 'nginx.conf'}:/etc/nginx/nginx.conf:ro",
                f"{VAR / 'proxy'}:/etc/nginx/tandem:ro",
            ],
            entrypoint="",
            health=_http_probe_no_python(PORTS["proxy"], "/proxy/healthz", state),
            stage=4,
            user="33:33",
        ),
        Service(
            "prometheus",
            base_image("prometheus", state),
            [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                f"--web.listen-address={LOOPBACK}:{PORTS['prometheus']}",
            ],
            volumes=[
                f"{VAR / 'prometheus'}:/etc/prometheus:ro",
                "tandem-prometheus-data:/prometheus",
            ],
            health=_http_probe_no_python(PORTS["prometheus"], "/-/ready", state),
            stage=4,
        ),
    ]
    return out


def _http_probe_no_python(port: int, path: str, state: dict[str, object]) -> list[str]:
    """Images without Python or curl: busybox wget (official images) or bash's /dev/tcp (the
    Debian bases) speaks enough HTTP for a probe."""
    if state.get("mode", "local") != "local":
        return ["wget", "-q", "-O", "/dev/null", f"http://{LOOPBACK}:{port}{path}"]
    script = (
        f"exec 3<>/dev/tcp/{LOOPBACK}/{port} && "
        f"printf 'GET {path} HTTP/1.0\\r\\nHost: {LOOPBACK}\\r\\n\\r\\n' >&3 && "
        "head -n 1 <&3 | grep -q ' 200 '"
    )
    return ["bash", "-c", script]


# --------------------------------------------------------------------------- configs


def upstream_conf(live: str, *, addresses: dict[str, str], fallback: bool = True) -> str:
    """The proxy's upstream block: the live colour first, the other one as the fallback."""
    other = COLOURS[1 - COLOURS.index(live)]
    lines = [
        f"# live colour: {live} (written by the release switch; then nginx -s reload)",
        "upstream tandem_live {",
        f"  server {addresses[live]} max_fails=1 fail_timeout=2s;",
    ]
    if fallback:
        lines.append(f"  server {addresses[other]} backup;")
    lines += ["  keepalive 16;", "}", ""]
    return "\n".join(lines)


LOCAL_ADDRESSES = {c: f"{LOOPBACK}:{PORTS[c]}" for c in COLOURS}


def live_colour() -> str:
    """The colour the proxy sends traffic to (the first line of its upstream file names it)."""
    path = VAR / "proxy" / "upstream.conf"
    if path.exists():
        words = path.read_text().split(maxsplit=4)
        if words[1:3] == ["live", "colour:"] and words[3] in COLOURS:
            return words[3]
    return "blue"


def render_configs(env: dict[str, str]) -> None:
    """Proxy, Prometheus and Airflow files under var/stack/, from the files in docker/."""
    docker = ROOT / "docker"
    proxy = VAR / "proxy"
    proxy.mkdir(parents=True, exist_ok=True)
    nginx = (docker / "proxy" / "nginx.conf").read_text()
    (proxy / "nginx.conf").write_text(
        nginx.replace("listen 8080;", f"listen {LOOPBACK}:{PORTS['proxy']};")
    )
    if not (proxy / "upstream.conf").exists():
        (proxy / "upstream.conf").write_text(upstream_conf("blue", addresses=LOCAL_ADDRESSES))
    prom = VAR / "prometheus"
    prom.mkdir(parents=True, exist_ok=True)
    config = (docker / "prometheus" / "prometheus.yml").read_text()
    for colour in COLOURS:
        config = config.replace(f"online-{colour}:8000", LOCAL_ADDRESSES[colour])
    config = config.replace("localhost:9090", f"{LOOPBACK}:{PORTS['prometheus']}")
    (prom / "prometheus.yml").write_text(config)
    for rules in (docker / "prometheus").glob("*.rules.yml"):
        shutil.copy(rules, prom / rules.name)
    (VAR / "corpus").mkdir(parents=True, exist_ok=True)
    for path in (proxy, prom, VAR / "corpus"):  # read by the containers' users
        os.chmod(path, 0o755)
        for f in path.iterdir():
            os.chmod(f, 0o644)


# --------------------------------------------------------------------------- lifecycle


def exists(container: str) -> bool:
    return run("container", "inspect", container, check=False, quiet=True).returncode == 0


def start(svc: Service) -> None:
    args = ["run", "--name", svc.container, "--label", LABEL, "--network", "host"]
    args += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    if svc.read_only:
        args.append("--read-only")
        for path in svc.tmpfs:
            args += ["--tmpfs", f"{path}:rw,nosuid,nodev,size=1g,mode=1777"]
    if svc.user:
        args += ["--user", svc.user]
    if svc.entrypoint is not None:
        args += ["--entrypoint", json.dumps(svc.entrypoint.split()) if svc.entrypoint else '[""]']
    for key, value in svc.env.items():
        args += ["--env", f"{key}={value}"]
    for volume in svc.volumes:
        args += ["--volume", volume]
    if svc.health:
        args += ["--health-cmd", json.dumps(svc.health), "--health-interval", "30s"]
        args += ["--health-retries", "3", "--health-timeout", "10s"]
    if svc.one_shot:
        args.append("--rm")
        proc = run(*args, svc.image, *svc.command, check=False, timeout=900)
        if proc.returncode != 0:
            raise StackError(f"{svc.name} failed: {(proc.stdout + proc.stderr)[-1500:]}")
        return
    args += ["--detach", "--restart", "unless-stopped"]
    run(*args, svc.image, *svc.command)


def healthy(svc: Service) -> bool:
    if not svc.health:
        return True
    proc = run("exec", svc.container, *svc.health, check=False, quiet=True, timeout=60)
    return proc.returncode == 0


def wait_healthy(svc: Service, *, timeout_s: float | None = None) -> float:
    """Seconds until the service's healthcheck passed; raises with its log when it does not."""
    t0 = time.monotonic()
    deadline = t0 + (timeout_s or svc.health_timeout_s)
    while time.monotonic() < deadline:
        state = run(
            "inspect", "--format", "{{.State.Status}}", svc.container, check=False, quiet=True
        )
        if state.stdout.strip() in ("exited", "dead"):
            break
        if healthy(svc):
            if is_podman():  # record it in podman's own health state too (no systemd timers here)
                run("healthcheck", "run", svc.container, check=False, quiet=True)
            return time.monotonic() - t0
        time.sleep(2)  # poll the healthcheck
    logs = run("logs", "--tail", "40", svc.container, check=False, quiet=True)
    raise StackError(
        f"{svc.name} not healthy after {time.monotonic() - t0:.0f} s:\n{logs.stdout}{logs.stderr}"
    )


def data_volume() -> None:
    """The shared index volume, owned by the batch side's uid (Airflow and Spark write it as
    50000:0; online reads it, world-readable)."""
    if run("volume", "inspect", "tandem-data", check=False, quiet=True).returncode == 0:
        return
    run("volume", "create", "--label", LABEL, "tandem-data")
    run(
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0",
        "--volume",
        "tandem-data:/data",
        "--entrypoint",
        "chown",
        image_name("airflow"),
        "50000:0",
        "/data",
    )


def check_host_models() -> None:
    """The tiers' models must be in this machine's store before `up` publishes them."""
    missing = [n for n in models_to_publish() if not (HOST_MODELS / n).is_dir()]
    if missing:
        raise StackError(
            f"models {', '.join(missing)} are not in {HOST_MODELS}: run `make setup` (or "
            f"`tandem models install {' '.join(missing)}`) first, or set TANDEM_LLM_MODEL / "
            f"TANDEM_DEEP_LLM_MODEL={BUNDLED_MODEL} for the bundled one"
        )


def models_publish_service(image: str) -> Service:
    """One-shot: `tandem models publish` of the tiers' models from this machine's store (it
    verifies the copy first) into the shared volume's artifact store; a model already published
    there is left as it is."""
    script = " && ".join(
        f"{{ [ -d /data/model-artifacts/{n} ] || tandem models publish {n}; }}"
        for n in models_to_publish()
    )
    return Service(
        "models-publish",
        image,
        ["-c", script or "true"],
        env={"TANDEM_MODELS_DIR": "/host-models", "TANDEM_DATA_DIR": "/data"},
        volumes=["tandem-data:/data", f"{HOST_MODELS}:/host-models:ro"],
        entrypoint="sh",
        user="50000:0",
        one_shot=True,
        stage=1,
    )


def up() -> dict[str, float]:
    """Start every service not running yet, in order, each once its dependencies are healthy."""
    env = ensure_secrets()
    render_configs(env)
    data_volume()
    check_host_models()
    t0 = time.monotonic()
    waited: dict[str, float] = {}
    stages: dict[int, list[Service]] = {}
    for svc in services(env):
        stages.setdefault(svc.stage, []).append(svc)
    for stage in sorted(stages):
        started = []
        for svc in stages[stage]:
            if not svc.one_shot and exists(svc.container):
                state = run("inspect", "--format", "{{.State.Status}}", svc.container)
                if state.stdout.strip() != "running":
                    run("start", svc.container)
            else:
                start(svc)
            if svc.one_shot:
                waited[svc.name] = round(time.monotonic() - t0, 1)
                print(f"stack: {svc.name} done ({waited[svc.name]:.0f} s)", flush=True)
            else:
                started.append(svc)
        for svc in started:
            wait_healthy(svc)
            waited[svc.name] = round(time.monotonic() - t0, 1)
            print(f"stack: {svc.name} up ({waited[svc.name]:.0f} s)", flush=True)
    waited["total"] = round(time.monotonic() - t0, 1)
    print(
        f"stack: up in {waited['total']} s: proxy http://{LOOPBACK}:{PORTS['proxy']}, Airflow "
        f"http://{LOOPBACK}:{PORTS['airflow']} (admin, password AIRFLOW_ADMIN_PASSWORD in "
        f"{ENV_FILE.relative_to(ROOT)}), Prometheus http://{LOOPBACK}:{PORTS['prometheus']}; "
        "the online replicas are ready once tandem_index has published an index"
    )
    return waited


def down(*, volumes: bool) -> None:
    ids = run("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if ids:
        run("rm", "-f", "-t", "10", *ids, timeout=300)
    print(f"stack: removed {len(ids)} containers")
    if volumes:
        names = [v for v in run("volume", "ls", "-q").stdout.split() if v.startswith("tandem-")]
        if names:
            run("volume", "rm", "-f", *names)
        print(f"stack: removed volumes {' '.join(names) or '(none)'}")


def switch(target: str | None) -> str:
    """Blue-green: point the proxy at ``target`` (default: the other colour), graceful reload."""
    current = live_colour()
    target = target or COLOURS[1 - COLOURS.index(current)]
    path = VAR / "proxy" / "upstream.conf"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(upstream_conf(target, addresses=LOCAL_ADDRESSES))
    os.chmod(tmp, 0o644)
    tmp.replace(path)
    run("exec", "tandem-proxy", "nginx", "-t", "-q")
    run("exec", "tandem-proxy", "nginx", "-s", "reload")
    print(f"stack: live colour {current} -> {target} (proxy reloaded)")
    return target


def status() -> int:
    env = ensure_secrets()
    rc = 0
    for svc in services(env):
        if svc.one_shot:
            continue
        ok = exists(svc.container) and healthy(svc)
        rc |= 0 if ok else 3
        print(f"{svc.name:24} {'healthy' if ok else 'DOWN'}")
    print(f"live colour: {live_colour()}")
    return rc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    images = sub.add_parser("images", help="build every image")
    mode = images.add_mutually_exclusive_group()
    mode.add_argument("--local", action="store_const", const="local", dest="mode")
    mode.add_argument("--registry", action="store_const", const="registry", dest="mode")
    images.add_argument("--no-cache", action="store_true")
    images.add_argument(
        "--worktree", action="store_true", help="build the working tree, not the commit HEAD"
    )
    sub.add_parser("up", help="start the stack and wait on its healthchecks")
    d = sub.add_parser("down", help="remove the stack's containers")
    d.add_argument("--volumes", action="store_true", help="also remove its volumes")
    s = sub.add_parser("switch", help="blue-green: move the proxy to a colour")
    s.add_argument("colour", nargs="?", choices=COLOURS)
    sub.add_parser("status")
    args = parser.parse_args(argv)
    commands: dict[str, Callable[[], object]] = {
        "images": lambda: build_images(
            args.mode or ("registry" if registry_answers() else "local"),
            no_cache=args.no_cache,
            worktree=args.worktree,
        ),
        "up": up,
        "down": lambda: down(volumes=args.volumes),
        "switch": lambda: switch(args.colour),
        "status": status,
    }
    try:
        result = commands[args.cmd]()
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
