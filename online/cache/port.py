"""The answer-cache port lives in :mod:`core.cache.port` (batch uses it too); these names remain
for ``online/api/deps.py`` (being edited elsewhere). Remove with their last user."""

from core.cache.port import AnswerCache, CandidateVerifier, SemanticHit, candidate_accepted

__all__ = ["AnswerCache", "CandidateVerifier", "SemanticHit", "candidate_accepted"]
