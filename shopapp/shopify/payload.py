"""Reading fields of Shopify payloads (webhook bodies, GraphQL nodes), which are data from outside.

A field may be missing, null, of another type than documented, or a GraphQL global id where a REST
payload has a number; these readers never raise, they answer None for what they cannot read.
"""
from __future__ import annotations

from typing import Any, Optional


def as_int(value: Any) -> Optional[int]:
    """An integer from a number, a numeric string, or a GraphQL global id (`gid://shopify/Order/123`)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and value.startswith("gid://"):
        value = value.rsplit("/", 1)[-1].split("?", 1)[0]
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def as_text(value: Any, limit: int) -> Optional[str]:
    """`value` as text of at most `limit` characters (None stays None)."""
    return None if value is None else str(value)[:limit]
