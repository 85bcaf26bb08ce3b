"""Time helpers shared by the freshness modules: naive times are UTC, ages are in hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0
