"""The one way any Tandem process opens Redis: sync or asyncio, one node or a Redis Cluster,
chosen by the URL (issue 26).

- ``redis://[:password@]host:port/db``, ``rediss://...`` (TLS) and ``unix://...``: one node;
- ``redis+cluster://[:password@]host:port[,host:port...]`` and ``rediss+cluster://...``: a Redis
  Cluster (or Valkey, or a managed service built on it), found from any of those nodes; the db
  is always 0 there.

Every multi-key operation of Tandem's stays in one hash slot (``shared_schemas/layout.py``), so
scripts, transactions and pipelines behave the same on both. Pub/sub works on both (a cluster
forwards a PUBLISH to every node).

Timeouts: the sync client has socket timeouts; the asyncio client has none of its own (redis-py
enforces one with a task per command, which the cache-hit path cannot afford): the service bounds
each operation with :func:`deadline` (``core.deadline``: no task, no timer).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from redis.exceptions import RedisError

from core.deadline import deadline as coarse_deadline

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
#: a bounded, *blocking* pool: the wait for a free connection is a backstop, longer than every
#: caller's deadline, so a busy pool is never mistaken for a Redis that is down (issue 27 item 2)
DEFAULT_POOL_WAIT_S = 10.0

#: what a Redis call raises when Redis is down, slow or failing over: redis-py's own errors, the
#: socket's, a deadline's, and AttributeError, which redis-py 8's asyncio client raises when a
#: connection is closed under a command being sent ("'NoneType' object has no attribute
#: 'writelines'": seen with a cluster master killed under load, where it became a 500)
REDIS_FAILURES: tuple[type[BaseException], ...] = (
    RedisError,
    OSError,
    TimeoutError,
    AttributeError,
)
#: how long one asyncio Redis operation of the service may take (``deadline``'s default)
REDIS_OP_TIMEOUT_S = 1.0


def deadline(seconds: float = REDIS_OP_TIMEOUT_S) -> Any:
    """``async with deadline(): await redis...`` raises TimeoutError when Redis hangs (a coarse
    deadline: a dictionary entry per use, not a timer; ``core.deadline``)."""
    return coarse_deadline(seconds)


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def cluster_nodes(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The startup nodes and connection options of a ``redis+cluster://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        raise ValueError(f"not a cluster URL: {parts.scheme}://")
    netloc = parts.netloc
    options: dict[str, Any] = {}
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        if user:
            options["username"] = unquote(user)
        if password:
            options["password"] = unquote(password)
    nodes = []
    for hostport in netloc.split(","):
        host, _, port = hostport.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"cluster node {hostport!r}: expected host:port")
        nodes.append((host.strip("[]"), int(port)))
    if parts.scheme == "rediss+cluster":
        options["ssl"] = True
    return nodes, options


def sync_redis(url: str, *, timeout_s: float = 5.0, connect_timeout_s: float = 2.0) -> Any:
    """A blocking client (batch tasks, the CLI, the workers): a hung Redis fails the call with
    ``redis.TimeoutError`` after ``timeout_s`` instead of hanging it; one immediate retry."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    common: dict[str, Any] = {
        "socket_connect_timeout": min(connect_timeout_s, timeout_s),
        "socket_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 1),
    }
    if is_cluster_url(url):
        from redis.cluster import ClusterNode, RedisCluster

        nodes, options = cluster_nodes(url)
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in nodes], **options, **common
        )
    from redis import Redis

    return Redis.from_url(url, health_check_interval=30, **common)


def _prompt_pool_class() -> Any:
    """redis-py's blocking pool, which takes a free connection at once: its own
    ``get_connection`` runs a condition lock, a timeout and its metrics for every command (7% of
    a cache hit's time, measured with py-spy on ``bench/bench_online.py --only hits``); those are
    for waiting, so they run only when no connection is free or others already wait (first come,
    first served then, as before)."""
    from redis.asyncio import BlockingConnectionPool

    base: Any = BlockingConnectionPool  # the stubs lag redis-py 8's pool API

    class PromptBlockingConnectionPool(base):  # type: ignore[misc]
        async def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
            waiters = getattr(self._condition, "_waiters", None)
            if (
                waiters is not None
                and not waiters
                and not getattr(self, "_in_maintenance", True)
                and self.can_get_connection()
            ):
                connection = self.get_available_connection()
                try:
                    await self.ensure_connection(connection)
                except BaseException:
                    await self.release(connection)
                    raise
                return connection
            return await super().get_connection()

    return PromptBlockingConnectionPool


def async_redis(
    url: str,
    *,
    connect_timeout_s: float = 0.5,
    max_connections: int = 64,
    pool_wait_s: float = DEFAULT_POOL_WAIT_S,
) -> Any:
    """The service's client. Its pool is bounded and *blocking*: at more concurrent requests
    than connections a command waits for a free one instead of failing with "Too many
    connections", which the service took for Redis being down (at 256 connections cached
    answers turned into generations and the rate limiter went unchecked). The callers'
    deadlines bound that wait (a lookup past its deadline is "slow": a 503, never a
    generation); ``pool_wait_s`` is only a backstop, longer than any of them. On a cluster:
    ``max_connections`` per node."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    if is_cluster_url(url):
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        nodes, options = cluster_nodes(url)
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in nodes],
            socket_connect_timeout=connect_timeout_s,
            max_connections=max_connections,
            retry=Retry(NoBackoff(), 1),  # type: ignore[arg-type]  # the asyncio Retry; stubs lag
            **options,
        )
    from redis.asyncio import Redis

    pool: Any = _prompt_pool_class().from_url(
        url,
        max_connections=max_connections,
        timeout=pool_wait_s,
        socket_connect_timeout=connect_timeout_s,
        socket_timeout=None,
        retry=Retry(NoBackoff(), 1),
        # no health-check PING: a stale pooled connection fails its command, which is retried
        # once on a fresh connection (the Retry above); the check cost every command time
    )
    return Redis.from_pool(pool)  # type: ignore[attr-defined]  # redis-py >= 5; stubs lag
