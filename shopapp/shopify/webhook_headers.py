"""Every webhook header name Shopify sends, in one table, which of them a delivery must carry, and the one
way to read them.

Shopify is moving from `X-Shopify-*` to the same names without `X-` (e.g. `Shopify-Topic`); both
spellings are accepted, in any case.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

HEADERS = {
    "hmac": "X-Shopify-Hmac-Sha256",
    "topic": "X-Shopify-Topic",
    "shop": "X-Shopify-Shop-Domain",
    "webhook_id": "X-Shopify-Webhook-Id",
    "api_version": "X-Shopify-API-Version",
    "event_id": "X-Shopify-Event-Id",
    "triggered_at": "X-Shopify-Triggered-At",
}

# A delivery without any of these is answered 400 (without the HMAC, 401). Only headers Shopify has sent
# with every delivery are required: the topic (which handler) and the webhook id (the dedupe key).
# `X-Shopify-Shop-Domain` is required too, except for the compliance topics, whose body's `shop_domain`
# names the shop when it is missing (Shopify sent customers/redact and shop/redact without it in January
# 2024, Shopify/shopify-api-ruby#1261): `shopapp.webhooks.body_rules`. `X-Shopify-API-Version` is optional
# (customers/data_request arrived without it, Shopify/shopify-api-js#1145); so are the event id and the
# trigger time, which older deliveries lack.
REQUIRED = ("topic", "webhook_id")


def read_header(headers: Mapping[str, str], key: str) -> Optional[str]:
    """The value of header `key` (a HEADERS key) in either spelling, stripped; None when absent or empty.

    `headers` must look names up case-insensitively (werkzeug's Headers does).
    """
    name = HEADERS[key]
    value = headers.get(name)
    if value is None:
        value = headers.get(name[2:])  # "Shopify-Topic"
    if value is None:
        return None
    value = value.strip()
    return value or None
