"""Old name of the blocking Redis view, kept only for the modules being edited elsewhere
(``online/refine/judging.py``, ``bench/pair_table.py`` and their tests); use
:class:`core.cache.redis_sync.RedisAnswerCacheSync` (through ``core.cache.factory``). Remove
with its last user."""

from __future__ import annotations

from core.cache.codec import CacheScope
from core.cache.redis_sync import RedisAnswerCacheSync
from shared_schemas.cache import CacheEntry


class RedisAnswerCache(RedisAnswerCacheSync):
    """:class:`RedisAnswerCacheSync` with its old method name ``get`` (now ``get_exact``)."""

    def get(self, scope: CacheScope, question_hash: str) -> CacheEntry | None:
        return self.get_exact(scope, question_hash)
