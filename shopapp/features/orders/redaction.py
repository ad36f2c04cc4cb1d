"""The orders feature's part in the privacy requests: a customer's orders are reported and deleted with
them, and every order of a shop with the shop."""
from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shopapp import Customer, Redaction, redaction
from shopapp.features.orders.models import Order


@redaction(Order)
class OrdersRedaction(Redaction):
    def customer_data(self, session: Session, shop: str, customer: Customer) -> dict:
        order_ids = _order_ids(session, shop, customer)
        customer.order_ids.update(order_ids)  # their stored order payloads are theirs too
        return {"order_ids": order_ids, "orders": len(order_ids)}

    def redact_customer(self, session: Session, shop: str, customer: Customer) -> dict:
        order_ids = sorted(set(_order_ids(session, shop, customer)) | customer.order_ids)
        deleted = 0
        if order_ids:
            deleted = session.execute(delete(Order).where(Order.shop_domain == shop,
                                                          Order.order_id.in_(order_ids))).rowcount
        return {"orders_deleted": deleted, "order_ids": order_ids}

    def redact_shop(self, session: Session, shop: str) -> dict:
        return {"orders": session.execute(delete(Order).where(Order.shop_domain == shop)).rowcount}


def _order_ids(session: Session, shop: str, customer: Customer) -> list[int]:
    """Ids of the shop's orders placed by the customer (by customer id or e-mail)."""
    conditions = []
    if customer.id is not None:
        conditions.append(Order.customer_id == customer.id)
    if customer.email:
        conditions.append(Order.email == customer.email)
    if not conditions:
        return []
    return sorted(session.scalars(select(Order.order_id).where(Order.shop_domain == shop, or_(*conditions))).all())
