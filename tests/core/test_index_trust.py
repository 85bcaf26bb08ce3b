"""Which version directories may be served: a valid name, inside the indexes directory, and
named with its manifest digest by a publish record."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import IndexLoadError
from core.index.trust import check_published, record_published, version_dir
from core.index.version import IndexVersion
from shared_schemas.layout import MANIFEST_FILE

pytestmark = pytest.mark.unit

GOOD = "20260101-abcdef12"
BAD_NAMES = [
    "../../outside/evil",
    "/etc",
    "..",
    ".",
    "",
    "20260101-abcdef12/../../x",
    "20260101-abcdef12\n",
    "20260101-ABCDEF12",
    "latest",
    ".staging",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_without_touching_the_disk(tmp_path: Path, name: str) -> None:
    with pytest.raises(IndexLoadError, match="not an index version name"):
        version_dir(tmp_path, name)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_one_parser_refuses_them_too(name: str) -> None:
    assert IndexVersion.try_parse(name) is None


def test_a_symlink_leaving_the_indexes_directory_is_refused(tmp_path: Path) -> None:
    indexes = tmp_path / "indexes"
    outside = tmp_path / "outside"
    indexes.mkdir()
    outside.mkdir()
    os.symlink(outside, indexes / GOOD)
    with pytest.raises(IndexLoadError, match="not an index version name"):
        version_dir(indexes, GOOD)


def test_errors_do_not_say_whether_a_path_exists(tmp_path: Path) -> None:
    texts = []
    for name in ("/etc", "/no-such-dir-anywhere"):
        with pytest.raises(IndexLoadError) as info:
            version_dir(tmp_path, name)
        texts.append(str(info.value).replace(repr(name), "NAME"))
    assert texts[0] == texts[1]


def _version(indexes: Path, name: str = GOOD, manifest: bytes = b'{"m": 1}') -> Path:
    vdir = indexes / name
    vdir.mkdir(parents=True)
    (vdir / MANIFEST_FILE).write_bytes(manifest)
    return vdir


def test_only_a_published_manifest_is_trusted(tmp_path: Path) -> None:
    vdir = _version(tmp_path)
    assert version_dir(tmp_path, GOOD) == vdir.resolve()
    with pytest.raises(IndexLoadError, match="not published"):
        check_published(tmp_path, GOOD)
    record_published(tmp_path, GOOD)
    check_published(tmp_path, GOOD)
    (vdir / MANIFEST_FILE).write_bytes(b'{"m": 2}')  # replaced after publish
    with pytest.raises(IndexLoadError, match="does not match its publish record"):
        check_published(tmp_path, GOOD)


def test_the_record_lives_outside_the_version_directory(tmp_path: Path) -> None:
    vdir = _version(tmp_path)
    record_published(tmp_path, GOOD)
    assert not any("sha256" in p.name for p in vdir.rglob("*"))
    assert [p.name for p in (tmp_path / ".published").iterdir()] == [f"{GOOD}.sha256"]
