"""The products feature's catch-up: the products updated since a time, read with the Admin GraphQL API and
applied through the same projection and stale guard as the webhooks (`shopapp.webhooks.reconcile`).
A product deleted meanwhile is not listed by the API: its tombstone comes only from products/delete.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from shopapp.features.products.projection import MissingProductIdError, project_product
from shopapp.shopify.payload import as_int
from shopapp.webhooks.reconcile import GraphQLCatchUp, catch_up


@catch_up
class ProductsCatchUp(GraphQLCatchUp):
    resource = "products"
    count_query = "query ProductsCount($query: String) { productsCount(query: $query, limit: null) { count } }"
    page_query = """
    query Products($first: Int!, $after: String, $query: String) {
      products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
        nodes { id title status vendor productType handle totalInventory updatedAt variantsCount { count } }
        pageInfo { hasNextPage endCursor }
      }
    }
    """

    def shape(self, node: dict) -> dict:
        """A GraphQL Product node as the projection's summary (the webhook's lower-case status)."""
        return {"id": as_int(node.get("id")), "title": node.get("title"),
                "status": (node.get("status") or "").lower() or None, "vendor": node.get("vendor"),
                "product_type": node.get("productType"), "handle": node.get("handle"),
                "updated_at": node.get("updatedAt"), "variants_count": (node.get("variantsCount") or {}).get("count"),
                "total_inventory": node.get("totalInventory")}

    def project(self, session: Session, shop: str, record: dict) -> bool:
        try:
            return project_product(session, shop, record, triggered_at=None).written
        except MissingProductIdError:
            return False
