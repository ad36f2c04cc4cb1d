"""Shopify's timestamps (webhook headers, payload fields, GraphQL `DateTime`s, token expiries).

Shopify writes ISO 8601 with an offset or `Z` and up to nine fractional digits; the app keeps aware UTC
datetimes (`shopapp.clock` writes them back).
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Optional

_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(value) -> Optional[datetime]:
    """An aware UTC datetime from an ISO 8601 string (`Z`, offsets, up to nanoseconds), or None.

    Anything that is not such a string (None, a number, garbage) is None: a payload field is data from
    outside, and a bad one must not fail the caller.
    """
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
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
