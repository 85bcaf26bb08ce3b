"""The service's Redis client under more concurrent requests than connections (issue 27 item 2):
commands wait for a free pooled connection instead of failing with "Too many connections",
which the service took for Redis being down (cached answers were generated anew, the rate
limiter went unchecked)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from core.redis_clients import async_redis
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.integration


async def _burst(client: Redis, n: int) -> list[object]:
    async def one(i: int) -> object:
        await client.set(f"tandem:test:pool:{i % 7}", i)
        return await client.get(f"tandem:test:pool:{i % 7}")

    return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)


def test_more_requests_than_connections_wait_instead_of_failing() -> None:
    async def main() -> tuple[list[object], list[object], int]:
        plain = Redis(connection_pool=ConnectionPool.from_url(TEST_REDIS_URL, max_connections=4))
        bounded = async_redis(TEST_REDIS_URL + "?client_name=pool-test", max_connections=4)
        try:
            refused = await _burst(plain, 256)
            served = await _burst(bounded, 256)
            opened = int((await bounded.client_info())["id"] > 0) and len(
                [c for c in await bounded.client_list() if c["name"] == "pool-test"]
            )
        finally:
            await plain.aclose()
            await bounded.aclose()
        return refused, served, opened

    refused, served, opened = asyncio.run(main())
    # what the service had: a bounded pool that refuses once every connection is busy
    assert any(isinstance(r, RedisConnectionError) for r in refused)
    assert not [r for r in served if isinstance(r, Exception)]
    assert opened <= 4


def test_a_free_connection_is_taken_at_once_and_a_busy_pool_still_makes_callers_wait() -> None:
    async def main() -> tuple[bool, str, bool]:
        client = async_redis(TEST_REDIS_URL, max_connections=1, pool_wait_s=0.2)
        pool = client.connection_pool
        try:
            held = await pool.get_connection()  # the only connection: free, taken at once
            first_in_use = held in pool._in_use_connections
            try:  # none free: the caller waits (redis-py's own wait), then gives up
                await pool.get_connection()
                waited = "served"
            except RedisConnectionError as exc:
                waited = str(exc)
            # a waiter gets the connection released meanwhile, ahead of any later caller
            waiter = asyncio.ensure_future(pool.get_connection())
            while not pool._condition._waiters:  # until it waits on the pool
                await asyncio.sleep(0)
            await pool.release(held)
            again = await asyncio.wait_for(waiter, 1.0)
            await pool.release(again)
            return first_in_use, waited, again is held
        finally:
            await client.aclose()

    first_in_use, waited, reused = asyncio.run(main())
    assert first_in_use
    assert waited == "No connection available."
    assert reused
