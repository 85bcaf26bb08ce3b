"""The GGUF an engine runs: a catalog model's verified copy, fetched from the artifact store
(published with ``tandem models publish``) when this machine has none.

A replica fed by S3 downloads the model into its store's staging area, verifies the sha256, and
only then moves it into place; a corrupt download is refused and deleted (a verified copy it
already had stays), so an engine never starts on unverified bytes and the service stays not
ready instead.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from core.artifacts import ArtifactStore, open_artifact_store
from core.errors import ArtifactNotFoundError, ModelNotInstalledError, ModelVerificationError
from core.models.catalog import CATALOG, get_spec
from core.models.store import InstalledModel, ModelStore
from shared_schemas.config import CommonSettings

log = logging.getLogger(__name__)


def model_store(settings: CommonSettings) -> ModelStore:
    return ModelStore(settings.models_dir)


def model_artifacts(settings: CommonSettings) -> ArtifactStore:
    return open_artifact_store(settings.model_artifact_store_config())


def publish_model(store: ModelStore, artifacts: ArtifactStore, name: str) -> InstalledModel:
    """Verify the local copy, then write it (with its receipt) to the artifact store."""
    installed = store.verify(name)
    artifacts.write_version_dir(get_spec(name).name, store.folder_of(name))
    return installed


def fetch_model(store: ModelStore, artifacts: ArtifactStore, name: str) -> InstalledModel:
    """Download a published model into ``store``, verified; raises ModelVerificationError
    (nothing kept) or ModelNotInstalledError (not published)."""
    spec = get_spec(name)
    if not artifacts.has_version(spec.name):
        raise ModelNotInstalledError(f"model {name} is not published in {artifacts!r}")
    store.root.mkdir(parents=True, exist_ok=True)
    part = store.root / f".download-{spec.name}-{secrets.token_hex(4)}"
    try:
        artifacts.download_file(spec.name, spec.file_name, part)
    except ArtifactNotFoundError as exc:
        raise ModelNotInstalledError(f"model {name}: {exc}") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return store.adopt(name, part, origin=f"{artifacts!r}")


def resolve_gguf(settings: CommonSettings) -> Path | None:
    """The verified GGUF of ``settings``' LLM (one tier's settings): ``llm_gguf_path`` when
    set (the operator's file); else the catalog model's copy in the store when it verifies;
    else, when the model is published in the artifact store (S3 with ``artifacts_url``, else
    ``<data_dir>/model-artifacts``, a volume a deployment shares), a fetched and verified copy;
    else a bundled model's package file. None for a name outside the catalog."""
    if settings.llm_gguf_path is not None:
        return settings.llm_gguf_path
    name = settings.llm_model
    if name not in CATALOG:
        return None
    store = model_store(settings)
    artifacts = model_artifacts(settings)
    published = artifacts.has_version(get_spec(name).name)
    if store.is_installed(name):
        try:
            return store.verify(name).path
        except ModelVerificationError as exc:
            if not published:
                raise
            log.warning("model %s: %s; fetching it from the artifact store", name, exc)
    if published:
        log.info("model %s: fetching it from %r into %s", name, artifacts, store.root)
        return fetch_model(store, artifacts, name).path
    return store.resolve(name)
