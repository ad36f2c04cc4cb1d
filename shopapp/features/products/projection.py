"""The products projection: one summary row per product of a shop, written the same way whether the product
came in a webhook (products/create, products/update, products/delete) or from a catch-up (reconcile).

A deletion leaves a tombstone (status "deleted") so that a late update cannot bring the product back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopapp.features.products.models import Product
from shopapp.models import utcnow
from shopapp.shopify.payload import as_int, as_text
from shopapp.shopify.timestamps import parse_timestamp
from shopapp.webhooks.freshness import staleness

DELETED = "deleted"


class MissingProductIdError(ValueError):
    """The record names no product id: it can never be applied."""


@dataclass(frozen=True)
class Applied:
    """What applying one record did: `written` (a row was inserted or updated) and a message for the job."""

    written: bool
    message: str


def summary(payload: dict) -> dict:
    """The summary the projection keeps, from a products webhook's payload (variants counted and summed)."""
    variants = [v for v in (payload.get("variants") or []) if isinstance(v, dict)]
    return {"id": payload.get("id"), "title": payload.get("title"), "status": payload.get("status"),
            "vendor": payload.get("vendor"), "product_type": payload.get("product_type"),
            "handle": payload.get("handle"), "updated_at": payload.get("updated_at"),
            "variants_count": len(variants),
            "total_inventory": sum(as_int(v.get("inventory_quantity")) or 0 for v in variants)}


def project_product(session: Session, shop: str, record: dict, triggered_at: Optional[datetime],
                  deleting: bool = False) -> Applied:
    """Insert, update or (with `deleting`) tombstone the product in `record` (a `summary`) unless what is
    stored is as new or newer. Raises MissingProductIdError for a record without a product id."""
    product_id = as_int(record.get("id"))
    if product_id is None:
        raise MissingProductIdError("the product has no id")
    updated = None if deleting else parse_timestamp(record.get("updated_at"))
    product = session.scalars(select(Product).where(Product.shop_domain == shop, Product.product_id == product_id)
                              .with_for_update()).first()
    if product is None:
        product = Product(shop_domain=shop, product_id=product_id, applied_count=0)
        session.add(product)
    else:
        if deleting or product.status == DELETED:  # a deletion carries no updated_at: only the delivery time orders it
            reason = staleness(None, triggered_at, None, product.triggered_at)
        else:
            reason = staleness(updated, triggered_at, product.source_updated_at, product.triggered_at)
        if reason:
            return Applied(False, f"product {product_id} {reason}")
    if deleting:
        product.status = DELETED
        message = f"product {product_id} deleted"
    else:
        product.title = as_text(record.get("title"), 10000)
        product.status = as_text(record.get("status"), 50)
        product.vendor = as_text(record.get("vendor"), 255)
        product.product_type = as_text(record.get("product_type"), 255)
        product.handle = as_text(record.get("handle"), 255)
        product.variants_count = as_int(record.get("variants_count"))
        product.total_inventory = as_int(record.get("total_inventory"))
        product.source_updated_at = updated
        message = f"product {product.title or product_id} " + ("recorded" if product.applied_count == 0 else "updated")
    product.triggered_at = triggered_at
    product.applied_count = (product.applied_count or 0) + 1
    product.updated_at = utcnow()
    return Applied(True, message)
