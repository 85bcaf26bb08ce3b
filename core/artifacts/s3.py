"""The artifact store on S3-compatible object storage (boto3; imported only when chosen).

Object layout under ``<prefix>/``::

    data/<version>/<write id>/<file>   the files of one write of a version
    versions/<version>.json            completion record: write id and file sizes (written last)
    published/<version>.sha256         publish record: sha256 of the manifest (by publish only)
    LIVE                               the live version's name (one object, one PUT)

A version exists for readers only once its completion record is written, and a PUT of one object
is atomic in S3, so a reader never sees a partial version: ``list_versions`` lists completion
records, ``read_file``/``list_files`` resolve names through the record's write id. Rewriting a
version uploads a new write id, swaps the record, then deletes the old write's objects. Deleting a
version removes the record first. Files from ``multipart_threshold_mb`` up are uploaded and
downloaded in parallel multipart parts (boto3's transfer manager).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from core.artifacts.port import check_file_name, check_version_name, dir_files
from core.errors import ArtifactNotFoundError, CoreError
from shared_schemas.config import S3ArtifactStoreConfig
from shared_schemas.layout import LIVE_POINTER

_MISSING = {"NoSuchKey", "404", "NotFound"}


class ArtifactStoreError(CoreError):
    """The object store failed or refused a request (other than a missing key)."""


class S3ArtifactStore:
    """Version folders and the live pointer as objects in one bucket under one prefix."""

    def __init__(self, config: S3ArtifactStoreConfig, *, client: Any = None) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.config = config
        self.bucket = config.bucket
        self._base = f"{config.prefix}/" if config.prefix else ""
        key_id = config.access_key_id.get_secret_value() or None
        secret = config.secret_access_key.get_secret_value() or None
        self._client = client or boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        threshold = config.multipart_threshold_mb * 1024 * 1024
        self._transfer = TransferConfig(
            multipart_threshold=threshold, multipart_chunksize=threshold
        )

    def __repr__(self) -> str:
        return f"S3ArtifactStore(s3://{self.bucket}/{self._base})"

    # --- keys ---
    def _record_key(self, version: str) -> str:
        return f"{self._base}versions/{check_version_name(version)}.json"

    def _data_key(self, version: str, write_id: str, name: str = "") -> str:
        return f"{self._base}data/{version}/{write_id}/{name}"

    # --- requests, with S3 errors turned into the core's ---
    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise ArtifactNotFoundError(f"{what} is not in {self!r}") from exc
            raise ArtifactStoreError(f"{what}: S3 refused ({code}): {exc}") from exc
        except BotoCoreError as exc:
            raise ArtifactStoreError(f"{what}: S3 unreachable: {exc}") from exc

    def _get(self, key: str, what: str) -> bytes:
        body = self._call(what, self._client.get_object, Bucket=self.bucket, Key=key)["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def _put(self, key: str, data: bytes, what: str) -> None:
        self._call(what, self._client.put_object, Bucket=self.bucket, Key=key, Body=data)

    def _keys(self, prefix: str) -> Iterator[str]:
        token: dict[str, str] = {}
        while True:
            page = self._call(
                f"listing {prefix}",
                self._client.list_objects_v2,
                Bucket=self.bucket,
                Prefix=prefix,
                **token,
            )
            for obj in page.get("Contents", []):
                yield str(obj["Key"])
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self._call(
                "deleting objects",
                self._client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            )

    def _record(self, version: str) -> dict[str, Any]:
        raw = self._get(self._record_key(version), f"version {version}")
        try:
            record = json.loads(raw)
            if record["version"] != version or not isinstance(record["files"], dict):
                raise ValueError("record names another version")
            return dict(record)
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactStoreError(
                f"completion record of {version} is unreadable: {exc}"
            ) from exc

    # --- the port ---
    def list_versions(self) -> list[str]:
        prefix = f"{self._base}versions/"
        names = (k[len(prefix) : -len(".json")] for k in self._keys(prefix) if k.endswith(".json"))
        return sorted(n for n in names if "/" not in n)

    def has_version(self, version: str) -> bool:
        key = self._record_key(version)
        try:
            self._call(f"version {version}", self._client.head_object, Bucket=self.bucket, Key=key)
        except ArtifactNotFoundError:
            return False
        return True

    def _commit(self, version: str, write_id: str, sizes: dict[str, int]) -> None:
        old: str | None = None
        with contextlib.suppress(ArtifactNotFoundError):
            old = str(self._record(version)["write_id"])
        record = {"version": version, "write_id": write_id, "files": dict(sorted(sizes.items()))}
        self._put(self._record_key(version), json.dumps(record).encode(), f"committing {version}")
        if old and old != write_id:
            self._delete_keys(list(self._keys(self._data_key(version, old))))

    def write_version(self, version: str, files: Mapping[str, bytes]) -> None:
        check_version_name(version)
        checked = {check_file_name(n): bytes(d) for n, d in files.items()}
        write_id = secrets.token_hex(8)
        for name, data in checked.items():
            self._put(self._data_key(version, write_id, name), data, f"uploading {name}")
        self._commit(version, write_id, {n: len(d) for n, d in checked.items()})

    def write_version_dir(self, version: str, folder: Path) -> None:
        check_version_name(version)
        names = dir_files(Path(folder))
        write_id = secrets.token_hex(8)
        for name in names:
            self._call(
                f"uploading {name}",
                self._client.upload_file,
                Filename=str(Path(folder) / name),
                Bucket=self.bucket,
                Key=self._data_key(version, write_id, name),
                Config=self._transfer,
            )
        self._commit(version, write_id, {n: (Path(folder) / n).stat().st_size for n in names})

    def _file_key(self, version: str, name: str) -> str:
        record = self._record(version)
        if check_file_name(name) not in record["files"]:
            raise ArtifactNotFoundError(f"{version}/{name} is not in {self!r}")
        return self._data_key(version, str(record["write_id"]), name)

    def read_file(self, version: str, name: str) -> bytes:
        return self._get(self._file_key(version, name), f"{version}/{name}")

    def download_file(self, version: str, name: str, dest: Path) -> None:
        key = self._file_key(version, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._call(
            f"{version}/{name}",
            self._client.download_file,
            Bucket=self.bucket,
            Key=key,
            Filename=str(dest),
            Config=self._transfer,
        )

    def list_files(self, version: str) -> list[str]:
        return sorted(self._record(version)["files"])

    def read_live(self) -> str | None:
        try:
            name = self._get(f"{self._base}{LIVE_POINTER}", "LIVE").decode("utf-8").strip()
        except ArtifactNotFoundError:
            return None
        return name or None

    def write_live(self, version: str) -> None:
        if not self.has_version(version):
            raise ArtifactNotFoundError(f"cannot point LIVE at {version}: not in {self!r}")
        self._put(f"{self._base}{LIVE_POINTER}", (version + "\n").encode(), "moving LIVE")

    def read_published(self, version: str) -> str | None:
        key = f"{self._base}published/{check_version_name(version)}.sha256"
        try:
            return self._get(key, f"publish record of {version}").decode("utf-8").strip() or None
        except ArtifactNotFoundError:
            return None

    def write_published(self, version: str, digest: str) -> None:
        key = f"{self._base}published/{check_version_name(version)}.sha256"
        self._put(key, (digest + "\n").encode(), f"recording {version} as published")

    def delete_version(self, version: str) -> None:
        key = self._record_key(version)
        self._call(f"deleting {version}", self._client.delete_object, Bucket=self.bucket, Key=key)
        self._delete_keys(list(self._keys(f"{self._base}data/{version}/")))
