"""scripts/stack.py (the podman stack) and scripts/stack_e2e.py: pure logic, no containers.
The stack itself runs in `make stack-e2e`."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.deploy.manifests import DOCKER, ROOT


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec
    assert spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # stack_e2e imports stack by name
    spec.loader.exec_module(mod)
    return mod


stack = _module("stack")
stack_e2e = _module("stack_e2e")


def _env() -> dict[str, str]:
    return {n: stack._random_secret(n) for n in stack.SECRETS}


def test_secrets_are_generated_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "stack.env"
    env = stack.ensure_secrets(path)
    assert set(env) == set(stack.SECRETS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(stack.secret_problem(n, v) is None for n, v in env.items())
    assert stack.ensure_secrets(path) == env  # a second start keeps them


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
    stack.ensure_secrets(path)
    text = "".join(
        f"{line.split('=')[0]}={value}\n" if line.startswith(f"{name}=") else f"{line}\n"
        for line in path.read_text().splitlines()
    )
    path.write_text(text)
    with pytest.raises(stack.StackError, match=name):
        stack.ensure_secrets(path)


def test_the_podman_stack_runs_the_compose_services() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    default = {n for n, s in compose.items() if "profiles" not in s}
    assert {s.name for s in stack.services(_env())} == default


def test_every_long_running_service_is_hardened_and_has_a_healthcheck() -> None:
    for svc in stack.services(_env()):
        assert svc.read_only, svc.name
        assert "/tmp" in svc.tmpfs, svc.name
        if svc.user:
            assert svc.user.split(":")[0] not in ("0", "root"), svc.name
        if not svc.one_shot:
            assert svc.health, svc.name
    by_name = {s.name: s for s in stack.services(_env())}
    # the index read-only; the tier's model fetched into a volume of the replica's own
    assert by_name["online-blue"].volumes == ["tandem-data:/data:ro", "tandem-models-blue:/models"]


def test_the_stack_publishes_the_tiers_models_and_every_engine_fetches_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the defaults (the test session pins both tiers to SmolLM2 in the environment)
    for name, model in stack.DEFAULT_TIERS.items():
        monkeypatch.setitem(stack.TIERS, name, model)
    by_name = {s.name: s for s in stack.services(_env())}
    publish = by_name["models-publish"]
    assert publish.one_shot
    assert publish.stage < by_name["online-blue"].stage
    assert publish.stage < by_name["airflow-scheduler"].stage
    script = " ".join(publish.command)
    for model in ("Qwen2.5-Coder-0.5B-Instruct-Q4_K_M", "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M"):
        assert f"tandem models publish {model}" in script
    assert any(v.endswith(":/host-models:ro") for v in publish.volumes)
    for name in ("online-blue", "online-green", "worker", "airflow-scheduler"):
        env = by_name[name].env
        assert env["TANDEM_MODELS_DIR"] == "/models", name
        assert env["TANDEM_LLM_MODEL"].startswith("Qwen2.5-Coder-0.5B"), name
        assert env["TANDEM_DEEP_LLM_MODEL"].startswith("Qwen2.5-Coder-1.5B"), name
        assert any(v.endswith(":/models") for v in by_name[name].volumes), name
    # `up` refuses to start without the host's copies, naming the command that installs them
    monkeypatch.setattr(stack, "HOST_MODELS", tmp_path / "none")
    with pytest.raises(stack.StackError, match="make setup"):
        stack.check_host_models()
    # with the bundled model in both tiers there is nothing to publish
    monkeypatch.setitem(stack.TIERS, "TANDEM_LLM_MODEL", stack.BUNDLED_MODEL)
    monkeypatch.setitem(stack.TIERS, "TANDEM_DEEP_LLM_MODEL", stack.BUNDLED_MODEL)
    stack.check_host_models()
    assert stack.models_publish_service("img").command == ["-c", "true"]


def test_ports_are_distinct_and_in_the_stack_range() -> None:
    ports = list(stack.PORTS.values())
    assert len(set(ports)) == len(ports)
    assert all(18000 <= p <= 18999 for p in ports)
    assert stack.LOOPBACK == "127.0.0.1"


def test_upstream_names_the_live_colour_first_and_the_other_as_backup(tmp_path: Path) -> None:
    conf = stack.upstream_conf("green", addresses={"blue": "b:1", "green": "g:2"})
    servers = [line.split()[1:] for line in conf.splitlines() if line.strip().startswith("server")]
    assert servers[0][0] == "g:2"
    assert servers[1] == ["b:1", "backup;"]
    assert "backup" not in stack.upstream_conf(
        "blue", addresses={"blue": "b", "green": "g"}, fallback=False
    )
    # the compose stack's upstream file has the same shape
    assert "server online-green:8000 backup;" in (DOCKER / "proxy" / "upstream.conf").read_text()


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
    assert {b["with"]["file"] for b in builds} == {f"docker/{n}.Dockerfile" for n in stack.IMAGES}
    assert all(b["with"]["cache-from"].startswith("type=gha") and b["with"]["load"] for b in builds)
    assert {b["with"]["tags"] for b in builds} == {stack.image_name(n) for n in stack.IMAGES}
    assert any("scripts/stack_e2e.py" in s.get("run", "") for s in job["steps"])
