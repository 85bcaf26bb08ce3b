"""How `make stack` runs the services of docker/compose.yaml (the one catalogue, read by
stack_catalogue.py): with podman (or docker), every container on the host network (rootful podman
in an unprivileged CI container has no working bridge), each listener on 127.0.0.1 at a port of
its own. What a service is (image, command, environment, volumes, healthcheck, dependencies,
hardening) comes from compose; this module holds only what the host network changes:

- LISTENERS: each listener of compose (service, port) gets a loopback port (PORTS, from
  TANDEM_STACK_PORT_BASE); `service:port` anywhere becomes `127.0.0.1:<its port>`, `--host
  service` 127.0.0.1, a service's own `127.0.0.1:port`, `0.0.0.0:port` and `--port port` its
  port, and `0.0.0.0` 127.0.0.1;
- LISTEN_ENV / LISTEN_ARGS: the settings that move a listener compose leaves at its default;
- named volumes get the `tandem-` prefix, files of docker/ their rendered copy in var/stack/;
- in the air-gapped mode the Debian-built bases run as their own user and probe with bash.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import stack_catalogue as catalogue
import stack_images as images
from stack_engine import LABEL, LOOPBACK, ROOT, VAR

DOCKER = ROOT / "docker"
#: the two tracks of the online tier (the blue-green vocabulary of Kubernetes and `tandem release`)
TRACKS = ("blue", "green")

_BASE_PORT = int(os.environ.get("TANDEM_STACK_PORT_BASE", "18000"))
#: (compose service, the port it listens on in compose) -> (name, offset from the base port)
LISTENERS: dict[tuple[str, int], tuple[str, int]] = {
    ("proxy", 8080): ("proxy", 0),
    ("online-blue", 8000): ("blue", 1),
    ("online-green", 8000): ("green", 2),
    ("airflow-apiserver", 8080): ("airflow", 80),
    ("prometheus", 9090): ("prometheus", 90),
    ("redis", 6379): ("redis", 379),
    ("postgres", 5432): ("postgres", 432),
    ("spark-master", 7077): ("spark", 677),
    ("spark-master", 8081): ("spark_ui", 681),
    ("spark-worker", 8082): ("spark_worker_ui", 682),
    ("airflow-scheduler", 8793): ("airflow_logs", 793),  # Airflow's defaults, moved below
    ("airflow-triggerer", 8794): ("triggerer_logs", 794),
    ("airflow-scheduler", 8974): ("scheduler_health", 974),
}
PORTS = {name: _BASE_PORT + offset for name, offset in LISTENERS.values()}
#: each track's replica on the loopback
TRACK_ADDRESSES = {t: f"{LOOPBACK}:{PORTS[t]}" for t in TRACKS}


def _airflow_listen() -> dict[str, str]:
    """Airflow's listeners compose leaves at their defaults (each container has its own
    network there): on one host network they need distinct ports, on the loopback."""
    return {
        "AIRFLOW__API__HOST": LOOPBACK,
        "AIRFLOW__API__PORT": str(PORTS["airflow"]),
        "AIRFLOW__API__BASE_URL": f"http://{LOOPBACK}:{PORTS['airflow']}",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": LOOPBACK,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(PORTS["scheduler_health"]),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(PORTS["airflow_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(PORTS["triggerer_logs"]),
        "SPARK_LOCAL_IP": LOOPBACK,  # the Spark driver of SparkSubmitOperator
    }


def listen_env(name: str, env: dict[str, str]) -> dict[str, str]:
    """What the host network adds to a service's environment (LISTEN_ENV)."""
    if "AIRFLOW_HOME" in env:  # every Airflow component
        return _airflow_listen()
    if name.startswith("spark-"):  # Spark's daemons and UIs bind SPARK_LOCAL_IP
        return {"SPARK_LOCAL_IP": LOOPBACK}
    return {}


#: arguments the host network adds after a service's command
LISTEN_ARGS = {"spark-worker": ["--host", LOOPBACK]}

_HOSTS = {svc for svc, _ in LISTENERS}


def rewrite(text: str, own: str | None = None) -> str:
    """Compose's addresses in ``text`` as the host network has them (``own``: the service the
    text belongs to, whose own listeners are meant by 127.0.0.1/0.0.0.0/localhost)."""
    for (svc, cport), (name, _) in LISTENERS.items():
        port = PORTS[name]
        text = re.sub(rf"(?<![\w.-]){re.escape(svc)}:{cport}(?!\d)", f"{LOOPBACK}:{port}", text)
        if svc == own:
            text = re.sub(
                rf"(?<![\w.-])(?:127\.0\.0\.1|0\.0\.0\.0|localhost)([:/]){cport}(?!\d)",
                rf"{LOOPBACK}\g<1>{port}",
                text,
            )
            text = re.sub(rf"(^|=){cport}$", rf"\g<1>{port}", text)  # `--port 6379`, `port=5432`
    return re.sub(r"(?<![\w.])0\.0\.0\.0(?![\d.])", LOOPBACK, text)


def rewrite_args(args: list[str], own: str) -> list[str]:
    """``rewrite`` of each argument; a service name after ``--host`` is the loopback too."""
    out: list[str] = []
    for arg in args:
        host = bool(out) and out[-1] in ("--host", "-h") and arg in _HOSTS
        out.append(LOOPBACK if host else rewrite(arg, own))
    return out


def volume(spec: str, named: set[str]) -> str:
    """A compose volume: a named one gets the `tandem-` prefix; a path relative to docker/; a
    file or folder of docker/ is its rendered copy under var/stack/ (stack_configs.py)."""
    source, _, target = spec.partition(":")
    if source in named:
        return f"{source if source.startswith('tandem-') else f'tandem-{source}'}:{target}"
    path = Path(os.path.expanduser(source))
    path = path if path.is_absolute() else (DOCKER / path).resolve()
    if path.is_relative_to(DOCKER):
        path = VAR / path.relative_to(DOCKER)
    return f"{path}:{target}"


def bash_probe(url: str) -> list[str]:
    """An HTTP probe for an image without curl, wget or Python (the Debian-built bases)."""
    parts = urllib.parse.urlsplit(url)
    script = (
        f"exec 3<>/dev/tcp/{parts.hostname}/{parts.port} && "
        f"printf 'GET {parts.path or '/'} HTTP/1.0\\r\\nHost: {parts.hostname}\\r\\n\\r\\n' >&3 && "
        "head -n 1 <&3 | grep -q ' 200 '"
    )
    return ["bash", "-c", script]


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


@dataclass
class Service:
    """One container of the stack, derived from one compose service."""

    name: str
    image: str
    command: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    health: list[str] | None = None  # exec form, run inside the container
    health_options: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    read_only: bool = True
    tmpfs: tuple[str, ...] = ("/tmp",)
    cap_drop: tuple[str, ...] = ("ALL",)
    security_opt: tuple[str, ...] = ("no-new-privileges",)
    network: str = "host"
    restart: str = "unless-stopped"
    stop_timeout_s: int | None = None
    #: services of one stage start together, after every earlier stage is up
    stage: int = 0
    health_timeout_s: float = 600

    @property
    def container(self) -> str:
        return f"tandem-{self.name}"

    @property
    def one_shot(self) -> bool:
        return self.restart == "no"

    def run_args(self) -> list[str]:
        """`<engine> run` arguments for this service, image and command included."""
        args = ["run", "--name", self.container, "--label", LABEL, "--network", self.network]
        for cap in self.cap_drop:
            args += ["--cap-drop", cap]
        for opt in self.security_opt:
            args += ["--security-opt", opt]
        if self.read_only:
            args.append("--read-only")
        for path in self.tmpfs:
            args += ["--tmpfs", f"{path}:rw,nosuid,nodev,size=1g,mode=1777"]
        if self.user:
            args += ["--user", self.user]
        if self.entrypoint is not None:
            args += ["--entrypoint", json.dumps(self.entrypoint)]
        for key, value in self.env.items():
            args += ["--env", f"{key}={value}"]
        for vol in self.volumes:
            args += ["--volume", vol]
        if self.health:
            args += ["--health-cmd", json.dumps(self.health)]
            for option, value in self.health_options.items():
                args += [f"--health-{option}", value]
        if self.stop_timeout_s is not None:
            args += ["--stop-timeout", str(self.stop_timeout_s)]
        if self.one_shot:
            args.append("--rm")
        else:
            args += ["--detach", "--restart", self.restart]
        return [*args, self.image, *self.command]


#: compose keys the derivation honours; any other key of a service fails the catalogue test
HONOURED = frozenset(
    {
        *("image", "build", "command", "entrypoint", "environment", "volumes", "healthcheck"),
        *("depends_on", "ports", "user", "read_only", "tmpfs", "cap_drop", "security_opt"),
        *("restart", "network_mode", "stop_grace_period"),
    }
)
#: compose keys left out on purpose, and why
IGNORED = {
    "deploy": "resource limits: cgroups v1 with cgroupfs in a CI container may not enforce "
    "them; the Kubernetes base and compose do",
}


def derive(name: str, spec: dict[str, Any], *, stage: int, mode: str, named: set[str]) -> Service:
    """The container of one compose service (``spec`` interpolated)."""
    base = catalogue.image_variable(spec["image"])[0] in images.LOCAL_BASES
    local_base = base and mode == "local"
    env = {k: rewrite(v, name) for k, v in spec["environment"].items()}
    health = rewrite_args(catalogue.healthcheck(spec) or [], name) or None
    if local_base and health and health[0] == "wget":  # no wget in the Debian-built bases
        health = bash_probe(health[-1])
    check = spec.get("healthcheck") or {}
    options = {
        k.replace("_", "-"): str(check[k])
        for k in ("interval", "timeout", "retries", "start_period")
        if k in check
    }
    entrypoint = spec.get("entrypoint")
    return Service(
        name,
        images.service_image(spec["image"], mode),
        rewrite_args(spec.get("command") or [], name) + LISTEN_ARGS.get(name, []),
        entrypoint=rewrite_args(entrypoint, name) if entrypoint is not None else None,
        env={**env, **listen_env(name, env)},
        volumes=[volume(v, named) for v in spec.get("volumes") or []],
        health=health,
        health_options=options,
        # compose's uids are the official images'; the Debian-built bases run as their own user
        user=None if local_base or "user" not in spec else str(spec["user"]),
        read_only=bool(spec.get("read_only")),
        tmpfs=tuple(spec.get("tmpfs") or ()),
        cap_drop=tuple(spec.get("cap_drop") or ()),
        security_opt=tuple(o.removesuffix(":true") for o in spec.get("security_opt") or ()),
        network="none" if spec.get("network_mode") == "none" else "host",
        restart=str(spec.get("restart", "no")),
        stop_timeout_s=_seconds(spec["stop_grace_period"]) if "stop_grace_period" in spec else None,
        stage=stage,
    )


def services(variables: dict[str, str], *, mode: str | None = None) -> list[Service]:
    """Every service of the stack, in start order (stage, then compose's order); ``variables``
    are what compose would interpolate from (the environment and the stack's secrets)."""
    raw = catalogue.load()
    stages = catalogue.stages(raw)
    named = set(raw.get("volumes") or {})
    build_mode = mode or images.mode()
    out = [
        derive(
            n, catalogue.resolved(raw, n, variables), stage=stages[n], mode=build_mode, named=named
        )
        for n in catalogue.default_services(raw)
    ]
    return sorted(out, key=lambda s: s.stage)
