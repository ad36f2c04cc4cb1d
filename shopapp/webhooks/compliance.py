"""The compliance topics (shopify.dev, "Privacy law compliance"): customers/data_request, customers/redact,
shop/redact. Always applied, even after uninstall (Shopify sends them up to 48 hours later).

The engine erases what it owns (stored webhook payloads, jobs, earlier requests, the shop row with its
tokens, the shop's live events) and asks every feature's `Redaction` for the rest
(`shopapp.webhooks.privacy`). Each request is recorded as a `ComplianceRequest` holding ids and counts
only, never customer data.
- customers/data_request: record what we hold (each feature's ids and counts, and which stored payloads
  mention the customer), so the app's operator can answer the merchant.
- customers/redact: each feature erases the customer's rows; stored payloads that mention the customer
  (by id, e-mail, or one of their orders) are emptied (status "redacted").
- shop/redact: each feature erases the shop's rows; then the shop's stored payloads, jobs, earlier
  requests, the shop row and its live-event keys go too, keeping only this request's record and job.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

from sqlalchemy import delete, select, update

from shopapp import redis_keys
from shopapp.jobs.context import JobContext
from shopapp.jobs.registry import webhook_handler
from shopapp.models import ComplianceRequest, Job, Shop, WebhookEvent, WebhookStatus, utcnow
from shopapp.redis_client import get_redis
from shopapp.shopify.payload import as_int
from shopapp.webhooks.privacy import Customer, redactions

_BATCH = 500


@webhook_handler("customers/data_request")
def report_customer_data(ctx: JobContext) -> Optional[str]:
    """Record the request and what we hold about the customer (ids and counts)."""
    customer = _customer(ctx.payload, "orders_requested")
    requested = sorted(customer.order_ids)
    result: dict = {}
    for hook in redactions():
        result.update(hook.customer_data(ctx.session, ctx.shop, customer))
    events = [e.id for e in _events_mentioning(ctx, customer)]
    result.update(webhook_payloads=len(events), webhook_event_ids=events)
    _record(ctx, customer.id, {"ids": requested}, result)
    return "data request recorded: " + _counts(result)


@webhook_handler("customers/redact")
def redact_customer(ctx: JobContext) -> Optional[str]:
    """Each feature erases the customer's rows; every stored payload that mentions them is emptied."""
    customer = _customer(ctx.payload, "orders_to_redact")
    to_redact = sorted(customer.order_ids)
    result: dict = {}
    for hook in redactions():  # what each holds first, so that every order of theirs is known ...
        hook.customer_data(ctx.session, ctx.shop, customer)
    events = [e.id for e in _events_mentioning(ctx, customer)]  # ... before their rows go
    for hook in redactions():
        result.update(hook.redact_customer(ctx.session, ctx.shop, customer))
    for start in range(0, len(events), _BATCH):
        ctx.session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(events[start:start + _BATCH]))
                            .values(payload=None, status=WebhookStatus.REDACTED.value)
                            .execution_options(synchronize_session=False))
    result["webhook_payloads_redacted"] = len(events)
    _record(ctx, customer.id, {"ids": to_redact}, result)
    return "customer redacted: " + _counts(result)


@webhook_handler("shop/redact")
def redact_shop(ctx: JobContext) -> Optional[str]:
    """Erase everything stored for the shop; keep only this request's record and this job.

    Not for a shop that is installed: Shopify sends shop/redact 48 hours after an uninstall
    (shopify.dev, "Privacy law compliance"), so a shop installed again since then needs its data, and a
    captured shop/redact resent later must not erase it. The request is recorded as kept.
    """
    shop, s = ctx.shop, ctx.session
    if s.scalar(select(Shop.installed).where(Shop.domain == shop)):
        _record(ctx, None, None, {"kept": "the shop is installed"})
        return "shop not redacted: it is installed (installed again after the uninstall)"
    counts: dict = {}
    for hook in redactions():
        counts.update(hook.redact_shop(s, shop))
    counts["jobs"] = s.execute(delete(Job).where(Job.shop_domain == shop, Job.id != ctx.job_id)).rowcount
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
    return "shop redacted: " + _counts(counts)


def _forget_live_events(ctx: JobContext) -> None:
    # The replay log holds job messages of the shop; it goes with the rest of the shop's data.
    client = get_redis(ctx.app)
    client.delete(redis_keys.shop_event_log(ctx.shop),
                  *client.scan_iter(match=redis_keys.shop_job_versions_pattern(ctx.shop), count=1000))


def _customer(payload: dict, orders_field: str) -> Customer:
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    email = customer.get("email")
    order_ids = {i for i in map(as_int, payload.get(orders_field) or []) if i is not None}
    return Customer(id=as_int(customer.get("id")),
                    email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
                    order_ids=order_ids)


def _counts(result: dict) -> str:
    """ "2 orders, 3 webhook payloads" from the integer entries of a result."""
    return ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in result.items()
                     if isinstance(value, int) and not isinstance(value, bool))


def _events_mentioning(ctx: JobContext, customer: Customer) -> Iterator[WebhookEvent]:
    """Stored payloads of the shop that mention the customer (by id, e-mail, or one of their orders)."""
    stmt = (select(WebhookEvent).where(WebhookEvent.shop_domain == ctx.shop, WebhookEvent.payload.is_not(None))
            .execution_options(yield_per=_BATCH))
    for event in ctx.session.scalars(stmt):
        if _mentions(event.payload, customer, event.topic):
            yield event


def _mentions(payload, customer: Customer, topic: str) -> bool:
    if not isinstance(payload, dict):
        return False
    person = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    if customer.id is not None and as_int(person.get("id")) == customer.id:
        return True
    emails = {payload.get("email"), payload.get("contact_email"), person.get("email")}
    if customer.email and any(isinstance(e, str) and e.strip().lower() == customer.email for e in emails):
        return True
    # Shopify's orders/* topics carry an order as their payload: its id is an order id.
    return topic.startswith("orders/") and as_int(payload.get("id")) in customer.order_ids


def _record(ctx: JobContext, customer_id: Optional[int], orders_requested: Optional[dict], result: dict) -> None:
    webhook_id = ctx.webhook_id or f"job-{ctx.job_id}"
    request = ctx.session.scalars(select(ComplianceRequest).where(ComplianceRequest.webhook_id == webhook_id)).first()
    if request is None:
        request = ComplianceRequest(shop_domain=ctx.shop, topic=ctx.topic, webhook_id=webhook_id)
        ctx.session.add(request)
    request.customer_id = customer_id
    request.orders_requested = orders_requested
    request.result = result
    request.status = "completed"
    request.completed_at = utcnow()
