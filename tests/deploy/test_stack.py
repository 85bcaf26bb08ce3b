"""scripts/stack.py (the podman stack) and scripts/stack_e2e.py: pure logic, no containers.
The stack itself runs in `make stack-e2e`.

docker/compose.yaml is the one catalogue of the stack; `make stack` derives its containers from
it (scripts/stack_catalogue.py, scripts/stack_hostnet.py). These tests fail when the two drift: a
compose key the derivation would drop, an address the host network does not know, a service
without a healthcheck, a second blue-green vocabulary."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import DOCKER, ROOT

sys.path.insert(0, str(ROOT / "scripts"))  # the scripts import each other by name

import stack_catalogue as catalogue
import stack_configs as configs
import stack_e2e
import stack_hostnet as hostnet
import stack_images as images
import stack_lifecycle as lifecycle
import stack_secrets as secrets
from stack_engine import LOOPBACK, StackError

QWEN = {
    "TANDEM_LLM_MODEL": "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M",
    "TANDEM_DEEP_LLM_MODEL": "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M",
}


def _secrets() -> dict[str, str]:
    return {n: secrets.random_secret(n) for n in secrets.SECRETS}


def _services(mode: str = "local", **extra: str) -> dict[str, hostnet.Service]:
    variables = {**_secrets(), **extra}
    return {s.name: s for s in hostnet.services(variables, mode=mode)}


def _compose() -> dict[str, Any]:
    return catalogue.load()


# --------------------------------------------------------------------------- secrets


def test_secrets_are_generated_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "stack.env"
    env = secrets.ensure_secrets(path)
    assert set(env) == set(secrets.SECRETS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(secrets.secret_problem(n, v) is None for n, v in env.items())
    assert secrets.ensure_secrets(path) == env  # a second start keeps them


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AIRFLOW_JWT_SECRET", "change-me-change-me-change-me"),
        ("TANDEM_ADMIN_TOKEN", "short"),
        ("TANDEM_ADMIN_TOKEN", "a" * 40),
        ("AIRFLOW_FERNET_KEY", "bm90IGEgZmVybmV0IGtleSBhdCBhbGwgcmVhbGx5"),
    ],
)
def test_placeholder_secrets_are_refused(tmp_path: Path, name: str, value: str) -> None:
    path = tmp_path / "stack.env"
    secrets.ensure_secrets(path)
    text = "".join(
        f"{line.split('=')[0]}={value}\n" if line.startswith(f"{name}=") else f"{line}\n"
        for line in path.read_text().splitlines()
    )
    path.write_text(text)
    with pytest.raises(StackError, match=name):
        secrets.ensure_secrets(path)


# --------------------------------------------------------------------------- the catalogue


def test_interpolation_is_composes() -> None:
    env = {"A": "a", "E": ""}
    assert catalogue.interpolate("${A}-${B:-b}-${E:-e}-${E-x}-$A-$$A", env) == "a-b-e--a-$A"
    with pytest.raises(StackError, match="E is required: set it"):
        catalogue.interpolate("${E:?set it}", env)
    spec = {"environment": {"A": "${A}", "UNSET": None, "E": None}}
    # `KEY:` without a value is passed through only when set, as compose does
    assert catalogue.environment(spec, env) == {"A": "a", "E": ""}


def test_the_podman_stack_runs_the_compose_services() -> None:
    compose = _compose()["services"]
    default = {n for n, s in compose.items() if "profiles" not in s}
    svcs = _services()
    assert set(svcs) == default
    # started after what they depend on: compose's depends_on is the start order
    for name, spec in compose.items():
        for dep in (spec.get("depends_on") or {}) if name in default else ():
            assert svcs[dep].stage < svcs[name].stage, (name, dep)


def test_every_compose_key_is_honoured_or_left_out_for_a_stated_reason() -> None:
    known = hostnet.HONOURED | set(hostnet.IGNORED)
    for name, spec in catalogue.default_services(_compose()).items():
        assert set(spec) <= known, f"{name}: {set(spec) - known} would be dropped by make stack"


def test_every_listener_of_compose_has_a_loopback_port() -> None:
    compose = _compose()["services"]
    assert {svc for svc, _ in hostnet.LISTENERS} <= set(compose)
    for name, spec in compose.items():
        for port in spec.get("ports", []):
            container_port = int(str(port).rsplit(":", 1)[1])
            assert (name, container_port) in hostnet.LISTENERS, f"{name}: {port}"
    ports = list(hostnet.PORTS.values())
    assert len(set(ports)) == len(ports)
    assert all(18000 <= p <= 18999 for p in ports)
    assert LOOPBACK == "127.0.0.1"


def _strings(svc: hostnet.Service) -> list[str]:
    return [*svc.command, *(svc.entrypoint or []), *(svc.health or []), *svc.env.values()]


@pytest.mark.parametrize("mode", ["local", "registry"])
def test_no_container_is_left_with_a_compose_address(mode: str) -> None:
    """Every `service:port`, `@service` or `//service` of compose became a loopback address:
    a new reference in compose that the host network does not map fails here."""
    names = "|".join(re.escape(n) for n in _compose()["services"])
    compose_host = re.compile(rf"(?:(?<![\w.-])(?:{names}):\d|(?:@|//)(?:{names})(?![\w-]))")
    for svc in _services(mode).values():
        for text in _strings(svc):
            assert not compose_host.search(text), f"{svc.name}: {text}"
            assert "0.0.0.0" not in text, f"{svc.name}: {text}"


def test_every_service_has_a_healthcheck_and_one_shots_are_waited_for() -> None:
    compose = catalogue.default_services(_compose())
    completed = {
        dep
        for spec in compose.values()
        for dep, cond in (spec.get("depends_on") or {}).items()
        if cond["condition"] == "service_completed_successfully"
    }
    for name, svc in _services().items():
        assert svc.one_shot == (name in completed), name
        if not svc.one_shot:
            assert svc.health, name
            assert catalogue.healthcheck(compose[name]), name
    for spec in compose.values():
        for cond in (spec.get("depends_on") or {}).values():
            assert cond["condition"] in catalogue.CONDITIONS


@pytest.mark.parametrize("mode", ["local", "registry"])
def test_every_container_is_hardened(mode: str) -> None:
    for svc in _services(mode).values():
        args = svc.run_args()
        assert "--read-only" in args, svc.name
        assert "/tmp" in svc.tmpfs, svc.name
        assert args[args.index("--cap-drop") + 1] == "ALL", svc.name
        assert args[args.index("--security-opt") + 1] == "no-new-privileges", svc.name
        if svc.user:
            assert svc.user.split(":")[0] not in ("0", "root"), svc.name
        assert svc.network in ("host", "none"), svc.name


def test_each_container_is_its_compose_declaration() -> None:
    """Image, environment, volumes and healthcheck come from compose; the host network only
    moves addresses and adds its listen settings."""
    raw = _compose()
    variables = _secrets()
    svcs = {s.name: s for s in hostnet.services(variables, mode="registry")}
    for name in catalogue.default_services(raw):
        spec = catalogue.resolved(raw, name, variables)
        svc = svcs[name]
        assert set(svc.env) == set(spec["environment"]) | set(hostnet.listen_env(name, svc.env))
        assert [v.split(":", 1)[1] for v in svc.volumes] == [
            v.split(":", 1)[1] for v in spec.get("volumes", [])
        ]
        probe = catalogue.healthcheck(spec)
        assert (svc.health is None) == (probe is None), name
        assert svc.image == images.service_image(spec["image"], "registry")
    assert svcs["redis"].image == "docker.io/library/redis:7.4-alpine"
    assert svcs["online-blue"].image == images.image_name("online")


#: what the podman driver ran before compose became its catalogue (scripts/stack.py at
#: 3739d42), for the listeners and probes: the derivation must put them in the same places
BEFORE = {
    "redis": (
        ["redis-server", "--bind", "127.0.0.1", "--port", "18379"],
        ["redis-cli", "-p", "18379", "ping"],
    ),
    "postgres": (["postgres"], ["pg_isready", "-h", "127.0.0.1", "-p", "18432", "-U", "airflow"]),
    "spark-master": (
        ["--host", "127.0.0.1", "--port", "18677", "--webui-port", "18681"],
        ["http://127.0.0.1:18681/"],
    ),
    "spark-worker": (
        ["spark://127.0.0.1:18677", "--webui-port", "18682", "--host", "127.0.0.1"],
        ["http://127.0.0.1:18682/"],
    ),
    "online-blue": (["serve"], ["http://127.0.0.1:18001/healthz"]),
    "online-green": (["serve"], ["http://127.0.0.1:18002/healthz"]),
    "airflow-apiserver": (["airflow", "api-server"], ["http://127.0.0.1:18080/api/v2/monitor"]),
    "airflow-scheduler": (["airflow", "scheduler"], ["http://127.0.0.1:18974/health"]),
    "prometheus": (["--web.listen-address=127.0.0.1:18090"], ["/dev/tcp/127.0.0.1/18090"]),
    "proxy": ([], ["/dev/tcp/127.0.0.1/18000", "GET /proxy/healthz"]),
}
BEFORE_ENV = {
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://127.0.0.1:18080/execution/",
    "AIRFLOW__API__BASE_URL": "http://127.0.0.1:18080",
    "AIRFLOW__API__PORT": "18080",
    "AIRFLOW_CONN_SPARK_DEFAULT": "spark://127.0.0.1:18677",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": "18974",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "18793",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "18794",
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__API__WORKERS": "1",
    "SPARK_LOCAL_IP": "127.0.0.1",
    "TANDEM_EMBED_MODE": "spark_submit",
}


def test_the_derived_containers_listen_where_the_driver_put_them_before() -> None:
    svcs = _services("local")
    for name, (args, probe) in BEFORE.items():
        command = svcs[name].command
        assert any(command[i : i + len(args)] == args for i in range(len(command) + 1)), name
        health = " ".join(svcs[name].health or [])
        assert all(p in health for p in probe), (name, health)
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-triggerer"):
        env = svcs[name].env
        assert {k: env.get(k) for k in BEFORE_ENV} == BEFORE_ENV, name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@127.0.0.1:18432/airflow")
    for track in hostnet.TRACKS:  # the online replicas' listener is on the command line
        assert svcs[f"online-{track}"].command[-2:] == ["--port", str(hostnet.PORTS[track])]
    for name in ("online-blue", "worker", "spark-worker", "airflow-scheduler"):
        assert svcs[name].env["TANDEM_REDIS_URL"].endswith("@127.0.0.1:18379/0"), name
    # the Debian-built bases run as their own user; the registry's as compose says
    assert svcs["redis"].user is None
    assert _services("registry")["redis"].user == "999:999"
    assert svcs["online-blue"].volumes == [
        "tandem-data:/data:ro",
        "tandem-online-blue-models:/models",
    ]


def test_the_stack_publishes_the_tiers_models_and_every_engine_fetches_its_own(
    tmp_path: Path,
) -> None:
    store = tmp_path / "none"
    svcs = _services(TANDEM_MODELS_DIR=str(store), **QWEN)
    publish = svcs["models-publish"]
    assert publish.one_shot
    assert publish.stage < svcs["online-blue"].stage
    assert publish.stage < svcs["airflow-scheduler"].stage
    assert "tandem models publish" in " ".join(publish.command)
    assert lifecycle.BUNDLED_MODEL in " ".join(publish.command)
    assert lifecycle.host_models(publish) == store
    assert lifecycle.models_to_publish(publish) == sorted(QWEN.values())
    for name in ("online-blue", "online-green", "worker", "airflow-scheduler"):
        env = svcs[name].env
        assert env["TANDEM_MODELS_DIR"] == "/models", name
        assert env["TANDEM_LLM_MODEL"].startswith("Qwen2.5-Coder-0.5B"), name
        assert env["TANDEM_DEEP_LLM_MODEL"].startswith("Qwen2.5-Coder-1.5B"), name
        assert any(v.endswith(":/models") for v in svcs[name].volumes), name
    # `up` refuses to start without the host's copies, naming the command that installs them
    with pytest.raises(StackError, match="make setup"):
        lifecycle.check_host_models(list(svcs.values()))
    # with the bundled model in both tiers there is nothing to publish
    bundled = dict.fromkeys(QWEN, lifecycle.BUNDLED_MODEL)
    svcs = _services(TANDEM_MODELS_DIR=str(store), **bundled)
    lifecycle.check_host_models(list(svcs.values()))


# --------------------------------------------------------------------------- blue-green


def test_one_blue_green_vocabulary_track_as_in_kubernetes() -> None:
    k8s = DOCKER / "k8s" / "base" / "online"
    labels = {
        yaml.safe_load((k8s / f"deployment-{t}.yaml").read_text())["metadata"]["labels"]["track"]
        for t in hostnet.TRACKS
    }
    assert labels == set(hostnet.TRACKS) == {"blue", "green"}
    prom = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "tandem-online"]
    assert {c["labels"]["track"] for c in job["static_configs"]} == set(hostnet.TRACKS)
    words = re.compile(r"colou?r", re.IGNORECASE)
    files = [*(ROOT / "scripts").glob("stack*.py"), DOCKER / "compose.yaml"]
    files += [*(DOCKER / "proxy").iterdir(), *(DOCKER / "prometheus").glob("*.yml")]
    for path in files:
        assert not words.search(path.read_text()), f"{path}: say track, as Kubernetes does"


def test_upstream_names_the_live_track_first_and_the_other_as_backup(tmp_path: Path) -> None:
    conf = configs.upstream_conf("green", addresses={"blue": "b:1", "green": "g:2"})
    servers = [line.split()[1:] for line in conf.splitlines() if line.strip().startswith("server")]
    assert servers[0][0] == "g:2"
    assert servers[1] == ["b:1", "backup;"]
    assert "backup" not in configs.upstream_conf(
        "blue", addresses={"blue": "b", "green": "g"}, fallback=False
    )
    path = tmp_path / "upstream.conf"
    configs.write_upstream("green", path)
    assert configs.live_track(path) == "green"
    # the compose stack's upstream file is the same, on compose's addresses
    committed = (DOCKER / "proxy" / "upstream.conf").read_text()
    assert committed == configs.upstream_conf("blue", addresses=configs.COMPOSE_ADDRESSES)
    assert configs.live_track(DOCKER / "proxy" / "upstream.conf") == "blue"


def test_the_rendered_configs_use_the_loopback_addresses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(configs, "VAR", tmp_path)
    configs.render_configs()
    assert (
        f"listen {LOOPBACK}:{hostnet.PORTS['proxy']};"
        in (tmp_path / "proxy/nginx.conf").read_text()
    )
    assert configs.live_track(tmp_path / "proxy" / "upstream.conf") == "blue"
    prom = yaml.safe_load((tmp_path / "prometheus" / "prometheus.yml").read_text())
    targets = {
        c.get("labels", {}).get("track"): c["targets"][0]
        for j in prom["scrape_configs"]
        for c in j["static_configs"]
    }
    assert targets == {
        "blue": hostnet.TRACK_ADDRESSES["blue"],
        "green": hostnet.TRACK_ADDRESSES["green"],
        None: f"{LOOPBACK}:{hostnet.PORTS['prometheus']}",
    }
    assert (tmp_path / "prometheus" / "tandem.rules.yml").exists()


# --------------------------------------------------------------------------- images, e2e


def test_our_images_are_composes_builds() -> None:
    assert images.IMAGES == {
        "airflow": ("docker/airflow.Dockerfile", "TANDEM_PYTHON_JAVA_IMAGE"),
        "online": ("docker/online.Dockerfile", "TANDEM_PYTHON_IMAGE"),
        "batch-cpu": ("docker/batch-cpu.Dockerfile", "TANDEM_PYTHON_JAVA_IMAGE"),
    }
    assert images.base_image("TANDEM_PYTHON_IMAGE", "registry") == "python:3.11-slim-bookworm"
    assert images.qualified("prom/prometheus:v2.53.4") == "docker.io/prom/prometheus:v2.53.4"
    for spec in _compose()["services"].values():  # every image is ours or a known base
        images.service_image(spec["image"], "local")


def test_the_wheelhouse_stamp_covers_every_list_it_is_filled_from() -> None:
    """A package added to a requirements list (not only a constraints change) refills the
    wheelhouse: online/observer.py's orjson once failed the air-gapped online build because
    the stamp hashed constraints.txt alone, which already pinned it."""
    lists = {f"docker/{p.name}" for p in DOCKER.glob("requirements-*.txt")}
    assert lists | {"constraints.txt"} == set(images.WHEELHOUSE_SOURCES)
    script = (ROOT / "scripts" / "fill_wheelhouse.sh").read_text()
    for path in images.WHEELHOUSE_SOURCES:
        assert f"-r {path}" in script or path == "constraints.txt"
    # the shell's stamp and the Python one agree
    stamp_line = script[script.index("cat constraints.txt") : script.index("| sha256sum")]
    assert stamp_line.replace("\\\n", " ").split()[1:] == list(images.WHEELHOUSE_SOURCES)
    out = subprocess.run(
        ["bash", "-c", f"{stamp_line} | sha256sum"], cwd=ROOT, capture_output=True, check=True
    )
    assert out.stdout.split()[0].decode() == images.wheelhouse_stamp(
        lambda path: (ROOT / path).read_bytes()
    )


def test_rebuilt_steps_reads_a_podman_build_log(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text(
        "[1/2] STEP 1/4: FROM base AS builder\n"
        "[1/2] STEP 2/4: COPY constraints.txt ./\n--> Using cache 0a1b\n--> 0a1b\n"
        "[1/2] STEP 3/4: COPY online ./online\n--> 5c6d\n"
        "[1/2] STEP 4/4: RUN tandem-pip --no-deps .\nSuccessfully installed tandem\n--> 7e8f\n"
    )
    assert stack_e2e.rebuilt_steps(log) == [
        "FROM base AS builder",
        "COPY online ./online",
        "RUN tandem-pip --no-deps .",
    ]


def test_ci_runs_the_stack_e2e_on_images_built_with_the_layer_cache() -> None:
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    job = ci["jobs"]["stack-e2e"]
    builds = [s for s in job["steps"] if "docker/build-push-action" in s.get("uses", "")]
    assert {b["with"]["file"] for b in builds} == {f for f, _ in images.IMAGES.values()}
    assert all(b["with"]["cache-from"].startswith("type=gha") and b["with"]["load"] for b in builds)
    assert {b["with"]["tags"] for b in builds} == {images.image_name(n) for n in images.IMAGES}
    assert any("scripts/stack_e2e.py" in s.get("run", "") for s in job["steps"])


def test_no_stack_module_is_over_300_lines() -> None:
    for path in (ROOT / "scripts").glob("stack*.py"):
        assert len(path.read_text().splitlines()) <= 300, path.name
