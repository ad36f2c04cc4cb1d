"""The orders feature's projection: the latest applied state of each order of a shop."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import BigInteger, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shopapp.models import Base, ProjectionRow, StorableString


class Order(ProjectionRow, Base):
    """Projection of a shop's orders: the latest state applied, for stale-delivery checks."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("shop_domain", "order_id"),)

    order_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[Optional[str]] = mapped_column(StorableString(100))
    customer_id: Mapped[Optional[int]] = mapped_column(BigInteger, index=True)
    email: Mapped[Optional[str]] = mapped_column(StorableString(255))
    financial_status: Mapped[Optional[str]] = mapped_column(StorableString(50))
    fulfillment_status: Mapped[Optional[str]] = mapped_column(StorableString(50))
    total_price: Mapped[Optional[str]] = mapped_column(StorableString(50))
    currency: Mapped[Optional[str]] = mapped_column(StorableString(10))
