"""The merchant job "Sync products": page through the shop's products and keep a summary of each.

Started by `POST /api/jobs {"kind": "sync_products"}` (optional params: `page_size`, 1..250). Counts the
products first (`productsCount`) so that progress reads "n of total", then walks `products(first:, after:)`
with the Admin GraphQL client, upserting the `Product` projection page by page (each progress report
commits what was synced so far) and checking for a cancel between pages. A product that a newer webhook
already updated keeps that newer state; `synced_at` is set either way.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shopapp import JobContext, job_kind
from shopapp.config import get_config
from shopapp.features.products.models import Product
from shopapp.jobs.errors import admin_api_failures
from shopapp.models import utcnow
from shopapp.shopify.admin_api import admin_client
from shopapp.shopify.payload import as_int
from shopapp.shopify.timestamps import parse_timestamp
from shopapp.shopify.transport import shopify_http_client

PAGE_SIZE = 50
PRODUCTS_COUNT_QUERY = "query ProductsCount { productsCount(limit: null) { count precision } }"
PRODUCTS_QUERY = """
query Products($first: Int!, $after: String) {
  products(first: $first, after: $after, sortKey: ID) {
    nodes {
      id title status vendor productType handle totalInventory updatedAt
      variantsCount { count }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@job_kind("sync_products")
def sync_products(ctx: JobContext) -> str:
    """Sync the shop's products into the Product projection, reporting "n of total"."""
    page_size = _page_size(ctx.params.get("page_size"))
    done = total = 0
    with admin_api_failures(), shopify_http_client(get_config(ctx.app)) as http:
        client = admin_client(ctx.app, ctx.shop, http)
        _checkpoint(ctx)
        total = int(((client.query(PRODUCTS_COUNT_QUERY).get("productsCount") or {}).get("count")) or 0)
        ctx.report(0, total or None, f"0 of {total} products")
        pages = client.paginate(PRODUCTS_QUERY, "products", page_size=page_size)
        while True:
            _checkpoint(ctx)
            nodes = next(pages, None)
            if nodes is None:
                break
            ctx.check_cancelled()  # also after the fetch: a cancel during a slow page stores nothing more
            upsert_products(ctx.session, ctx.shop, nodes, utcnow())
            done += len(nodes)
            total = max(total, done)  # products created during the sync
            ctx.report(done, total, f"{done} of {total} products")
    return f"Synced {done} of {total} products"


def _checkpoint(ctx: JobContext) -> None:
    """Stop if cancelled, and commit before talking to Shopify again.

    No transaction may stay open across a network call: on SQLite an open write locks the whole database
    (webhook ingestion, and the token renewal that writes the shop's row from another connection, would
    wait on it), and the upserts of a page are worth keeping anyway.
    """
    ctx.check_cancelled()
    ctx.session.commit()


def upsert_products(session: Session, shop: str, nodes: list[dict], synced_at: datetime) -> None:
    """Insert or update one page of products; a row a newer webhook wrote keeps its newer fields."""
    rows = [_row(shop, node, synced_at) for node in nodes if as_int(node.get("id")) is not None]
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Product).values(rows)
    excluded = statement.excluded
    fields = ("title", "status", "vendor", "product_type", "handle", "total_inventory", "variants_count",
              "source_updated_at", "synced_at", "updated_at")
    session.execute(statement.on_conflict_do_update(
        index_elements=[Product.shop_domain, Product.product_id],
        set_={name: getattr(excluded, name) for name in fields},
        where=or_(Product.source_updated_at.is_(None), excluded.source_updated_at.is_(None),
                  Product.source_updated_at <= excluded.source_updated_at)))
    session.execute(update(Product).where(Product.shop_domain == shop,
                                          Product.product_id.in_([r["product_id"] for r in rows]))
                    .values(synced_at=synced_at))


def _row(shop: str, node: dict, synced_at: datetime) -> dict:
    return {
        "shop_domain": shop,
        "product_id": as_int(node.get("id")),
        "title": node.get("title"),
        "status": (node.get("status") or "").lower() or None,
        "vendor": node.get("vendor"),
        "product_type": node.get("productType"),
        "handle": node.get("handle"),
        "total_inventory": node.get("totalInventory"),
        "variants_count": (node.get("variantsCount") or {}).get("count"),
        "source_updated_at": parse_timestamp(node.get("updatedAt")),
        "synced_at": synced_at,
        "updated_at": synced_at,
        "applied_count": 0,
    }


def _page_size(value) -> int:
    try:
        return max(1, min(250, int(value)))
    except (TypeError, ValueError):
        return PAGE_SIZE
