"""Sticky, weighted assignment of requests to variants.

A user id is hashed with SHA-256 (never Python's salted ``hash``) into a point of [0, 1); the
variants' weights cut [0, 1) into consecutive ranges in declared order, so the same user gets the
same variant on every replica and every restart while the weights stay the same. Setting a
canary's weight to 0 at run time (a rollback) disables it without moving the ranges: its users
are spread over the enabled arms by a second hash, in proportion to their weights, and every
other user stays where they were.

The ``X-Tandem-Variant`` header forces a declared variant, even one declared at weight 0 (QA
before a ramp-up), but only when the caller says it may (``allow_override``: the request carried a
declared debug key or the admin token, :mod:`online.experiments.override`), and never into an arm
whose weight was set to 0 at run time (a canary rollback): clients cannot steer themselves into an
arm. A refused or unknown name is ignored: the request is assigned as if the header were absent
and :attr:`Assignment.override_ignored` says so; a bad header never fails a user's request. A
forced request is flagged (:attr:`Assignment.forced`) so it stays out of the canary's figures.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from online.experiments.variants import Variant, VariantError, check_variants

logger = logging.getLogger(__name__)

VARIANT_HEADER = "X-Tandem-Variant"
AssignReason = Literal["header", "user", "query", "random", "single"]


@dataclass(frozen=True)
class Assignment:
    variant: Variant
    reason: AssignReason
    override_ignored: bool = False

    @property
    def name(self) -> str:
        return self.variant.name

    @property
    def forced(self) -> bool:
        """Chosen by the override header, not by the weights (kept out of the canary's figures)."""
        return self.reason == "header"


def stable_bucket(key: str, *, salt: str) -> float:
    """A point of [0, 1) fixed by ``salt`` and ``key`` alone (same on every process)."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class VariantRouter:
    """Assigns requests to variants; weights can be changed at run time (thread-safe)."""

    def __init__(
        self,
        variants: Sequence[Variant],
        *,
        salt: str = "tandem-ab",
        rng: random.Random | None = None,
    ) -> None:
        self._variants = check_variants(variants)
        self._by_name = {v.name: v for v in self._variants}
        self._layout = {v.name: v.weight for v in self._variants}
        self._disabled: set[str] = set()
        self._salt = salt
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    @property
    def variants(self) -> tuple[Variant, ...]:
        return self._variants

    @property
    def baseline(self) -> Variant:
        return next(v for v in self._variants if v.baseline)

    def get(self, name: str) -> Variant | None:
        return self._by_name.get(name.strip().lower())

    def disabled(self, name: str) -> bool:
        """Whether ``name``'s weight was set to 0 at run time (a rollback)."""
        with self._lock:
            return name in self._disabled

    def weights(self) -> Mapping[str, float]:
        """The weights in force (declared ones, less any set at run time)."""
        with self._lock:
            return {n: 0.0 if n in self._disabled else w for n, w in self._layout.items()}

    def set_weight(self, name: str, weight: float) -> None:
        if name not in self._by_name:
            raise VariantError(f"unknown variant {name!r}; declared: {', '.join(self._by_name)}")
        if weight < 0:
            raise VariantError(f"weight must be >= 0, got {weight}")
        with self._lock:
            if weight == 0:
                self._disabled.add(name)
            else:
                self._disabled.discard(name)
                self._layout[name] = weight

    def apply_weights(self, weights: Mapping[str, float]) -> bool:
        """Put a whole set of run-time weights in force at once (the replicas' shared state);
        0 disables an arm, names not given keep their weight. Returns whether anything moved."""
        unknown = [n for n in weights if n not in self._by_name]
        if unknown:
            raise VariantError(f"unknown variants: {', '.join(unknown)}")
        with self._lock:
            before = (dict(self._layout), set(self._disabled))
            for name, weight in weights.items():
                if weight <= 0:
                    self._disabled.add(name)
                else:
                    self._disabled.discard(name)
                    self._layout[name] = weight
            return before != (self._layout, self._disabled)

    def pick(self, point: float, fallback_point: float) -> Variant:
        """The variant whose range holds ``point``; if disabled, re-drawn with ``fallback_point``.

        Both points are in [0, 1). The ranges follow the layout weights (declared, or set at run
        time to a value above 0); a disabled arm keeps its range so nobody else moves.
        """
        with self._lock:
            layout = [(v, self._layout[v.name]) for v in self._variants]
            enabled = [(v, w) for v, w in layout if v.name not in self._disabled]
        chosen = _in_range(layout, point)
        if chosen is not None and chosen.name not in self._disabled:
            return chosen
        return _in_range(enabled, fallback_point) or self.baseline

    def assign(
        self,
        *,
        user_id: str | None,
        header: str | None = None,
        query_id: str | None = None,
        allow_override: bool = False,
    ) -> Assignment:
        """Variant of one request: header override (if allowed), else hash of user id, else query
        id/random. A header naming an arm rolled back at run time is ignored, allowed or not."""
        ignored = False
        if header is not None and header.strip():
            forced = self.get(header) if allow_override else None
            if forced is not None and not self.disabled(forced.name):
                return Assignment(forced, "header")
            ignored = True
            logger.debug(
                "ignoring %s value %r (%s)",
                VARIANT_HEADER,
                header[:64],
                "no debug key" if not allow_override else "unknown or rolled back",
            )
        if user_id:
            return Assignment(self._pick_key(user_id), "user", ignored)
        if query_id:
            return Assignment(self._pick_key(query_id), "query", ignored)
        with self._lock:
            points = self._rng.random(), self._rng.random()
        return Assignment(self.pick(*points), "random", ignored)

    def _pick_key(self, key: str) -> Variant:
        return self.pick(
            stable_bucket(key, salt=self._salt),
            stable_bucket(key, salt=self._salt + "/fallback"),
        )


def _in_range(weights: Sequence[tuple[Variant, float]], point: float) -> Variant | None:
    """Cut [0, 1) into consecutive ranges by weight; the variant whose range holds ``point``."""
    total = sum(w for _, w in weights)
    if total <= 0:
        return None
    edge = 0.0
    for variant, w in weights:
        edge += w / total
        if point < edge and w > 0:
            return variant
    return next(v for v, w in reversed(weights) if w > 0)
