"""What the Shopify stand-in's Admin GraphQL API lists: each shop's products and orders, in Shopify's shapes.

It answers `productsCount`, `products(...)`, `ordersCount` and `orders(...)` with cursors, `first`, and the
search filter `query: "updated_at:>'<ISO time>'"` with `sortKey: UPDATED_AT` (what a catch-up sends), or in
id order (what Sync products sends).
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_UPDATED_AFTER = re.compile(r"updated_at:>'(?P<at>[^']+)'")


@dataclass
class Product:
    id: int
    title: str
    updated_at: str
    status: str = "ACTIVE"
    vendor: str = "Acme"
    product_type: str = "Widget"
    total_inventory: int = 5
    variants: int = 1

    def node(self) -> dict:
        return {"id": f"gid://shopify/Product/{self.id}", "title": self.title, "status": self.status,
                "vendor": self.vendor, "productType": self.product_type, "handle": f"product-{self.id}",
                "totalInventory": self.total_inventory, "updatedAt": self.updated_at,
                "variantsCount": {"count": self.variants, "precision": "EXACT"}}


@dataclass
class Order:
    id: int
    name: str
    updated_at: str
    email: str = "customer@example.com"
    financial_status: str = "PAID"
    fulfillment_status: str = "UNFULFILLED"
    total: str = "25.00"
    currency: str = "USD"
    customer_id: int | None = 7001

    def node(self) -> dict:
        return {"id": f"gid://shopify/Order/{self.id}", "name": self.name, "email": self.email,
                "updatedAt": self.updated_at, "displayFinancialStatus": self.financial_status,
                "displayFulfillmentStatus": self.fulfillment_status,
                "totalPriceSet": {"shopMoney": {"amount": self.total, "currencyCode": self.currency}},
                "customer": {"id": f"gid://shopify/Customer/{self.customer_id}"} if self.customer_id else None}


def timestamp(minutes: int, since: datetime | None = None) -> str:
    """An `updatedAt` a number of minutes after `since` (default 2026-01-01), in Shopify's ISO 8601 with Z."""
    at = (since or datetime(2026, 1, 1, tzinfo=UTC)) + timedelta(minutes=minutes)
    return at.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def listed(items: list, variables: dict, query: str) -> list:
    """The items a query lists: those updated after its search filter's time, sorted as it asks."""
    match = _UPDATED_AFTER.search(variables.get("query") or "")
    if match:
        after = _parse(match.group("at"))
        items = [item for item in items if _parse(item.updated_at) > after]
    if "UPDATED_AT" in query:
        items = sorted(items, key=lambda item: (_parse(item.updated_at), item.id))
    return items


def page(connection: str, items: list, variables: dict) -> dict:
    """One page of a connection (`first`, `after` cursor), with `pageInfo`."""
    first = max(1, min(250, int(variables.get("first", 10))))
    after = variables.get("after")
    start = int(base64.b64decode(after).decode().split(":")[1]) + 1 if after else 0
    chunk = items[start:start + first]
    end = start + len(chunk) - 1
    return {connection: {"nodes": [item.node() for item in chunk], "pageInfo": {
        "hasNextPage": start + len(chunk) < len(items),
        "endCursor": base64.b64encode(f"cursor:{end}".encode()).decode() if chunk else None}}}


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
