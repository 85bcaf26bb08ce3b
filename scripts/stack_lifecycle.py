"""Start, stop, switch and inspect the stack: the containers stack_hostnet.py derives from
docker/compose.yaml, started stage by stage (compose's depends_on), each stage once the ones
before are healthy. The driver runs the healthchecks itself with `exec` (rootless of systemd,
podman's own health timers do not run)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import stack_configs as configs
import stack_hostnet as hostnet
from stack_engine import LABEL, LOOPBACK, ROOT, StackError, is_podman, run
from stack_images import image_name
from stack_secrets import ENV_FILE, ensure_secrets

#: the model the images carry (compose's models-publish has nothing to publish for it)
BUNDLED_MODEL = "SmolLM2-135M-Instruct-Q4_1"
TIER_VARIABLES = ("TANDEM_LLM_MODEL", "TANDEM_DEEP_LLM_MODEL")


def services(secrets: dict[str, str]) -> list[hostnet.Service]:
    """The stack's containers, compose interpolated from the environment and the secrets."""
    return hostnet.services({**os.environ, **secrets})


def exists(container: str) -> bool:
    return run("container", "inspect", container, check=False, quiet=True).returncode == 0


def start(svc: hostnet.Service) -> None:
    if svc.one_shot:
        proc = run(*svc.run_args(), check=False, timeout=900)
        if proc.returncode != 0:
            raise StackError(f"{svc.name} failed: {(proc.stdout + proc.stderr)[-1500:]}")
        return
    run(*svc.run_args())


def healthy(svc: hostnet.Service) -> bool:
    if not svc.health:
        return True
    proc = run("exec", svc.container, *svc.health, check=False, quiet=True, timeout=60)
    return proc.returncode == 0


def wait_healthy(svc: hostnet.Service, *, timeout_s: float | None = None) -> float:
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
        *("run", "--rm", "--network", "none", "--user", "0", "--volume", "tandem-data:/data"),
        *("--entrypoint", "chown", image_name("airflow"), "50000:0", "/data"),
    )


def models_to_publish(publish: hostnet.Service) -> list[str]:
    """The tiers' models compose's `models-publish` publishes (the bundled one needs none)."""
    return sorted({publish.env[v] for v in TIER_VARIABLES} - {BUNDLED_MODEL})


def host_models(publish: hostnet.Service) -> Path:
    """This machine's model store, which `models-publish` mounts at /host-models."""
    (source,) = [v.split(":")[0] for v in publish.volumes if v.split(":")[1] == "/host-models"]
    return Path(source)


def check_host_models(svcs: list[hostnet.Service]) -> None:
    """The tiers' models must be in this machine's store before `up` publishes them."""
    (publish,) = [s for s in svcs if s.name == "models-publish"]
    store = host_models(publish)
    missing = [n for n in models_to_publish(publish) if not (store / n).is_dir()]
    if missing:
        raise StackError(
            f"models {', '.join(missing)} are not in {store}: run `make setup` (or "
            f"`tandem models install {' '.join(missing)}`) first, or set TANDEM_LLM_MODEL / "
            f"TANDEM_DEEP_LLM_MODEL={BUNDLED_MODEL} for the bundled one"
        )


def up() -> dict[str, float]:
    """Start every service not running yet, in order, each once its dependencies are healthy."""
    svcs = services(ensure_secrets())
    configs.render_configs()
    data_volume()
    check_host_models(svcs)
    t0 = time.monotonic()
    waited: dict[str, float] = {}
    stages: dict[int, list[hostnet.Service]] = {}
    for svc in sorted(svcs, key=lambda s: s.one_shot):  # a stage's one-shots run last
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
    ports = hostnet.PORTS
    print(
        f"stack: up in {waited['total']} s: proxy http://{LOOPBACK}:{ports['proxy']}, Airflow "
        f"http://{LOOPBACK}:{ports['airflow']} (admin, password AIRFLOW_ADMIN_PASSWORD in "
        f"{ENV_FILE.relative_to(ROOT)}), Prometheus http://{LOOPBACK}:{ports['prometheus']}; "
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


def live_track() -> str:
    return configs.live_track() or "blue"


def switch(target: str | None) -> str:
    """Blue-green: point the proxy at track ``target`` (default: the other), graceful reload."""
    current = live_track()
    target = target or configs.other(current)
    configs.write_upstream(target)
    run("exec", "tandem-proxy", "nginx", "-t", "-q")
    run("exec", "tandem-proxy", "nginx", "-s", "reload")
    print(f"stack: live track {current} -> {target} (proxy reloaded)")
    return target


def status() -> int:
    rc = 0
    for svc in services(ensure_secrets()):
        if svc.one_shot:
            continue
        ok = exists(svc.container) and healthy(svc)
        rc |= 0 if ok else 3
        print(f"{svc.name:24} {'healthy' if ok else 'DOWN'}")
    print(f"live track: {live_track()}")
    return rc
