"""Where an answer request comes from: one factory for the fast path, ``/v1/query`` and chat,
and the typed accessors of the request the fast path began (its exact lookup done and missed)
and left in the ASGI scope for the route to go on with."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from online.answering.context import Answering
from online.answers import AnswerRequest, GenerationRequest, new_query_id
from online.experiments.service import Experiments

_BEGUN_KEY = "tandem.answering"


def new_request(
    experiments: Experiments,
    question: str,
    *,
    top_k: int | None = None,
    user_id: str | None = None,
    variant_header: str | None = None,
    debug_key: str | bytes | None = None,
    client: str | None = None,
    generation: GenerationRequest | None = None,
) -> AnswerRequest:
    """A request for ``question`` (already validated and stripped), with a new query id and
    the variant the experiments assign it (``variant_header`` forces one only with a valid
    ``debug_key``); ``client``: who the rate limits count it against."""
    query_id = new_query_id()
    assigned = experiments.assign(
        user_id=user_id, header=variant_header, query_id=query_id, debug_key=debug_key
    )
    return AnswerRequest(
        question=question,
        top_k=top_k,
        user_id=user_id,
        variant=assigned.name,
        query_id=query_id,
        client=client,
        forced=assigned.forced,
        generation=generation,
    )


def set_begun(scope: MutableMapping[str, Any], begun: Answering) -> None:
    """Leave a request whose exact lookup missed in the ASGI scope, for the route."""
    scope[_BEGUN_KEY] = begun


def get_begun(scope: Mapping[str, Any]) -> Answering | None:
    """The request the fast path began, if it did (:func:`set_begun`)."""
    begun: Answering | None = scope.get(_BEGUN_KEY)
    return begun
