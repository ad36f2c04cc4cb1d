"""Receiving Shopify webhooks (the engine's door): verify, dedupe, record, enqueue; and the topics the
engine handles itself: app/uninstalled and the three compliance topics; and `reconcile`, the catch-up on
what Shopify never delivered."""
from __future__ import annotations

from flask import Flask


def load_topics() -> None:
    """Register the engine's own job kind ("webhook") and topics (idempotent)."""
    from shopapp.webhooks import compliance, dispatch, lifecycle, reconcile  # noqa: F401  (registers them)


def init_app(app: Flask) -> None:
    """Mount the webhook endpoint in front of the app."""
    from shopapp.webhooks import endpoint

    load_topics()
    endpoint.init_app(app)
