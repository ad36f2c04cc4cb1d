"""The orders projection: one row per order of a shop, at the newest state applied, written the same way
whether the order came in a webhook (orders/create, orders/updated) or from a catch-up (reconcile)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopapp.features.orders.models import Order
from shopapp.models import utcnow
from shopapp.shopify.payload import as_int, as_text
from shopapp.shopify.timestamps import parse_timestamp
from shopapp.webhooks.freshness import staleness


class MissingOrderIdError(ValueError):
    """The record names no order id: it can never be applied."""


@dataclass(frozen=True)
class Applied:
    """What applying one record did: `written` (a row was inserted or updated) and a message for the job."""

    written: bool
    message: str


def project_order(session: Session, shop: str, record: dict, triggered_at: Optional[datetime]) -> Applied:
    """Insert or update the order in `record` (the orders webhook's payload shape) unless what is stored is
    as new or newer (payload `updated_at`, then `triggered_at`: see shopapp.webhooks.freshness).

    Raises MissingOrderIdError for a record without an order id.
    """
    order_id = as_int(record.get("id"))
    if order_id is None:
        raise MissingOrderIdError("the order has no id")
    updated = parse_timestamp(record.get("updated_at"))
    order = session.scalars(select(Order).where(Order.shop_domain == shop, Order.order_id == order_id)
                            .with_for_update()).first()
    if order is None:
        order = Order(shop_domain=shop, order_id=order_id, applied_count=0)
        session.add(order)
        verb = "recorded"
    else:
        reason = staleness(updated, triggered_at, order.source_updated_at, order.triggered_at)
        if reason:
            return Applied(False, f"order {order_id} {reason}")
        verb = "updated"
    customer = record.get("customer") if isinstance(record.get("customer"), dict) else {}
    order.name = as_text(record.get("name"), 100)
    order.customer_id = as_int(customer.get("id"))
    order.email = as_text(record.get("email") or customer.get("email"), 255)
    order.financial_status = as_text(record.get("financial_status"), 50)
    order.fulfillment_status = as_text(record.get("fulfillment_status"), 50)
    order.total_price = as_text(record.get("total_price"), 50)
    order.currency = as_text(record.get("currency"), 10)
    order.source_updated_at = updated
    order.triggered_at = triggered_at
    order.applied_count = (order.applied_count or 0) + 1
    order.updated_at = utcnow()
    return Applied(True, f"order {order.name or order_id} {verb}")
