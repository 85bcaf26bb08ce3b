"""Alerts: post a JSON message to a configurable webhook (Slack-compatible ``text`` field).

Used by the Airflow DAGs' ``on_failure_callback`` and their deadline alerts. Posting never raises:
an unreachable webhook is logged and the caller carries on (the task has failed already).
The webhook is ``BatchSettings.alerts`` (``TANDEM_ALERTS__WEBHOOK_URL``,
``TANDEM_ALERTS__TIMEOUT_S``). Standard library only at import, so DAG files can reference this
module cheaply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch.settings import AlertConfig

log = logging.getLogger(__name__)


def _config() -> AlertConfig:
    from batch.settings import get_settings

    return get_settings().alerts


def post_alert(
    payload: Mapping[str, Any], *, url: str | None = None, timeout_s: float = 5.0
) -> bool:
    """POST ``payload`` as JSON to ``url`` (default: the configured webhook). True when accepted."""
    target = url if url is not None else _config().webhook_url
    log.warning("alert: %s", payload.get("text", payload))
    if not target:
        log.info("alert webhook not configured (TANDEM_ALERTS__WEBHOOK_URL); logged only")
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
    config = _config()
    post_alert(failure_payload(context), url=config.webhook_url, timeout_s=config.timeout_s)


async def deadline_missed(context: Mapping[str, Any], **kwargs: Any) -> None:
    """Airflow deadline-alert callback (runs in the triggerer): the DAG run is overdue."""
    dag_run = context.get("dag_run")
    dag_id = kwargs.get("dag_id") or getattr(dag_run, "dag_id", "?")
    run_id = getattr(dag_run, "run_id", "?") if dag_run is not None else "?"
    text = f"[tandem] {dag_id} run {run_id} missed its deadline ({kwargs.get('deadline', '?')})"
    payload = {"text": text, "dag_id": dag_id, "run_id": run_id, "reason": "deadline missed"}
    config = _config()
    await asyncio.to_thread(post_alert, payload, url=config.webhook_url, timeout_s=config.timeout_s)
