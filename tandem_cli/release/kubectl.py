"""Running kubectl against a context, bounded by a timeout; its failures as ``KubectlError``."""

from __future__ import annotations

import shutil
import subprocess

from tandem_cli.release.errors import ReleaseError

# what `kubectl rollout status --timeout=N` may take beyond its own N seconds to answer
KUBECTL_GRACE_S = 30


class KubectlError(ReleaseError):
    """kubectl is missing, gave no answer in time, or exited non-zero."""


def kubectl(context: str, *args: str, timeout_s: float) -> str:
    """Run ``kubectl --context CONTEXT ARGS...`` and return its stdout."""
    exe = shutil.which("kubectl")
    if exe is None:
        raise KubectlError("a kube context is configured but kubectl is not on PATH")
    try:
        proc = subprocess.run(
            [exe, "--context", context, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise KubectlError(
            f"kubectl {' '.join(args)} gave no answer within {timeout_s:g}s "
            "(cluster unreachable? raise TANDEM_ROLLOUT_TIMEOUT_S to wait longer)"
        ) from exc
    if proc.returncode != 0:
        raise KubectlError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout
