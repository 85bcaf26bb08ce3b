"""Readers for each source kind, yielding raw records or skips; never normalising or chunking.

* folder: ``.txt``/``.md``/``.html`` files, recursively; doc id = path relative to the folder.
* JSONL (``.jsonl``/``.ndjson``, optionally ``.gz``): one ``{id, text, title?, url?, metadata?}``
  object per line.
* SQuAD JSON (``.json`` or ``.json.gz``): each paragraph of each article is a document with id
  :func:`squad_doc_id` (``<article title>#<paragraph index>``).

A record that cannot become a document yields :class:`Skipped` (so does a folder's file that
cannot be read); a source file that cannot be parsed at all raises
:class:`~batch.ingest.errors.IngestError` naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from batch.corpus import read_bytes
from batch.ingest.errors import IngestError
from batch.ingest.html_text import html_to_text
from batch.ingest.report import (
    SKIP_INVALID_RECORD,
    SKIP_TOO_LARGE,
    SKIP_UNDECODABLE,
    SKIP_UNREADABLE,
    SKIP_UNSUPPORTED_TYPE,
)
from batch.ingest.squad import SquadFormatError, iter_squad_paragraphs, squad_doc_id

__all__ = [
    "RawRecord",
    "Skipped",
    "SourceKind",
    "detect_kind",
    "read_folder",
    "read_jsonl",
    "read_source",
    "read_squad",
    "squad_doc_id",
]

SourceKind = Literal["folder", "jsonl", "squad"]
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})


@dataclass(frozen=True)
class RawRecord:
    """A document as read from the source, before normalisation."""

    doc_id: str
    text: str
    where: str
    title: str = ""
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """A record that cannot become a document, with the reason and its place in the source."""

    reason: str
    where: str


def detect_kind(source: Path) -> SourceKind:
    if source.is_dir():
        return "folder"
    if not source.is_file():
        raise IngestError(f"{source}: no such file or folder")
    suffixes = [s.lower() for s in source.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in {".jsonl", ".ndjson"}:
        return "jsonl"
    if last == ".json":
        return "squad"
    raise IngestError(
        f"{source}: unknown source kind (want a folder, .jsonl or SQuAD .json/.json.gz)"
    )


def read_source(
    source: Path, kind: SourceKind, *, max_doc_bytes: int
) -> Iterator[RawRecord | Skipped]:
    if kind == "folder":
        return read_folder(source, max_doc_bytes=max_doc_bytes)
    if kind == "jsonl":
        return read_jsonl(source, max_doc_bytes=max_doc_bytes)
    return read_squad(source, max_doc_bytes=max_doc_bytes)


def _read_raw(path: Path) -> bytes:
    try:
        return read_bytes(path)
    except (OSError, EOFError) as exc:  # gzip errors are OSError/EOFError
        raise IngestError(f"{path}: cannot read: {exc}") from exc


# --- folder --------------------------------------------------------------------------------


def read_folder(root: Path, *, max_doc_bytes: int) -> Iterator[RawRecord | Skipped]:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    for path in files:
        rel = path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        if suffix not in TEXT_SUFFIXES | HTML_SUFFIXES:
            yield Skipped(SKIP_UNSUPPORTED_TYPE, rel)
            continue
        try:
            if path.stat().st_size > max_doc_bytes:
                yield Skipped(SKIP_TOO_LARGE, rel)
                continue
            raw = path.read_bytes()
        except OSError:  # one unreadable file (permissions, vanished, I/O error) is one skip
            yield Skipped(SKIP_UNREADABLE, rel)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield Skipped(SKIP_UNDECODABLE, rel)
            continue
        text = text.removeprefix("\ufeff")
        if suffix in HTML_SUFFIXES:
            title, body = html_to_text(text)
        else:
            title, body = _text_title(text, suffix, path.stem), text
        yield RawRecord(doc_id=rel, text=body, where=rel, title=title, metadata={"path": rel})


def _text_title(text: str, suffix: str, stem: str) -> str:
    if suffix != ".txt":
        for line in text.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
            if line.strip():
                break
    return stem.replace("_", " ")


# --- JSONL ---------------------------------------------------------------------------------


def read_jsonl(path: Path, *, max_doc_bytes: int) -> Iterator[RawRecord | Skipped]:
    data = _read_raw(path)
    for lineno, line_bytes in enumerate(data.splitlines(), start=1):
        where = f"{path.name}:{lineno}"
        if not line_bytes.strip():
            continue
        if len(line_bytes) > max_doc_bytes:
            yield Skipped(SKIP_TOO_LARGE, where)
            continue
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            yield Skipped(SKIP_UNDECODABLE, where)
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(
                f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
            ) from exc
        if not isinstance(obj, dict):
            raise IngestError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        record = _jsonl_record(obj, where)
        yield record


def _jsonl_record(obj: dict[str, Any], where: str) -> RawRecord | Skipped:
    doc_id, text = obj.get("id"), obj.get("text")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    title, url, metadata = obj.get("title") or "", obj.get("url"), obj.get("metadata") or {}
    if (
        not isinstance(doc_id, str)
        or not doc_id.strip()
        or not isinstance(text, str)
        or not isinstance(title, str)
        or not (url is None or isinstance(url, str))
        or not isinstance(metadata, dict)
    ):
        return Skipped(SKIP_INVALID_RECORD, where)
    return RawRecord(doc_id=doc_id, text=text, where=where, title=title, url=url, metadata=metadata)


# --- SQuAD ---------------------------------------------------------------------------------


def read_squad(path: Path, *, max_doc_bytes: int) -> Iterator[RawRecord | Skipped]:
    data = _read_raw(path)
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise IngestError(
            f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
        ) from exc
    try:
        paragraphs = list(iter_squad_paragraphs(doc))
    except SquadFormatError as exc:
        raise IngestError(f"{path}: {exc}") from exc
    for para in paragraphs:
        if not para.valid:
            yield Skipped(SKIP_INVALID_RECORD, para.doc_id)
            continue
        if len(para.text.encode("utf-8")) > max_doc_bytes:
            yield Skipped(SKIP_TOO_LARGE, para.doc_id)
            continue
        yield RawRecord(
            doc_id=para.doc_id,
            text=para.text,
            where=para.doc_id,
            title=para.title,
            metadata={
                "article": para.article,
                "paragraph": para.index,
                "questions": len(para.questions),
            },
        )
