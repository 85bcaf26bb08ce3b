"""The service's answer path, in the steps :class:`online.pipeline.AnswerPipeline` chains.

- :mod:`~online.answering.request`: the one factory of an :class:`~online.answers.AnswerRequest`
  (fast path, ``/v1/query``, chat) and the lookup the fast path leaves in the ASGI scope;
- :mod:`~online.answering.context`: one request's state, the begin and finish steps, the
  observer and admission ports;
- :mod:`~online.answering.lookup`: exact and semantic lookups, their slow/down policy, the
  replica's own answers while Redis is down, borderline misses queued for the judge;
- :mod:`~online.answering.sources`: a cached answer's cited sources, memoised;
- :mod:`~online.answering.live`: retrieval → prompt → generate → write-through.
"""
