"""Shopify's mandatory compliance webhooks (GDPR/CCPA): customers/data_request, customers/redact, shop/redact.

Each request is recorded as a ComplianceRequest whose `result` holds counts and ids only, never customer
data. What we store about a customer: the orders projection (name, email, customer id, totals) and the
raw webhook payloads that mention them.
- customers/data_request: record the request and what we hold (order ids, number of stored payloads), so
  the app's operator can answer the merchant.
- customers/redact: delete that customer's orders (and `orders_to_redact`) and redact the stored payloads
  that mention them (payload emptied, status "redacted").
- shop/redact (48 hours after uninstall): delete everything of that shop: orders, products, stored webhook
  payloads, jobs, earlier compliance records, the shop row with its tokens, and its live-event keys.
"""
from __future__ import annotations

from typing import Iterator, Optional

from sqlalchemy import delete, or_, select, update

from shopapp import keys
from shopapp.jobs.context import JobContext
from shopapp.models import ComplianceRequest, Job, Order, Product, Shop, WebhookEvent, WebhookStatus, utcnow
from shopapp.redis_client import get_redis
from shopapp.webhooks.handlers.orders import _int
from shopapp.webhooks.registry import webhook_handler

_BATCH = 500


@webhook_handler("customers/data_request")
def report_customer_data(ctx: JobContext) -> Optional[str]:
    """Record the request and what we hold about the customer (ids and counts)."""
    customer_id, email = _customer(ctx.payload)
    order_ids = _customer_order_ids(ctx, customer_id, email)
    events = [e.id for e in _events_mentioning(ctx, customer_id, email, order_ids)]
    requested = [_int(i) for i in (ctx.payload.get("orders_requested") or []) if _int(i) is not None]
    result = {"order_ids": order_ids, "orders": len(order_ids), "webhook_payloads": len(events),
              "webhook_event_ids": events}
    _record(ctx, customer_id, {"ids": requested}, result)
    return f"data request recorded: {len(order_ids)} orders, {len(events)} stored payloads"


@webhook_handler("customers/redact")
def redact_customer(ctx: JobContext) -> Optional[str]:
    """Delete the customer's orders and redact every stored payload that mentions them."""
    customer_id, email = _customer(ctx.payload)
    to_redact = [_int(i) for i in (ctx.payload.get("orders_to_redact") or []) if _int(i) is not None]
    order_ids = sorted(set(_customer_order_ids(ctx, customer_id, email)) | set(to_redact))
    events = [e.id for e in _events_mentioning(ctx, customer_id, email, order_ids)]
    deleted = 0
    if order_ids:
        deleted = ctx.session.execute(delete(Order).where(Order.shop_domain == ctx.shop,
                                                          Order.order_id.in_(order_ids))).rowcount
    for start in range(0, len(events), _BATCH):
        ctx.session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(events[start:start + _BATCH]))
                            .values(payload=None, status=WebhookStatus.REDACTED.value)
                            .execution_options(synchronize_session=False))
    result = {"orders_deleted": deleted, "order_ids": order_ids, "webhook_payloads_redacted": len(events)}
    _record(ctx, customer_id, {"ids": to_redact}, result)
    return f"customer redacted: {deleted} orders deleted, {len(events)} stored payloads redacted"


@webhook_handler("shop/redact")
def redact_shop(ctx: JobContext) -> Optional[str]:
    """Delete everything stored for the shop; keep only this request's record and this job."""
    shop = ctx.shop
    s = ctx.session
    counts = {
        "orders": s.execute(delete(Order).where(Order.shop_domain == shop)).rowcount,
        "products": s.execute(delete(Product).where(Product.shop_domain == shop)).rowcount,
        "jobs": s.execute(delete(Job).where(Job.shop_domain == shop, Job.id != ctx.job_id)).rowcount,
    }
    own_event = s.scalar(select(Job.webhook_event_id).where(Job.id == ctx.job_id))
    counts["webhook_events"] = s.execute(
        delete(WebhookEvent).where(WebhookEvent.shop_domain == shop,
                                   WebhookEvent.id != (own_event if own_event is not None else -1))).rowcount
    counts["compliance_requests"] = s.execute(
        delete(ComplianceRequest).where(ComplianceRequest.shop_domain == shop,
                                        ComplianceRequest.webhook_id != (ctx.webhook_id or ""))).rowcount
    counts["shops"] = s.execute(delete(Shop).where(Shop.domain == shop)).rowcount
    _record(ctx, None, None, counts)
    ctx.after_commit(lambda: _forget_live_events(ctx))
    return "shop redacted: " + ", ".join(f"{v} {k}" for k, v in counts.items())


def _forget_live_events(ctx: JobContext) -> None:
    # The replay log holds job messages of the shop; it goes with the rest of the shop's data.
    get_redis(ctx.app).delete(keys.shop_event_log(ctx.shop), keys.shop_job_versions(ctx.shop))


def _customer(payload: dict) -> tuple[Optional[int], Optional[str]]:
    customer = payload.get("customer") or {}
    email = customer.get("email")
    return _int(customer.get("id")), (email.strip().lower() if isinstance(email, str) and email.strip() else None)


def _customer_order_ids(ctx: JobContext, customer_id: Optional[int], email: Optional[str]) -> list[int]:
    conditions = []
    if customer_id is not None:
        conditions.append(Order.customer_id == customer_id)
    if email:
        conditions.append(Order.email == email)
    if not conditions:
        return []
    return sorted(ctx.session.scalars(select(Order.order_id).where(Order.shop_domain == ctx.shop,
                                                                   or_(*conditions))).all())


def _events_mentioning(ctx: JobContext, customer_id: Optional[int], email: Optional[str],
                       order_ids: list[int]) -> Iterator[WebhookEvent]:
    """Stored payloads of the shop that mention the customer (by id, email, or one of their orders)."""
    wanted_orders = set(order_ids)
    stmt = (select(WebhookEvent).where(WebhookEvent.shop_domain == ctx.shop, WebhookEvent.payload.is_not(None))
            .execution_options(yield_per=_BATCH))
    for event in ctx.session.scalars(stmt):
        if _mentions(event.payload, customer_id, email, wanted_orders, event.topic):
            yield event


def _mentions(payload, customer_id, email, order_ids: set, topic: str) -> bool:
    if not isinstance(payload, dict):
        return False
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    if customer_id is not None and _int(customer.get("id")) == customer_id:
        return True
    emails = {payload.get("email"), payload.get("contact_email"), customer.get("email")}
    if email and any(isinstance(e, str) and e.strip().lower() == email for e in emails):
        return True
    return topic.startswith("orders/") and _int(payload.get("id")) in order_ids


def _record(ctx: JobContext, customer_id: Optional[int], orders_requested: Optional[dict], result: dict) -> None:
    request = ctx.session.scalars(select(ComplianceRequest)
                                  .where(ComplianceRequest.webhook_id == (ctx.webhook_id or f"job-{ctx.job_id}"))).first()
    if request is None:
        request = ComplianceRequest(shop_domain=ctx.shop, topic=ctx.topic,
                                    webhook_id=ctx.webhook_id or f"job-{ctx.job_id}")
        ctx.session.add(request)
    request.customer_id = customer_id
    request.orders_requested = orders_requested
    request.result = result
    request.status = "completed"
    request.completed_at = utcnow()
