"""Refinement jobs: the stream entry that asks for one, and the status record clients read.

A job's id is derived from the question, the index version and the variant, so asking again for
the same refinement finds the job already queued, running or done (a failed one is queued anew)
instead of queueing another: one Lua script records the status and appends to the stream.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

from core.redis_clients import deadline
from online.errors import CacheUnavailableError
from shared_schemas.layout import REFINE_JOB_PREFIX, REFINE_STREAM

REFINE_GROUP = "tandem-refiners"
JOB_KEY_PREFIX = REFINE_JOB_PREFIX

JobState = Literal["queued", "running", "done", "failed"]


class RefineJob(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    query_id: str = ""
    question: str
    user_id: str | None = None
    variant: str = "default"
    requested_index_version: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class JobStatus(BaseModel):
    job_id: str
    status: JobState
    question: str
    created_at: datetime
    updated_at: datetime
    answer: str | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list)
    index_version: str | None = None
    error: str | None = None
    attempts: int = 0

    def advance(self, status: JobState, **changes: Any) -> JobStatus:
        return self.model_copy(
            update={"status": status, "updated_at": datetime.now(UTC), **changes}
        )


def job_key(job_id: str) -> str:
    return JOB_KEY_PREFIX + job_id


def refine_job_id(question_hash: str, index_version: str, variant: str) -> str:
    """The one job id of refining this question on this index version for this variant."""
    text = f"{question_hash}\n{index_version}\n{variant}".encode()
    return hashlib.blake2b(text, digest_size=16).hexdigest()


_ENQUEUE = """
local existing = redis.call('GET', KEYS[1])
if existing then
  local ok, status = pcall(cjson.decode, existing)
  if not ok or status.status ~= 'failed' then return existing end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'job', ARGV[4])
return false
"""


async def enqueue(redis: Any, job: RefineJob, *, ttl_s: int, maxlen: int) -> JobStatus:
    """Record the job as queued and append it to the refine stream (one script); when a job of
    that id is already queued, running or done, return its status and queue nothing."""
    status = JobStatus(
        job_id=job.job_id,
        status="queued",
        question=job.question,
        created_at=job.created_at,
        updated_at=job.created_at,
    )
    try:
        async with deadline():
            existing = await redis.eval(
                _ENQUEUE,
                2,
                job_key(job.job_id),
                REFINE_STREAM,
                status.model_dump_json(),
                ttl_s,
                maxlen,
                job.model_dump_json(),
            )
    except (RedisError, OSError, TimeoutError) as exc:
        raise CacheUnavailableError(f"refinement queue unavailable: {exc}") from exc
    if existing is not None:
        return JobStatus.model_validate_json(existing)
    return status


async def read_status(redis: Any, job_id: str) -> JobStatus | None:
    try:
        async with deadline():
            raw = await redis.get(job_key(job_id))
    except (RedisError, OSError, TimeoutError) as exc:
        raise CacheUnavailableError(f"job store unavailable: {exc}") from exc
    return JobStatus.model_validate_json(raw) if raw is not None else None


def write_status(redis: Any, status: JobStatus, *, ttl_s: int) -> None:
    """Blocking write, for the worker."""
    redis.set(job_key(status.job_id), status.model_dump_json(), ex=ttl_s)
