"""Parsing Shopify's timestamps (headers and payload fields) into aware UTC datetimes."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Optional

_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(value) -> Optional[datetime]:
    """An aware UTC datetime from an ISO 8601 string (`Z`, offsets, up to nanoseconds), or None."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Shopify sends up to nine fractional digits; datetime takes six.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
