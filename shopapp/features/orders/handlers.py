"""orders/create, orders/updated: keep the shop's order projection at the newest applied state."""
from __future__ import annotations

from typing import Optional

from shopapp import JobContext, PermanentJobError, webhook_handler
from shopapp.features.orders.projection import MissingOrderIdError, project_order


@webhook_handler("orders/create", "orders/updated", ordered_by="updated_at")
def apply_order(ctx: JobContext) -> Optional[str]:
    """Insert or update the order unless the delivery is older than the stored state."""
    try:
        applied = project_order(ctx.session, ctx.shop, ctx.payload, ctx.triggered_at)
    except MissingOrderIdError:
        raise PermanentJobError(f"{ctx.topic} payload has no order id") from None
    return applied.message if applied.written else ctx.ignore(f"stale delivery ignored: {applied.message}")
