"""Time as the app keeps it: aware UTC datetimes, written as ISO 8601 with `Z`."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Optional


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def format_timestamp(value: Optional[datetime]) -> Optional[str]:
    """ISO 8601 in UTC with `Z` (`2026-11-30T02:04:55.123456Z`), as the API and the page show times; None stays None.

    A naive datetime is taken as UTC.
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"
