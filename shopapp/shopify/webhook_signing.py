"""Signing and checking Shopify webhooks: the HMAC of the raw body, and the headers a delivery carries.

Shopify signs each delivery's raw body with the app's client secret: `X-Shopify-Hmac-Sha256` is the
base64 HMAC-SHA256 of the bytes as sent (shopify.dev, "Verify webhooks"). The app checks it in constant
time (`hmac_matches`); `webhook_headers` builds what Shopify sends, for `webhook trigger`, the test kit
and the benchmarks, so there is one signer.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Optional

from shopapp.clock import format_timestamp
from shopapp.shopify.webhook_headers import HEADERS


@functools.lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def sign(body: bytes, secret: str) -> str:
    """`X-Shopify-Hmac-Sha256` of `body`: base64 HMAC-SHA256 under `secret`."""
    mac = _keyed(secret).copy()  # the key's setup is done once per secret, not per body
    mac.update(body)
    return base64.b64encode(mac.digest()).decode()


def hmac_matches(body: bytes, provided: str, secrets: Sequence[str]) -> bool:
    """True when `provided` is the base64 HMAC-SHA256 of `body` under one of `secrets` (constant time).

    Every secret is compared (current and previous, during a rotation), not just until the first match, so
    the timing says nothing about which one matched.
    """
    given = provided.encode("latin-1", errors="replace")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode(), given)
    return matched


def webhook_headers(topic: str, body: bytes, secret: str, shop: str, *, webhook_id: Optional[str] = None,
                    event_id: Optional[str] = None, triggered_at: Optional[datetime] = None,
                    api_version: Optional[str] = None) -> dict[str, str]:
    """The headers Shopify sends with `body` for `topic` and `shop`, signed with `secret`.

    Webhook and event ids default to new UUIDs, the trigger time to now; `api_version=None` leaves the
    version header out (Shopify has sent compliance deliveries without it).
    """
    headers = {
        "Content-Type": "application/json",
        HEADERS["topic"]: topic,
        HEADERS["shop"]: shop,
        HEADERS["webhook_id"]: webhook_id or str(uuid.uuid4()),
        HEADERS["event_id"]: event_id or str(uuid.uuid4()),
        HEADERS["triggered_at"]: format_timestamp(triggered_at or datetime.now(UTC)),
        HEADERS["hmac"]: sign(body, secret),
    }
    if api_version:
        headers[HEADERS["api_version"]] = api_version
    return headers
