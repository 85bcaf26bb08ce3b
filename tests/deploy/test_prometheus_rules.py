"""docker/prometheus: the alert rules pass `promtool check rules` and their `promtool test rules`
unit tests (promtool from Debian's prometheus package, installed by scripts/ensure_system.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.deploy.manifests import DOCKER

PROMETHEUS = DOCKER / "prometheus"
RULES = sorted(PROMETHEUS.glob("*.rules.yml"))
RULE_TESTS = sorted(PROMETHEUS.glob("*.rules.test.yml"))
REQUIRED_ALERTS = {
    "TandemIndexStale",
    "TandemHighErrorRate",
    "TandemCanaryRolledBack",
    "TandemGenerationQueueFull",
}


def _promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run scripts/ensure_system.sh (Debian package prometheus)"
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _alerts(path: Path) -> set[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {r["alert"] for g in groups for r in g["rules"] if "alert" in r}


def _tested_alerts(path: Path) -> set[str]:
    tests = yaml.safe_load(path.read_text())["tests"]
    return {a["alertname"] for t in tests for a in t.get("alert_rule_test", [])}


def test_rule_files_exist_and_name_the_alerts_the_runbook_needs() -> None:
    assert RULES
    assert RULE_TESTS
    alerts = set().union(*(_alerts(p) for p in RULES))
    assert alerts >= REQUIRED_ALERTS


def test_every_alert_has_a_unit_test() -> None:
    alerts = set().union(*(_alerts(p) for p in RULES))
    tested = set().union(*(_tested_alerts(p) for p in RULE_TESTS))
    assert alerts - tested == set()


def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", *(p.name for p in RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    result = _promtool("test", "rules", *(p.name for p in RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    """The unit tests have teeth: the error-rate alert at 50% instead of 5% fails them."""
    for path in [*RULES, *RULE_TESTS]:
        text = path.read_text()
        if path in RULES:
            assert "tandem:http_error_ratio:rate5m > 0.05" in text
            text = text.replace(
                "tandem:http_error_ratio:rate5m > 0.05", "tandem:http_error_ratio:rate5m > 0.5"
            )
        (tmp_path / path.name).write_text(text)
    result = _promtool("test", "rules", *(p.name for p in RULE_TESTS), cwd=tmp_path)
    assert result.returncode != 0
    assert "TandemHighErrorRate" in result.stdout + result.stderr


def test_prometheus_config_is_valid() -> None:
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
