"""Receiving Shopify webhooks: verify, dedupe, record, enqueue; and the topic registry."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Mount the webhook endpoint (imported here, not at package import: shop_domain is used early)."""
    from shopapp.webhooks import endpoint

    endpoint.init_app(app)
