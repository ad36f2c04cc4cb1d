"""The orders feature's catch-up: the orders updated since a time, read with the Admin GraphQL API and
applied through the same projection and stale guard as the webhooks (`shopapp.webhooks.reconcile`).

Each order is turned into the orders webhook's payload shape: GraphQL's enum statuses in REST's lower case
(`PAID` -> "paid"; `UNFULFILLED` -> null, as the webhook sends it), the global id as a number. An order
older than 60 days needs the `read_all_orders` scope to be listed (Shopify's rule).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from shopapp.features.orders.projection import MissingOrderIdError, project_order
from shopapp.shopify.payload import as_int
from shopapp.webhooks.reconcile import GraphQLCatchUp, catch_up

_FULFILLMENT = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "UNFULFILLED": None}


@catch_up
class OrdersCatchUp(GraphQLCatchUp):
    resource = "orders"
    count_query = "query OrdersCount($query: String) { ordersCount(query: $query, limit: null) { count } }"
    page_query = """
    query Orders($first: Int!, $after: String, $query: String) {
      orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
        nodes {
          id name email updatedAt displayFinancialStatus displayFulfillmentStatus
          totalPriceSet { shopMoney { amount currencyCode } }
          customer { id }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
    """

    def shape(self, node: dict) -> dict:
        """A GraphQL Order node as the orders webhook's payload carries the same facts."""
        money = (node.get("totalPriceSet") or {}).get("shopMoney") or {}
        fulfillment = node.get("displayFulfillmentStatus")
        customer = node.get("customer") or None
        return {
            "id": as_int(node.get("id")),
            "name": node.get("name"),
            "email": node.get("email"),
            "updated_at": node.get("updatedAt"),
            "financial_status": (node.get("displayFinancialStatus") or "").lower() or None,
            "fulfillment_status": _FULFILLMENT.get(fulfillment, (fulfillment or "").lower() or None),
            "total_price": money.get("amount"),
            "currency": money.get("currencyCode"),
            "customer": {"id": as_int(customer.get("id"))} if customer else None,
        }

    def project(self, session: Session, shop: str, record: dict) -> bool:
        try:
            return project_order(session, shop, record, triggered_at=None).written
        except MissingOrderIdError:
            return False
