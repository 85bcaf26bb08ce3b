"""POST /v1/feedback → FeedbackEvent on the feedback stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from online.api.deps import ExperimentsDep, RedisDep, SettingsDep
from online.api.responses import V1, FeedbackAccepted
from online.api.schemas import FeedbackBody
from online.querylog_writer import append_feedback
from shared_schemas.events import FeedbackEvent

router = APIRouter(tags=["feedback"])


@router.post("/v1/feedback", status_code=202, response_model=FeedbackAccepted, responses=V1)
async def feedback(
    body: FeedbackBody, experiments: ExperimentsDep, redis: RedisDep, settings: SettingsDep
) -> dict[str, Any]:
    event = FeedbackEvent(
        query_id=body.query_id,
        rating=body.rating,
        comment=body.comment,
        ts=datetime.now(UTC),
        # the variant of the query when this replica answered it recently; otherwise "default"
        # (`tandem ab report` attributes feedback by query id from the query log anyway)
        variant=experiments.variant_of(body.query_id) or "default",
    )
    entry_id = await append_feedback(redis, event, maxlen=settings.query_log_maxlen)
    return {"status": "accepted", "id": entry_id, "variant": event.variant}
