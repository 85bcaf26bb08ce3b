"""`tandem release switch|rollback|status` (file edit and kubectl paths) and `tandem ab report`."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from shared_schemas.events import FeedbackEvent, QueryLogEvent
from shared_schemas.layout import FEEDBACK_STREAM, QUERY_LOG_STREAM
from tandem_cli.main import app
from tandem_cli.release.errors import ReleaseError
from tandem_cli.release.manifest import (
    PREVIOUS_ANNOTATION,
    live_track,
    rollback_manifest,
    switch_manifest,
)
from tandem_cli.release.settings import ReleaseSettings, get_release_settings

ROOT = Path(__file__).resolve().parents[2]
BASE_SERVICE = ROOT / "docker" / "k8s" / "base" / "online" / "service.yaml"


@pytest.fixture(autouse=True)
def _fresh_release_settings() -> Iterator[None]:
    """Each test reads the release settings anew from its environment (they are cached)."""
    get_release_settings.cache_clear()
    yield
    get_release_settings.cache_clear()


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "service.yaml"
    shutil.copy(BASE_SERVICE, path)
    monkeypatch.setenv("TANDEM_RELEASE_MANIFEST", str(path))
    monkeypatch.delenv("TANDEM_KUBE_CONTEXT", raising=False)
    return path


def test_release_settings_read_the_variables_batch_settings_read_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TANDEM_KUBE_CONTEXT", "prod")
    monkeypatch.setenv("TANDEM_ROLLOUT_TIMEOUT_S", "60")
    monkeypatch.delenv("TANDEM_RELEASE_MANIFEST", raising=False)
    s = get_release_settings()
    assert (s.kube_context, s.rollout_timeout_s) == ("prod", 60)
    assert s.release_manifest == BASE_SERVICE
    monkeypatch.setenv("TANDEM_ROLLOUT_TIMEOUT_S", "0")
    with pytest.raises(ValidationError, match="rollout_timeout_s"):
        ReleaseSettings()


def _text(result: Any) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _selectors(path: Path) -> dict[str, str]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return {d["metadata"]["name"]: d["spec"]["selector"]["track"] for d in docs}


def test_switch_flips_both_services_and_records_the_previous_track(manifest: Path) -> None:
    assert live_track(manifest) == ("blue", None)
    res = switch_manifest(manifest, now=datetime(2024, 5, 1, tzinfo=UTC))
    assert (res.previous, res.live, res.changed) == ("blue", "green", True)
    assert _selectors(manifest) == {"tandem-online": "green", "tandem-online-preview": "blue"}
    assert live_track(manifest) == ("green", "blue")
    text = manifest.read_text()
    assert text.startswith("# Blue-green Services")
    assert "2024-05-01T00:00:00+00:00" in text
    back = rollback_manifest(manifest)
    assert (back.previous, back.live) == ("green", "blue")
    assert live_track(manifest) == ("blue", "green")  # a second rollback flips forward again


def test_switch_to_the_live_track_changes_nothing(manifest: Path) -> None:
    before = manifest.read_text()
    res = switch_manifest(manifest, to="blue")
    assert not res.changed
    assert manifest.read_text() == before


def test_rollback_without_history_and_bad_manifests(manifest: Path, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="no previous track"):
        rollback_manifest(manifest)
    with pytest.raises(ReleaseError, match="no Service manifest"):
        switch_manifest(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(manifest.read_text().replace("track: blue", "track: red"))
    with pytest.raises(ReleaseError, match="not blue/green"):
        switch_manifest(bad)


def test_base_manifest_is_in_the_form_the_command_writes(manifest: Path) -> None:
    """The committed file round-trips (a switch there and back leaves only the annotations)."""
    switch_manifest(manifest)
    switch_manifest(manifest)
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    for d in docs:
        d["metadata"].pop("annotations", None)
    committed = [d for d in yaml.safe_load_all(BASE_SERVICE.read_text()) if d]
    assert docs == committed


def test_cli_switch_rollback_status(manifest: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["release", "switch"])
    assert out.exit_code == 0, out.output
    assert "live blue -> green" in _text(out)
    assert "no kube context" in _text(out)
    out = runner.invoke(app, ["release", "status"])
    assert out.exit_code == 0
    assert "live: green" in out.output
    assert "previous: blue" in out.output
    out = runner.invoke(app, ["release", "rollback"])
    assert out.exit_code == 0
    assert "rolled back: live green -> blue" in _text(out)
    assert _selectors(manifest)["tandem-online"] == "blue"
    out = runner.invoke(app, ["release", "switch", "--to", "purple"])
    assert out.exit_code == 1
    assert "blue or green" in _text(out)


def test_cli_rollback_without_history_fails_cleanly(manifest: Path) -> None:
    out = CliRunner().invoke(app, ["release", "rollback"])
    assert out.exit_code == 1
    assert "no previous track" in _text(out)


def _fake_kubectl(tmp_path: Path, cluster_live: str, cluster_prev: str | None) -> Path:
    """A kubectl on PATH that logs its arguments and serves the cluster's Services."""
    services: dict[str, Any] = {
        "items": [
            {
                "metadata": {
                    "name": "tandem-online",
                    "annotations": {PREVIOUS_ANNOTATION: cluster_prev} if cluster_prev else {},
                },
                "spec": {"selector": {"app": "tandem-online", "track": cluster_live}},
            },
            {
                "metadata": {"name": "tandem-online-preview"},
                "spec": {
                    "selector": {
                        "app": "tandem-online",
                        "track": "blue" if cluster_live == "green" else "green",
                    }
                },
            },
        ]
    }
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "services.json").write_text(json.dumps(services))
    log = tmp_path / "kubectl.log"
    exe = bin_dir / "kubectl"
    exe.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{log}"\n'
        'case "$*" in *" get service "*) '
        f'cat "{tmp_path / "services.json"}";; esac\n'
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return log


def test_cli_with_a_kube_context_follows_the_cluster_and_applies(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_kubectl(tmp_path, cluster_live="green", cluster_prev="blue")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TANDEM_KUBE_CONTEXT", "prod")
    out = CliRunner().invoke(app, ["release", "switch"])
    assert out.exit_code == 0, out.output
    # the file said blue, the cluster serves green: the switch goes green -> blue
    assert "live green -> blue" in _text(out)
    assert "applied to context prod" in _text(out)
    calls = log.read_text().splitlines()
    assert calls[0].startswith("--context prod --namespace tandem get service tandem-online")
    assert "rollout status deployment/tandem-online-blue" in calls[1]
    assert calls[2] == f"--context prod apply -f {manifest}"
    assert live_track(manifest) == ("blue", "green")


def test_cli_with_a_kube_context_reports_kubectl_missing(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no kubectl anywhere
    out = CliRunner().invoke(app, ["release", "switch", "--context", "prod"])
    assert out.exit_code == 1
    assert "kubectl is not on PATH" in _text(out)


T0 = datetime.now(UTC) - timedelta(minutes=30)


def _event(i: int, variant: str, latency: float, *, hit: bool, error: bool) -> QueryLogEvent:
    return QueryLogEvent(
        query_id=f"{variant}-{i}",
        question="q",
        normalized_key="q",
        ts=T0,
        cache="exact" if hit else "miss",
        variant=variant,
        latency_ms=latency,
        status="error" if error else "ok",
    )


@pytest.mark.integration
def test_ab_report_reads_the_streams(data_dir: Path, redis_client: Any) -> None:
    for i in range(200):
        redis_client.xadd(
            QUERY_LOG_STREAM,
            {"event": _event(i, "default", 10.0 + i % 10, hit=i % 2 == 0, error=False).dumps()},
        )
        redis_client.xadd(
            QUERY_LOG_STREAM,
            {"event": _event(i, "canary", 30.0 + i % 10, hit=False, error=i % 10 == 0).dumps()},
        )
    redis_client.xadd(QUERY_LOG_STREAM, {"event": "{not json"})
    redis_client.xadd(QUERY_LOG_STREAM, {"other": "x"})
    for i in range(40):
        fb = FeedbackEvent(query_id=f"canary-{i}", rating=1 if i < 10 else -1, ts=T0)
        redis_client.xadd(FEEDBACK_STREAM, {"event": fb.dumps()})
    out = CliRunner().invoke(app, ["ab", "report", "--json", "--bootstrap", "200"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["baseline"] == "default"
    assert report["skipped"] == {"querylog": 2, "feedback": 0}
    by_name = {v["variant"]: v for v in report["variants"]}
    assert by_name["default"]["cache_hit"]["value"] == 0.5
    assert by_name["canary"]["error"]["value"] == 0.1
    assert by_name["canary"]["positive_feedback"]["value"] == 0.25  # joined by query id
    tests = {c["metric"]: c for c in by_name["canary"]["vs_baseline"]}
    assert tests["cache_hit_rate"]["p_value"] < 1e-6
    assert tests["latency"]["p_value"] < 1e-6

    table = CliRunner().invoke(app, ["ab", "report", "--bootstrap", "100", "--since-hours", "2"])
    assert table.exit_code == 0, table.output
    assert "canary" in table.output
    assert "mann-whitney" in table.output


@pytest.mark.integration
def test_ab_report_with_empty_streams_fails_cleanly(data_dir: Path, redis_client: Any) -> None:
    out = CliRunner().invoke(app, ["ab", "report"])
    assert out.exit_code == 1
    assert "no query-log events" in _text(out)
