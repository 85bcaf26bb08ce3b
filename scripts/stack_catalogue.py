"""docker/compose.yaml is the one catalogue of the stack: each service's image, command,
environment, ports, volumes, healthcheck and dependencies are declared there and only there.
This module reads it as Compose does (YAML merge keys, ``${VAR}`` / ``${VAR:-default}`` /
``${VAR:?error}`` interpolation, ``$$``, an environment entry without a value passed through only
when set) for `make stack`, which derives its containers from it (stack_hostnet.py).

Needs PyYAML (Debian's python3-yaml, or the project's virtualenv)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stack_engine import ROOT, StackError

try:
    import yaml
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    raise SystemExit(
        "scripts/stack.py reads docker/compose.yaml with PyYAML: apt-get install python3-yaml, "
        "or run it with .venv/bin/python"
    ) from exc

COMPOSE = ROOT / "docker" / "compose.yaml"

_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")
#: the condition a dependent waits for; anything else is refused
CONDITIONS = ("service_healthy", "service_completed_successfully")


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's interpolation of one string: ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``; ``$$`` is a literal ``$``."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        op, arg = m.group(2) or "", m.group(3) or ""
        value = variables.get(name)
        missing = value is None or (op.startswith(":") and value == "")
        if op.endswith("?") and missing:
            raise StackError(f"docker/compose.yaml: {name} is required: {arg.strip()}")
        if op.endswith("-") and missing:
            return interpolate(arg, variables)
        return value or ""

    return "$".join(_VAR.sub(one, part) for part in text.split("$$"))


def load(path: Path = COMPOSE) -> dict[str, Any]:
    """The compose file as parsed (anchors and merge keys resolved, nothing interpolated)."""
    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]


def _resolve(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, variables)
    if isinstance(value, list):
        return [_resolve(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, variables) for k, v in value.items()}
    return value


def environment(spec: dict[str, Any], variables: dict[str, str]) -> dict[str, str]:
    """A service's environment: ``KEY: value`` interpolated; ``KEY:`` (no value) is taken from
    ``variables`` when set there and left out otherwise, as Compose does."""
    env = spec.get("environment") or {}
    if isinstance(env, list):  # KEY=value / KEY
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    out: dict[str, str] = {}
    for key, value in env.items():
        if value is None:
            if key in variables:
                out[key] = variables[key]
        else:
            out[key] = interpolate(str(value), variables)
    return out


def healthcheck(spec: dict[str, Any]) -> list[str] | None:
    """The healthcheck's test as an exec list (``CMD-SHELL`` and a plain string run ``sh -c``)."""
    test = (spec.get("healthcheck") or {}).get("test")
    if not test or test == ["NONE"]:
        return None
    if isinstance(test, str):
        return ["sh", "-c", test]
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", " ".join(test[1:])]
    return list(test[1:]) if test[0] == "CMD" else list(test)


def default_services(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services `up` runs: every one outside a profile, in the file's order."""
    return {n: s for n, s in raw["services"].items() if not s.get("profiles")}


def stages(raw: dict[str, Any]) -> dict[str, int]:
    """Start order from ``depends_on``: a service's stage is one more than its dependencies'
    highest (0 without any); a stage starts once every earlier one is up."""
    svcs = default_services(raw)
    out: dict[str, int] = {}

    def stage(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            raise StackError(f"docker/compose.yaml: depends_on cycle {' -> '.join((*path, name))}")
        if name not in out:
            deps = svcs[name].get("depends_on") or {}
            out[name] = 1 + max((stage(d, (*path, name)) for d in deps), default=-1)
        return out[name]

    for name in svcs:
        stage(name, ())
    return out


def resolved(raw: dict[str, Any], name: str, variables: dict[str, str]) -> dict[str, Any]:
    """One service's declaration with every string interpolated (environment as above), but
    its ``image``: that stays ``${VARIABLE:-default}``, which the image mapping reads."""
    spec = raw["services"][name]
    out = {k: _resolve(v, variables) for k, v in spec.items() if k not in ("environment", "image")}
    out["environment"] = environment(spec, variables)
    out["image"] = spec["image"]
    return out


def image_variable(image: str) -> tuple[str, str]:
    """``${TANDEM_X_IMAGE:-default}`` -> (``TANDEM_X_IMAGE``, ``default``)."""
    m = _VAR.fullmatch(image)
    if not m or not m.group(1) or m.group(2) != ":-":
        raise StackError(f"docker/compose.yaml: image {image!r} is not ${{VARIABLE:-default}}")
    return m.group(1), m.group(3) or ""


def builds(raw: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Our images, from the services that build one: name (``tandem-<name>:dev`` in compose) ->
    (Dockerfile, the variable naming its base image in the PYTHON_IMAGE build argument)."""
    out: dict[str, tuple[str, str]] = {}
    for spec in raw["services"].values():
        build = spec.get("build")
        if not build:
            continue
        _, default = image_variable(spec["image"])
        name = default.split(":")[0].removeprefix("tandem-")
        base_var, _ = image_variable(build["args"]["PYTHON_IMAGE"])
        out[name] = (build["dockerfile"], base_var)
    return out


def base_defaults(path: Path = COMPOSE) -> dict[str, str]:
    """Every ``${TANDEM_..._IMAGE:-default}`` of the file (service images and build bases)."""
    text = path.read_text()
    return {
        m.group(1): (m.group(3) or "")
        for m in _VAR.finditer(text)
        if m.group(1) and m.group(1).endswith("_IMAGE") and m.group(2) == ":-"
    }
