"""orders/create, orders/updated: keep the shop's order projection at the newest applied state."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from shopapp import JobContext, PermanentJobError, webhook_handler
from shopapp.features.orders.models import Order
from shopapp.models import utcnow
from shopapp.shopify.payload import as_int, as_text
from shopapp.shopify.timestamps import parse_timestamp
from shopapp.webhooks.freshness import staleness


@webhook_handler("orders/create", "orders/updated", ordered_by="updated_at")
def apply_order(ctx: JobContext) -> Optional[str]:
    """Insert or update the order unless the delivery is older than the stored state."""
    payload = ctx.payload
    order_id = as_int(payload.get("id"))
    if order_id is None:
        raise PermanentJobError(f"{ctx.topic} payload has no order id")
    updated = parse_timestamp(payload.get("updated_at"))
    order = ctx.session.scalars(select(Order).where(Order.shop_domain == ctx.shop, Order.order_id == order_id)
                                .with_for_update()).first()
    if order is None:
        order = Order(shop_domain=ctx.shop, order_id=order_id, applied_count=0)
        ctx.session.add(order)
        verb = "recorded"
    else:
        reason = staleness(updated, ctx.triggered_at, order.source_updated_at, order.triggered_at)
        if reason:
            return ctx.ignore(f"stale delivery ignored: order {order_id} {reason}")
        verb = "updated"
    customer = payload.get("customer") or {}
    order.name = as_text(payload.get("name"), 100)
    order.customer_id = as_int(customer.get("id"))
    order.email = as_text(payload.get("email") or customer.get("email"), 255)
    order.financial_status = as_text(payload.get("financial_status"), 50)
    order.fulfillment_status = as_text(payload.get("fulfillment_status"), 50)
    order.total_price = as_text(payload.get("total_price"), 50)
    order.currency = as_text(payload.get("currency"), 10)
    order.source_updated_at = updated
    order.triggered_at = ctx.triggered_at
    order.applied_count = (order.applied_count or 0) + 1
    order.updated_at = utcnow()
    return f"order {order.name or order_id} {verb}"

