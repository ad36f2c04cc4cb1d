"""Bulk helpers for the process-level tests: many signed orders/create webhooks, and row counts."""
from __future__ import annotations

from sqlalchemy import func, select

from shopapp.testing import SHOP as DEFAULT_SHOP
from shopapp.testing import build_webhook, sample_payload


def order_webhooks(secret: str, count: int, first_id: int = 1, shop: str = DEFAULT_SHOP) -> list:
    """`count` signed orders/create webhooks for distinct orders `first_id`, `first_id + 1`, ..."""
    base = sample_payload("orders/create")
    return [build_webhook("orders/create", secret, shop=shop, payload=dict(base, id=first_id + i))
            for i in range(count)]


def count_rows(db, model, *where) -> int:
    """How many rows of `model` match `where`."""
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))
