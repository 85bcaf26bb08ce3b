"""Why a question is, or is not, answered from the cache (``tandem cache explain``; issue 24
item 3: the rule and its evidence inspectable).

For one question against the live version's cache scope: the exact entry (which tier produced
it, whether it is an alias the judge wrote, how long it lives), then the nearest cached questions
by cosine with what the semantic path decides for each (the threshold, the verifier's score and
the check that rejected it), the pair judge's recorded verdict for the pair if it judged one, and
what the service would do: an exact hit, a semantic hit, a borderline miss queued for the judge,
or a miss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.cache.codec import CacheScope, decode_entry, decode_vector
from core.matching.signature import question_signature
from core.matching.verifier import HitVerifier
from online.refine.judging import judged_marker
from shared_schemas.hashing import question_key_hash


@dataclass(frozen=True)
class Candidate:
    question: str
    question_hash: str
    cosine: float
    over_threshold: bool
    accepted: bool
    #: the verifier's score (None: the signature check only), and the check that decided
    score: float | None
    reason: str
    tier: str | None
    alias_of: str | None
    #: the pair judge's recorded verdict for (asked, this one): "same 0.9712", or None
    judged: str | None


@dataclass(frozen=True)
class Explanation:
    question: str
    question_hash: str
    index_version: str
    scope: str
    exact: dict[str, Any] | None
    threshold: float
    judge_floor: float
    decision: str
    candidates: list[Candidate] = field(default_factory=list)
    #: the question as the semantic side read it (typing slips put right)
    read_as: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(
    question: str,
    *,
    scope: CacheScope,
    redis: Any,
    vector: np.ndarray,
    verifier: HitVerifier | None,
    threshold: float,
    judge_floor: float,
    judge_misses: bool,
    top: int = 5,
    asked: str | None = None,
) -> Explanation:
    """``redis``: a blocking client; ``vector``: the embedding of ``asked``, the question with
    its typing slips put right as the service reads it (``question`` itself by default); the
    exact key is the question's as written."""
    asked = asked or question
    qhash = question_key_hash(question)
    exact = None
    raw = redis.get(scope.key(qhash))
    entry = decode_entry(raw)
    if entry is not None:
        exact = {
            "answer": entry.answer,
            "tier": entry.tier,
            "produced_by": entry.produced_by or entry.llm_model,
            "origin": entry.origin,
            "alias_of": entry.alias_of,
            "created_at": entry.created_at.isoformat(),
            "ttl_s": int(redis.ttl(scope.key(qhash))),
        }
    candidates = _nearest(redis, scope, vector, top, skip=qhash)
    explained: list[Candidate] = []
    decision = "exact hit" if exact else "miss"
    for cand_hash, cosine in candidates:
        cached = decode_entry(redis.get(scope.key(cand_hash)))
        if cached is None:
            continue
        over = cosine >= threshold
        if verifier is not None:
            verdict = verifier.verdict(asked, cached.question, cosine)
            accepted, score, reason = over and verdict.accepted, verdict.score, verdict.reason
            if not over:
                reason = f"under the threshold ({reason} on its own)"
        else:
            agrees = question_signature(cached.question).agrees_with(question_signature(asked))
            accepted, score = over and agrees, None
            reason = "signatures agree" if agrees else "signatures differ"
        marker = redis.get(judged_marker(scope, qhash, cand_hash))
        explained.append(
            Candidate(
                question=cached.question,
                question_hash=cand_hash,
                cosine=round(float(cosine), 4),
                over_threshold=over,
                accepted=accepted,
                score=None if score is None or not np.isfinite(score) else round(score, 4),
                reason=reason,
                tier=cached.tier,
                alias_of=cached.alias_of,
                judged=marker.decode() if isinstance(marker, bytes) else marker,
            )
        )
    if exact is None and explained:
        first_accepted = next((c for c in explained if c.accepted), None)
        if first_accepted is not None:
            decision = f"semantic hit on {first_accepted.question!r}"
        elif judge_misses and explained[0].cosine >= judge_floor:
            decision = "miss, answered live; the nearest pair goes to the judge"
    return Explanation(
        question=question,
        read_as=asked,
        question_hash=qhash,
        index_version=scope.index_version,
        scope=scope.semantic_key(),
        exact=exact,
        threshold=threshold,
        judge_floor=judge_floor,
        decision=decision,
        candidates=explained,
    )


def _nearest(
    redis: Any, scope: CacheScope, vector: np.ndarray, top: int, *, skip: str
) -> list[tuple[str, float]]:
    """The ``top`` cached questions nearest ``vector`` (cosine), read from the scope's hash."""
    names: list[str] = []
    rows: list[np.ndarray] = []
    for name, raw in redis.hscan_iter(scope.keys.vectors, count=1000):
        vec = decode_vector(raw, int(vector.size))
        if vec is None:
            continue
        text = name.decode() if isinstance(name, bytes) else str(name)
        if text == skip:
            continue
        names.append(text)
        rows.append(vec)
    if not rows:
        return []
    matrix = np.vstack(rows)
    norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(vector))
    cosines = matrix @ vector / np.where(norms == 0, 1.0, norms)
    order = np.argsort(-cosines)[:top]
    return [(names[i], float(cosines[i])) for i in order]
