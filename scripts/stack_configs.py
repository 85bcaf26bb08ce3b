"""The files compose mounts from docker/ (proxy, Prometheus), rendered under var/stack/ with the
host network's addresses (stack_hostnet.rewrite), and the proxy's upstream file, which names the
live track: the blue-green switch of the compose stack."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import stack_hostnet as hostnet
from stack_engine import LOOPBACK, ROOT, VAR

DOCKER = ROOT / "docker"
#: the compose stack's replicas, by track (docker/proxy/upstream.conf names them)
COMPOSE_ADDRESSES = {t: f"online-{t}:8000" for t in hostnet.TRACKS}


def other(track: str) -> str:
    return hostnet.TRACKS[1 - hostnet.TRACKS.index(track)]


def upstream_conf(live: str, *, addresses: dict[str, str], fallback: bool = True) -> str:
    """The proxy's upstream block: the live track first, the other one as the fallback."""
    lines = [
        f"# live track: {live} (the other track is the fallback while it serves: both are",
        "# blue-green replicas of one release between switches; rewritten by the switch)",
        "upstream tandem_live {",
        f"  server {addresses[live]} max_fails=1 fail_timeout=2s;",
    ]
    if fallback:
        lines.append(f"  server {addresses[other(live)]} backup;")
    lines += ["  keepalive 16;", "}", ""]
    return "\n".join(lines)


def _upstream() -> Path:
    return VAR / "proxy" / "upstream.conf"


def live_track(path: Path | None = None) -> str | None:
    """The track the proxy sends traffic to (the upstream file's first line names it)."""
    path = path or _upstream()
    if path.exists():
        words = path.read_text().split(maxsplit=4)
        if words[1:3] == ["live", "track:"] and words[3] in hostnet.TRACKS:
            return words[3]
    return None


def write_upstream(live: str, path: Path | None = None) -> None:
    path = path or _upstream()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(upstream_conf(live, addresses=hostnet.TRACK_ADDRESSES))
    os.chmod(tmp, 0o644)
    tmp.replace(path)


def render_configs() -> None:
    """Proxy and Prometheus files under var/stack/, from those in docker/; the corpus folder."""
    proxy = VAR / "proxy"
    proxy.mkdir(parents=True, exist_ok=True)
    nginx = (DOCKER / "proxy" / "nginx.conf").read_text()
    for (svc, cport), (name, _) in hostnet.LISTENERS.items():
        if svc == "proxy":
            nginx = nginx.replace(f"listen {cport};", f"listen {LOOPBACK}:{hostnet.PORTS[name]};")
    (proxy / "nginx.conf").write_text(nginx)
    if live_track() is None:
        write_upstream("blue")
    prom = VAR / "prometheus"
    prom.mkdir(parents=True, exist_ok=True)
    config = (DOCKER / "prometheus" / "prometheus.yml").read_text()
    (prom / "prometheus.yml").write_text(hostnet.rewrite(config, "prometheus"))
    for rules in (DOCKER / "prometheus").glob("*.rules.yml"):
        shutil.copy(rules, prom / rules.name)
    (VAR / "corpus").mkdir(parents=True, exist_ok=True)
    for path in (proxy, prom, VAR / "corpus"):  # read by the containers' users
        os.chmod(path, 0o755)
        for f in path.iterdir():
            os.chmod(f, 0o644)
