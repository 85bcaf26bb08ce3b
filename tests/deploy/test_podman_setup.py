"""scripts/podman_setup.sh: podman's containers.conf gets the three settings only where missing,
and docker/pip_install.sh picks the wheelhouse when it holds wheels."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from tests.deploy.manifests import DOCKER, ROOT

SCRIPT = ROOT / "scripts" / "podman_setup.sh"


def _setup(conf: Path) -> str:
    proc = subprocess.run(
        ["bash", str(SCRIPT), "--conf", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def test_sets_the_three_settings_in_an_empty_file(tmp_path: Path) -> None:
    conf = tmp_path / "containers.conf"
    out = _setup(conf)
    assert "set" in out
    parsed = tomllib.loads(conf.read_text())
    assert parsed["containers"]["default_ulimits"] == []
    assert parsed["engine"] == {"cgroup_manager": "cgroupfs", "runtime": "runc"}
    before = conf.read_text()
    assert "nothing to change" in _setup(conf)
    assert conf.read_text() == before


def test_keeps_what_the_owner_set(tmp_path: Path) -> None:
    conf = tmp_path / "containers.conf"
    conf.write_text(
        '# site settings\n[containers]\nlog_driver = "k8s-file"\n\n[engine]\nruntime = "crun"\n'
    )
    _setup(conf)
    parsed = tomllib.loads(conf.read_text())
    assert parsed["engine"]["runtime"] == "crun"  # left as it was
    assert parsed["engine"]["cgroup_manager"] == "cgroupfs"
    assert parsed["containers"] == {"log_driver": "k8s-file", "default_ulimits": []}
    assert conf.read_text().startswith("# site settings\n")


def _pip_args(wheelhouse: Path, *args: str) -> list[str]:
    """What docker/pip_install.sh would run, with /wheelhouse pointed at ``wheelhouse``."""
    text = (DOCKER / "pip_install.sh").read_text().replace("/wheelhouse", str(wheelhouse))
    text = text.replace("exec pip install", "echo pip install")
    proc = subprocess.run(
        ["sh", "-c", text, "pip_install", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return proc.stdout.split()


def test_pip_install_uses_the_wheelhouse_only_when_it_holds_wheels(tmp_path: Path) -> None:
    args = ("--index-url", "https://download.pytorch.org/whl/cpu", "torch==2.13.0")
    online = _pip_args(tmp_path, *args)
    assert online[-3:] == list(args)
    assert "--no-index" not in online
    (tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    offline = _pip_args(tmp_path, *args)
    assert "--index-url" not in offline
    assert offline[-4:] == ["torch==2.13.0", "--no-index", "--find-links", str(tmp_path)]
