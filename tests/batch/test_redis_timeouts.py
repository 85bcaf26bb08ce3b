"""A hung Redis (accepts, never answers) fails batch steps with a timeout instead of hanging.

The clients set their timeouts explicitly (redis-py before 8 had none by default, and a DAG
task must not depend on the library's default)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from batch.settings import BatchSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def hung_redis_url() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)  # read nothing, answer nothing
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def _fails_within(fn: Callable[[], object], seconds: float) -> BaseException | None:
    """Run ``fn`` in a thread; the exception it raised, or fail when it is still running."""
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting on a hung Redis after {seconds}s"
    assert time.monotonic() - started < seconds
    return outcome[0] if outcome else None


def test_freshness_client_times_out(hung_redis_url: str, tmp_path: Path) -> None:
    import redis

    from batch.freshness.store import connection

    settings = BatchSettings(data_dir=tmp_path, redis_url=hung_redis_url)

    def ping() -> None:
        with connection(settings) as client:
            kwargs = client.connection_pool.connection_kwargs
            assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 5.0
            client.ping()

    assert isinstance(_fails_within(ping, 30), redis.TimeoutError)


def test_batch_client_times_out(hung_redis_url: str, tmp_path: Path) -> None:
    import redis

    from batch.redis_client import connect

    client = connect(BatchSettings(data_dir=tmp_path, redis_url=hung_redis_url))
    try:
        assert isinstance(_fails_within(client.ping, 30), redis.TimeoutError)
    finally:
        client.close()
