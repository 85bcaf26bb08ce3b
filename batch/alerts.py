"""Alerts: post a JSON message to a configurable webhook (Slack-compatible ``text`` field).

Used by the Airflow DAGs' ``on_failure_callback`` and their deadline alerts. Posting never raises:
an unreachable webhook is logged and the caller carries on (the task has failed already).
Standard library only, so DAG files can reference this module cheaply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


class AlertSettings(BaseSettings):
    """Where alerts go (env prefix ``TANDEM_ALERT_``)."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_ALERT_", extra="ignore", frozen=True)

    webhook_url: str | None = Field(
        default=None, description="URL alerts are POSTed to as JSON; unset: alerts are only logged."
    )
    timeout_s: float = Field(default=5.0, gt=0, description="Webhook request timeout.")


def post_alert(
    payload: Mapping[str, Any], *, url: str | None = None, timeout_s: float = 5.0
) -> bool:
    """POST ``payload`` as JSON to ``url`` (default: the configured webhook). True when accepted."""
    target = url if url is not None else AlertSettings().webhook_url
    log.warning("alert: %s", payload.get("text", payload))
    if not target:
        log.info("alert webhook not configured (TANDEM_ALERT_WEBHOOK_URL); logged only")
        return False
    body = json.dumps(dict(payload), default=str).encode("utf-8")
    req = urllib.request.Request(
        target, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            ok = 200 <= resp.status < 300
    except (urllib.error.URLError, OSError) as exc:
        log.warning("alert webhook %s failed: %s", target, exc)
        return False
    if not ok:
        log.warning("alert webhook %s answered %s", target, resp.status)
    return ok


def failure_payload(context: Mapping[str, Any]) -> dict[str, Any]:
    """The alert body for a failed task, from an Airflow task context (plain mapping access)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", None) or getattr(context.get("dag_run"), "run_id", "?")
    exc = context.get("exception")
    reason = str(exc) if exc is not None else "failed"
    return {
        "text": f"[tandem] {dag_id}.{task_id} failed ({run_id}): {reason}",
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "reason": reason,
        "at": datetime.now(UTC).isoformat(),
    }


def on_failure_callback(context: Mapping[str, Any]) -> None:
    """Airflow ``on_failure_callback``: post the failure with its reason to the webhook."""
    settings = AlertSettings()
    post_alert(failure_payload(context), url=settings.webhook_url, timeout_s=settings.timeout_s)


async def deadline_missed(context: Mapping[str, Any], **kwargs: Any) -> None:
    """Airflow deadline-alert callback (runs in the triggerer): the DAG run is overdue."""
    dag_run = context.get("dag_run")
    dag_id = kwargs.get("dag_id") or getattr(dag_run, "dag_id", "?")
    run_id = getattr(dag_run, "run_id", "?") if dag_run is not None else "?"
    text = f"[tandem] {dag_id} run {run_id} missed its deadline ({kwargs.get('deadline', '?')})"
    payload = {"text": text, "dag_id": dag_id, "run_id": run_id, "reason": "deadline missed"}
    settings = AlertSettings()
    await asyncio.to_thread(
        post_alert, payload, url=settings.webhook_url, timeout_s=settings.timeout_s
    )
