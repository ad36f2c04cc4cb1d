"""Job kind "webhook": a recorded delivery is applied by the handler registered for its topic."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from shopapp.jobs import registry
from shopapp.jobs.context import JobContext
from shopapp.models import Shop

WEBHOOK_KIND = "webhook"

# Topics applied even after the shop uninstalled the app (Shopify sends compliance requests up to 48 h
# after uninstall, and app/uninstalled itself may be redelivered).
ALWAYS_APPLIED = frozenset({"app/uninstalled", "customers/data_request", "customers/redact", "shop/redact"})


@registry.job_kind(WEBHOOK_KIND, merchant=False, lane=registry.WEBHOOKS_LANE)
def apply_webhook(ctx: JobContext) -> Optional[str]:
    """Run the topic's handler; an unknown topic, a redacted payload or an uninstalled shop is ignored."""
    topic = registry.topic(ctx.topic or "")
    if topic is None:
        return ctx.ignore(f"no handler for {ctx.topic}")
    if ctx.payload is None:
        return ctx.ignore("payload was redacted before it was applied")
    if ctx.topic not in ALWAYS_APPLIED:
        installed = ctx.session.scalar(select(Shop.installed).where(Shop.domain == ctx.shop))
        if installed is False:
            return ctx.ignore("shop uninstalled the app; delivery ignored")
    return topic.handler(ctx)
