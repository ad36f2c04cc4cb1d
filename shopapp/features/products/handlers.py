"""products/create, products/update, products/delete: keep the shop's product projection current.

A deletion leaves a tombstone (status "deleted") so that a late update cannot bring the product back.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from shopapp import JobContext, PermanentJobError, webhook_handler
from shopapp.features.products.models import Product
from shopapp.models import utcnow
from shopapp.shopify.payload import as_int, as_text
from shopapp.shopify.timestamps import parse_timestamp
from shopapp.webhooks.freshness import staleness

DELETED = "deleted"


@webhook_handler("products/delete")
@webhook_handler("products/create", "products/update", ordered_by="updated_at")
def apply_product(ctx: JobContext) -> Optional[str]:
    """Insert, update or tombstone the product unless the delivery is older than the stored state."""
    payload = ctx.payload
    product_id = as_int(payload.get("id"))
    if product_id is None:
        raise PermanentJobError(f"{ctx.topic} payload has no product id")
    deleting = ctx.topic == "products/delete"
    updated = None if deleting else parse_timestamp(payload.get("updated_at"))
    product = ctx.session.scalars(select(Product).where(Product.shop_domain == ctx.shop,
                                                        Product.product_id == product_id)
                                  .with_for_update()).first()
    if product is None:
        product = Product(shop_domain=ctx.shop, product_id=product_id, applied_count=0)
        ctx.session.add(product)
    else:
        if deleting or product.status == DELETED:  # a deletion carries no updated_at: only the delivery time orders it
            reason = staleness(None, ctx.triggered_at, None, product.triggered_at)
        else:
            reason = staleness(updated, ctx.triggered_at, product.source_updated_at, product.triggered_at)
        if reason:
            return ctx.ignore(f"stale delivery ignored: product {product_id} {reason}")
    if deleting:
        product.status = DELETED
        message = f"product {product_id} deleted"
    else:
        variants = payload.get("variants") or []
        product.title = as_text(payload.get("title"), 10000)
        product.status = as_text(payload.get("status"), 50)
        product.vendor = as_text(payload.get("vendor"), 255)
        product.product_type = as_text(payload.get("product_type"), 255)
        product.handle = as_text(payload.get("handle"), 255)
        product.variants_count = len(variants)
        product.total_inventory = sum(as_int(v.get("inventory_quantity")) or 0 for v in variants
                                      if isinstance(v, dict))
        product.source_updated_at = updated
        message = f"product {product.title or product_id} " + ("recorded" if product.applied_count == 0 else "updated")
    product.triggered_at = ctx.triggered_at
    product.applied_count = (product.applied_count or 0) + 1
    product.updated_at = utcnow()
    return message
