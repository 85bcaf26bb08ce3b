"""Find the SQuAD v1.1 dev demo corpus: setting, then ../shared/data, then download."""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import urllib.request
from pathlib import Path

from batch.errors import BatchError
from shared_schemas.config import project_root

log = logging.getLogger(__name__)

SQUAD_DEV_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v1.1.json"
SQUAD_DEV_SHA256 = "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"
SHARED_NAME = "squad-dev-v1.1.json.gz"


class CorpusError(BatchError, RuntimeError):
    """The demo corpus could not be found or did not verify."""


def read_bytes(path: Path) -> bytes:
    """A file's bytes, gunzipped when it is gzip (by its magic bytes, not its name).

    The one reader of maybe-gzipped inputs (corpus, ingest sources, labelled sets). Raises
    ``OSError`` (a bad gzip stream is ``gzip.BadGzipFile``) or ``EOFError`` (truncated gzip).
    """
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def verify(data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != SQUAD_DEV_SHA256:
        raise CorpusError(f"SQuAD dev sha256 mismatch: got {digest}, want {SQUAD_DEV_SHA256}")


def locate_demo_corpus(
    configured: Path | None, *, data_dir: Path, download_url: str = SQUAD_DEV_URL
) -> Path:
    """Path to the SQuAD dev JSON(.gz), in the documented order of precedence."""
    if configured is not None:
        if not configured.exists():
            raise CorpusError(f"TANDEM_DEMO_CORPUS points at {configured}, which does not exist")
        log.info("demo corpus from setting path=%s", configured)
        return configured
    shared = project_root().parent / "shared" / "data" / SHARED_NAME
    if shared.exists():
        log.info("demo corpus from shared data path=%s", shared)
        return shared
    target = data_dir / "corpus" / "dev-v1.1.json"
    if target.exists():
        verify(target.read_bytes())
        return target
    log.info("downloading demo corpus url=%s", download_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(download_url, timeout=60) as resp, partial.open("wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CorpusError(
            f"no demo corpus: set TANDEM_DEMO_CORPUS, place {SHARED_NAME} in ../shared/data, "
            f"or allow the download from {download_url} ({exc})"
        ) from exc
    try:
        verify(partial.read_bytes())
    except CorpusError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target
