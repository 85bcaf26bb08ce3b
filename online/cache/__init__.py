"""The answer cache: exact (versioned key) and semantic (nearest cached question) sides."""

from online.cache.async_cache import AsyncRedisAnswerCache, SemanticHit
from online.cache.codec import CacheScope, decode_entry
from online.cache.redis_cache import RedisAnswerCache

__all__ = [
    "AsyncRedisAnswerCache",
    "CacheScope",
    "RedisAnswerCache",
    "SemanticHit",
    "decode_entry",
]
