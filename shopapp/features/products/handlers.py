"""products/create, products/update, products/delete: keep the shop's product projection current."""
from __future__ import annotations

from typing import Optional

from shopapp import JobContext, PermanentJobError, webhook_handler
from shopapp.features.products.projection import MissingProductIdError, project_product, summary


@webhook_handler("products/delete")
@webhook_handler("products/create", "products/update", ordered_by="updated_at")
def apply_product(ctx: JobContext) -> Optional[str]:
    """Insert, update or tombstone the product unless the delivery is older than the stored state."""
    try:
        applied = project_product(ctx.session, ctx.shop, summary(ctx.payload), ctx.triggered_at,
                                deleting=ctx.topic == "products/delete")
    except MissingProductIdError:
        raise PermanentJobError(f"{ctx.topic} payload has no product id") from None
    return applied.message if applied.written else ctx.ignore(f"stale delivery ignored: {applied.message}")
