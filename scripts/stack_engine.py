"""The container engine the stack scripts drive: podman, or docker (CONTAINER_ENGINE, or the one
installed). Standard library only; shared names of the stack (where it keeps its state, the label
on everything it creates, the one address it listens on)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "stack"
#: on every container and volume the stack creates (`down` removes what carries it)
LABEL = "io.tandem.stack=1"
#: every container shares the host network and listens on this address only
LOOPBACK = "127.0.0.1"


class StackError(Exception):
    """A step of the stack failed; the message says which and where to look."""


def engine() -> str:
    found = os.environ.get("CONTAINER_ENGINE") or shutil.which("podman") or shutil.which("docker")
    if not found:
        raise StackError("neither podman nor docker is installed (bash scripts/podman_setup.sh)")
    return found


def is_podman() -> bool:
    return Path(engine()).name.startswith("podman")


def run(
    *args: str, check: bool = True, timeout: float = 600, quiet: bool = False
) -> subprocess.CompletedProcess[str]:
    """``<engine> args...``; raises StackError on failure with ``check``."""
    proc = subprocess.run(
        [engine(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise StackError(
            f"{Path(engine()).name} {' '.join(args[:3])}: {proc.stderr.strip()[-800:]}"
        )
    if not quiet and proc.returncode != 0:
        print(proc.stderr.strip()[-400:], file=sys.stderr)
    return proc
