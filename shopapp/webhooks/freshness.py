"""Deciding whether a delivery is older than what a projection already applied (stale deliveries).

Shopify may deliver out of order and retry old payloads for hours. A delivery is ordered by the payload's
`updated_at` first and by `X-Shopify-Triggered-At` second; one that is not newer than the stored row is
not applied, and the job says why.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional


def staleness(incoming_updated: Optional[datetime], incoming_triggered: Optional[datetime],
              stored_updated: Optional[datetime], stored_triggered: Optional[datetime]) -> Optional[str]:
    """Why the delivery is stale ("updated_at ... is older than ..."), or None when it should be applied."""
    if incoming_updated and stored_updated:
        if incoming_updated < stored_updated:
            return f"updated_at {_iso(incoming_updated)} is older than the applied {_iso(stored_updated)}"
        if incoming_updated > stored_updated:
            return None
    if incoming_triggered and stored_triggered and incoming_triggered <= stored_triggered:
        return (f"triggered at {_iso(incoming_triggered)}, not after the applied delivery "
                f"({_iso(stored_triggered)})")
    if incoming_updated and stored_updated and incoming_triggered is None:
        return f"updated_at {_iso(incoming_updated)} was already applied"
    return None


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
