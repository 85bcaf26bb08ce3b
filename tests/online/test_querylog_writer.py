"""The query-log writer's accounting (issue 27 item 6): every event is either in the stream or
counted in ``tandem_querylog_dropped_total``, never both. A batch whose send timed out may still
have been written (Redis ran it late); it used to be counted as dropped as well."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from core.redis_clients import async_redis
from online.querylog_writer import QueryLogWriter
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.integration


def _events(n: int) -> list[str]:
    return [json.dumps({"i": i}) for i in range(n)]


def test_a_batch_written_after_its_send_timed_out_is_not_counted_as_dropped(
    redis_client: Any,
) -> None:
    """Redis runs the batch, its reply is lost (a timeout on the client's side): the writer
    sends it again, Redis finds it written, and the events count as written once."""
    stream = f"tandem:test:querylog:{uuid.uuid4().hex[:8]}"

    async def main() -> tuple[list[int], int, int]:
        client = async_redis(TEST_REDIS_URL)
        writer = QueryLogWriter(client, maxlen=1000, stream=stream)
        real = writer._script
        sends = 0

        async def reply_lost_once(*, keys: list[str], args: list[Any]) -> Any:
            nonlocal sends
            sends += 1
            result = await real(keys=keys, args=args)  # Redis ran it ...
            if sends == 1:
                raise TimeoutError("the reply never came")  # ... the client gave up waiting
            return result

        writer._script = reply_lost_once  # type: ignore[method-assign]
        try:
            for event in _events(5):
                writer.append(event)
            written = [await writer.flush(), await writer.flush(), await writer.flush()]
            return written, writer.dropped, sends
        finally:
            await client.aclose()

    try:
        written, dropped, sends = asyncio.run(main())
        assert redis_client.xlen(stream) == 5  # in the stream once, not twice
        assert written == [0, 5, 0]  # the second send found the batch written
        assert dropped == 0
        assert sends == 2
    finally:
        redis_client.delete(stream)


def test_a_batch_redis_never_took_is_counted_as_dropped_after_its_last_send() -> None:
    async def main() -> list[tuple[int, int]]:
        client = async_redis("redis://127.0.0.1:1/0")  # nothing listens there
        drops: list[int] = []
        writer = QueryLogWriter(
            client, maxlen=1000, attempts=3, write_timeout_s=1.0, on_drop=drops.append
        )
        try:
            for event in _events(5):
                writer.append(event)
            steps = []
            for _ in range(3):
                steps.append((await writer.flush(), writer.dropped))
            assert drops == [5]
            return steps
        finally:
            await client.aclose()

    assert asyncio.run(main()) == [(0, 0), (0, 0), (0, 5)]
