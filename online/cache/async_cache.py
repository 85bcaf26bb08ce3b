"""Old name of the asyncio Redis answer cache, kept only for ``bench/pair_table.py`` (being edited
elsewhere); use :class:`core.cache.redis.RedisAnswerCache`. Remove with its last user."""

from core.cache.redis import RedisAnswerCache as AsyncRedisAnswerCache

__all__ = ["AsyncRedisAnswerCache"]
