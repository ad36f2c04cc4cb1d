"""Shopify's API release calendar: which versions exist, when each was released, which are still supported.

Shopify releases a stable API version every quarter, named for its month: `YYYY-01`, `YYYY-04`, `YYYY-07`
and `YYYY-10`, each on the 1st of that month, and supports each for 12 months (shopify.dev, "About Shopify
API versioning"). A version V is supported while `today < release(V) + 12 months`, so four are supported
at any time; the newest released one is the current stable version. On 2026-11-30: 2026-01, 2026-04,
2026-07 and 2026-10 are supported and 2026-10 is the current stable one. The Shopify CLI refuses to deploy
webhook subscriptions on an unsupported version, and Shopify then sends webhooks in a newer format.
"""
from __future__ import annotations

import re
from datetime import date

RELEASE_MONTHS = (1, 4, 7, 10)
SUPPORT_MONTHS = 12
_VERSION = re.compile(r"^(\d{4})-(\d{2})$")


class ApiVersionError(ValueError):
    """Not a Shopify release name (`YYYY-01`, `YYYY-04`, `YYYY-07` or `YYYY-10`)."""


def release_date(version: str) -> date:
    """The day `version` was (or will be) released; raises ApiVersionError for a name that is no release."""
    match = _VERSION.match(version or "")
    if not match or int(match.group(2)) not in RELEASE_MONTHS:
        raise ApiVersionError(f"{version!r} is not a Shopify API version (YYYY-01, YYYY-04, YYYY-07 or YYYY-10)")
    return date(int(match.group(1)), int(match.group(2)), 1)


def end_of_support(version: str) -> date:
    """The first day `version` is no longer supported: 12 months after its release."""
    released = release_date(version)
    return released.replace(year=released.year + SUPPORT_MONTHS // 12)


def is_supported(version: str, today: date) -> bool:
    """Whether `version` is released and inside its 12 months of support on `today`."""
    return release_date(version) <= today < end_of_support(version)


def current_stable(today: date) -> str:
    """The newest version released on or before `today` (e.g. 2026-10 on 2026-11-30)."""
    month = max(m for m in RELEASE_MONTHS if m <= today.month)
    return f"{today.year}-{month:02d}"


def supported_versions(today: date) -> list[str]:
    """The versions supported on `today`, oldest first (four of them)."""
    year, month = today.year, max(m for m in RELEASE_MONTHS if m <= today.month)
    versions = []
    for _ in range(SUPPORT_MONTHS // 3):
        versions.append(f"{year}-{month:02d}")
        month -= 3
        if month < 1:
            year, month = year - 1, month + 12
    return versions[::-1]
