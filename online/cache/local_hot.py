"""Each replica's own copy of the answers it served lately, for when Redis is down (issue 27
item 5).

With Redis unreachable every request used to be answered live (the campaign: at 10 req/s, 163
of 201 requests got 503 and 37 were generated). The replica now remembers the last
``capacity`` answers it read from or wrote to Redis (an LRU in process memory, bounded by
count) and, only while Redis is unavailable, serves a remembered answer no older than
``max_age_s`` (stated staleness: the response says how old). While Redis answers it is the
only truth: a purge, a refined answer or a new index version there is never hidden by this copy.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from core.cache.codec import CacheScope
from shared_schemas.cache import CacheEntry


class LocalHotAnswers:
    """A bounded LRU of ``(scope, question hash) -> entry``, with the time each was stored."""

    def __init__(
        self,
        capacity: int,
        *,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.max_age_s = max_age_s
        self._clock = clock
        self._entries: OrderedDict[tuple[CacheScope, str], tuple[CacheEntry, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, scope: CacheScope, qhash: str, entry: CacheEntry) -> None:
        """Keep ``entry`` (just read from or written to Redis) as the newest."""
        if self.capacity <= 0:
            return
        key = (scope, qhash)
        with self._lock:
            self._entries[key] = (entry, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def recall(self, scope: CacheScope, qhash: str) -> tuple[CacheEntry, float] | None:
        """The remembered entry and its age in seconds, if it is no older than ``max_age_s``."""
        key = (scope, qhash)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            entry, stored = found
            age = self._clock() - stored
            if age > self.max_age_s:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry, age
