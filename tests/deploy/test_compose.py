"""docker/compose.yaml: valid against the Compose specification schema, and wired safely."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.manifests import DOCKER, ROOT

COMPOSE = DOCKER / "compose.yaml"
# Services that run one command and exit: no healthcheck needed.
ONE_SHOT = {"airflow-init", "batch", "models-publish"}


def _spec_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, as shipped by check-jsonschema (vendored there)."""
    import check_jsonschema.builtin_schemas.vendor as pkg  # a dev dependency

    text = resources.files(pkg).joinpath("compose-spec.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def test_compose_matches_the_specification_schema() -> None:
    schema = _spec_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []


def test_schema_check_catches_mistakes() -> None:
    schema = _spec_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    bad = _compose()
    bad["services"]["online-blue"]["depends_on"]["redis"]["condition"] = "service_ready"
    bad["services"]["redis"]["helthcheck"] = {}
    assert len(list(validator.iter_errors(bad))) >= 2


def test_the_stack_has_every_component() -> None:
    services = _compose()["services"]
    assert {
        "redis",
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "online-blue",
        "online-green",
        "proxy",
        "worker",
        "spark-master",
        "spark-worker",
        "prometheus",
    } <= set(services)
    for name in ("spark-master", "spark-worker", "online-blue", "online-green", "prometheus"):
        assert "profiles" not in services[name], name


def test_healthchecks_and_depends_on_conditions() -> None:
    services = _compose()["services"]
    for name, svc in services.items():
        if name not in ONE_SHOT:
            assert svc.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions"
        for dep, cond in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            want = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert cond["condition"] == want, f"{name} -> {dep}"
    for track in ("online-blue", "online-green"):
        assert services[track]["depends_on"]["redis"]["condition"] == "service_healthy"
        # liveness: a fresh stack has no index yet (`up --wait` would never return on /readyz);
        # the proxy routes on readiness, skipping a replica that answers 502/503
        assert "/healthz" in " ".join(services[track]["healthcheck"]["test"])
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"):
        assert set(services[name]["depends_on"]) == {
            "postgres",
            "redis",
            "airflow-init",
            "models-publish",
        }


def test_online_reads_data_read_only_and_fetches_its_model_into_its_own_volume() -> None:
    services = _compose()["services"]
    online = services["online-blue"]
    assert "tandem-data:/data:ro" in online["volumes"]
    assert "online-blue-models:/models" in online["volumes"]
    assert "online-green-models:/models" in services["online-green"]["volumes"]
    assert online["environment"]["TANDEM_REDIS_URL"].endswith("@redis:6379/0")
    assert online["environment"]["TANDEM_MODELS_DIR"] == "/models"
    # the tiers run the catalog's Qwen models by default, published by the one-shot service
    assert "Qwen2.5-Coder-0.5B" in online["environment"]["TANDEM_LLM_MODEL"]
    assert "Qwen2.5-Coder-1.5B" in online["environment"]["TANDEM_DEEP_LLM_MODEL"]
    publish = services["models-publish"]
    assert "tandem models publish" in " ".join(publish["command"])
    assert any(v.endswith(":/host-models:ro") for v in publish["volumes"])
    for name in ("online-blue", "online-green", "worker", "airflow-scheduler"):
        cond = services[name]["depends_on"]["models-publish"]["condition"]
        assert cond == "service_completed_successfully", name
    assert "airflow-models:/models" in services["airflow-scheduler"]["volumes"]


def test_every_service_is_hardened() -> None:
    """Non-root, read-only root filesystem, no capabilities, no new privileges; published ports
    on loopback only."""
    for name, svc in _compose()["services"].items():
        assert svc.get("read_only") is True, name
        assert svc.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in svc.get("security_opt", []), name
        assert "/tmp" in svc.get("tmpfs", []), name
        if name not in ("online-blue", "online-green", "worker", "batch"):  # image USER 10001
            assert str(svc["user"]).split(":")[0] not in ("0", "root"), name
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_builds_point_at_our_dockerfiles() -> None:
    for name, svc in _compose()["services"].items():
        build = svc.get("build")
        if build:
            assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve().is_file()
            assert (COMPOSE.parent / build["context"]).resolve() == ROOT, name


#: secrets compose must be given: `${VAR:?message}`, never a default
REQUIRED_SECRETS = (
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
)
_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name, "")
        if op == ":?" and not value:
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        return value or (arg if op == ":-" else "")

    return _VAR.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def test_compose_refuses_to_start_without_its_secrets() -> None:
    text = COMPOSE.read_text()
    for name in REQUIRED_SECRETS:
        uses = [m for m in _VAR.finditer(text) if m.group(1) == name]
        assert uses, name
        for m in uses:
            assert m.group(2) == ":?", f"{m.group(0)}: no default allowed"
            assert m.group(3).strip(), f"{m.group(0)}: say how to set it"
        env = {n: "x" * 32 for n in REQUIRED_SECRETS if n != name}
        with pytest.raises(ValueError, match=name):
            _interpolate(text, env)
    config = yaml.safe_load(_interpolate(text, {n: "s" * 32 for n in REQUIRED_SECRETS}))
    airflow = config["services"]["airflow-scheduler"]["environment"]
    assert airflow["AIRFLOW__API_AUTH__JWT_SECRET"] == "s" * 32
    assert airflow["AIRFLOW__CORE__FERNET_KEY"] == "s" * 32
    assert "change-me" not in text
    # the admin token stays optional (empty: admin routes off); the service refuses placeholders
    assert not config["services"]["online-blue"]["environment"]["TANDEM_ADMIN_TOKEN"]


def test_spark_master_is_not_published_by_default() -> None:
    services = _compose()["services"]
    for name in ("spark-master", "spark-worker"):
        assert "ports" not in services[name], name
    assert "spark.authenticate" in (DOCKER.parent / "docs" / "DEPLOY.md").read_text()
