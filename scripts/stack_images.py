"""The stack's images: ours (the services of docker/compose.yaml that `build`) and the bases.

`--local` (the default when no registry answers) builds the bases from Debian packages
(scripts/build_base_images.sh), fills docker/wheelhouse/ (scripts/fill_wheelhouse.sh) and builds
our images with `--network none`; `--registry` uses compose's default images and the package
indexes. Images are built from the commit (`git archive HEAD`), or the working tree on request.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import stack_catalogue as catalogue
from stack_engine import ROOT, VAR, StackError, engine, run

STATE_FILE = VAR / "images.json"
TAG = os.environ.get("TANDEM_STACK_TAG", "dev")

LOCAL_BASE = "localhost/tandem-base"
#: compose's base image variables -> the image scripts/build_base_images.sh builds from Debian
#: packages for it (the air-gapped mode); the registry mode runs compose's defaults
LOCAL_BASES = {
    "TANDEM_PYTHON_IMAGE": f"{LOCAL_BASE}/python:3.11-bookworm",
    "TANDEM_PYTHON_JAVA_IMAGE": f"{LOCAL_BASE}/python-java:3.11-bookworm",
    "TANDEM_REDIS_IMAGE": f"{LOCAL_BASE}/redis:bookworm",
    "TANDEM_POSTGRES_IMAGE": f"{LOCAL_BASE}/postgres:bookworm",
    "TANDEM_PROMETHEUS_IMAGE": f"{LOCAL_BASE}/prometheus:bookworm",
    "TANDEM_PROXY_IMAGE": f"{LOCAL_BASE}/nginx:bookworm",
}
_RAW = catalogue.load()
#: our images, from compose's builds: name -> (Dockerfile, its base image variable)
IMAGES = catalogue.builds(_RAW)
#: compose's defaults of every image variable (the registry mode's images)
DEFAULTS = catalogue.base_defaults()


def image_name(name: str) -> str:
    return f"localhost/tandem-{name}:{TAG}"


def load_state() -> dict[str, object]:
    if STATE_FILE.exists():
        return json.loads(STATE_FILE.read_text())  # type: ignore[no-any-return]
    return {}


def mode(state: dict[str, object] | None = None) -> str:
    """``local`` (bases from Debian packages) or ``registry``, as the images were built."""
    return str((state if state is not None else load_state()).get("mode", "local"))


def qualified(image: str) -> str:
    """A registry image's full name (podman refuses to guess a short name's registry)."""
    first = image.split("/")[0]
    if "/" not in image:
        return f"docker.io/library/{image}"
    return image if "." in first or first == "localhost" else f"docker.io/{image}"


def base_image(variable: str, build_mode: str) -> str:
    """The base behind one of compose's base image variables, for a build mode."""
    return LOCAL_BASES[variable] if build_mode == "local" else DEFAULTS[variable]


def service_image(image: str, build_mode: str) -> str:
    """What runs for a compose ``image: ${VARIABLE:-default}``: ours, or the mode's base."""
    variable, default = catalogue.image_variable(image)
    if variable in LOCAL_BASES:
        return LOCAL_BASES[variable] if build_mode == "local" else qualified(default)
    name = default.split(":")[0].removeprefix("tandem-")
    if name not in IMAGES:
        raise StackError(f"docker/compose.yaml: {image} is neither a base nor built there")
    return image_name(name)


def registry_answers(timeout_s: float = 5.0) -> bool:
    """Docker Hub answers its API root (401 without a token counts as an answer)."""
    try:
        urllib.request.urlopen("https://registry-1.docker.io/v2/", timeout=timeout_s)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


#: what scripts/fill_wheelhouse.sh fills the wheelhouse from, in the order its stamp hashes them
WHEELHOUSE_SOURCES = (
    "constraints.txt",
    "docker/requirements-online.txt",
    "docker/requirements-batch.txt",
    "docker/requirements-airflow.txt",
)


def wheelhouse_stamp(read: Callable[[str], bytes]) -> str:
    """The sha256 of the wheelhouse's sources, concatenated (fill_wheelhouse.sh's stamp)."""
    return hashlib.sha256(b"".join(read(path) for path in WHEELHOUSE_SOURCES)).hexdigest()


def wheelhouse_current() -> bool:
    """docker/wheelhouse/ was filled from the committed constraints.txt and requirements lists
    (its stamp matches): a package added to a list is a wheel the air-gapped build lacks."""
    stamp = ROOT / "docker" / "wheelhouse" / ".constraints.sha256"

    def committed(path: str) -> bytes:
        return subprocess.run(
            ["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, check=True
        ).stdout

    return stamp.exists() and stamp.read_text().strip() == wheelhouse_stamp(committed)


def build_context(dest: Path, *, worktree: bool = False) -> Path:
    """The build context: the committed tree (``git archive HEAD``, what a fresh clone builds)
    or, with ``worktree``, the repository itself; the wheelhouse's wheels linked in."""
    if worktree:
        return ROOT
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    for wheel in (ROOT / "docker" / "wheelhouse").glob("*.whl"):
        os.link(wheel, dest / "docker" / "wheelhouse" / wheel.name)
    return dest


def build_one(
    name: str, context: Path, build_mode: str, *, no_cache: bool = False, log_name: str = ""
) -> tuple[float, Path]:
    """Build one image of ours from ``context``; returns (seconds, build log)."""
    dockerfile, base_var = IMAGES[name]
    args = ["build", "-f", dockerfile, "-t", image_name(name)]
    args += ["--build-arg", f"PYTHON_IMAGE={base_image(base_var, build_mode)}"]
    if build_mode == "local":
        args += ["--network", "none"]  # air-gapped: everything from the bases and wheelhouse
    if no_cache:
        args.append("--no-cache")
    log = VAR / f"build-{log_name or name}.log"
    t0 = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            ["nice", "-n", "10", engine(), *args, str(context)],
            cwd=context,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=3600,
            check=False,
        )
    if proc.returncode != 0:
        raise StackError(f"building {name} failed, see {log}")
    return round(time.monotonic() - t0, 1), log


def build_images(
    build_mode: str, *, no_cache: bool = False, worktree: bool = False
) -> dict[str, float]:
    """Build every image of ours; returns seconds per image (and the bases' in local mode)."""
    VAR.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    if build_mode == "local":
        t0 = time.monotonic()
        subprocess.run(["bash", str(ROOT / "scripts" / "build_base_images.sh")], check=True)
        times["bases"] = round(time.monotonic() - t0, 1)
        if not wheelhouse_current():
            t0 = time.monotonic()
            subprocess.run(["bash", str(ROOT / "scripts" / "fill_wheelhouse.sh")], check=True)
            times["wheelhouse"] = round(time.monotonic() - t0, 1)
    context = build_context(VAR / "context", worktree=worktree)
    for name in IMAGES:
        times[name], _ = build_one(name, context, build_mode, no_cache=no_cache)
        print(f"stack: built {image_name(name)} in {times[name]} s", flush=True)
    STATE_FILE.write_text(json.dumps({"mode": build_mode}))
    return times


def image_sizes() -> dict[str, int]:
    build_mode = mode()
    names = [image_name(n) for n in IMAGES]
    names += [service_image(s["image"], build_mode) for s in _RAW["services"].values()]
    names += [base_image(v, build_mode) for _, v in IMAGES.values()]
    sizes: dict[str, int] = {}
    for name in dict.fromkeys(names):
        proc = run("image", "inspect", "--format", "{{.Size}}", name, check=False, quiet=True)
        if proc.returncode == 0:
            sizes[name] = int(proc.stdout.strip())
    return sizes
