"""The orders feature's projection: the latest applied state of each order of a shop."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shopapp.models import Base, StorableString, utcnow


class Order(Base):
    """Projection of a shop's orders: the latest state applied, for stale-delivery checks."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("shop_domain", "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_domain: Mapped[str] = mapped_column(StorableString(255))
    order_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[Optional[str]] = mapped_column(StorableString(100))
    customer_id: Mapped[Optional[int]] = mapped_column(BigInteger, index=True)
    email: Mapped[Optional[str]] = mapped_column(StorableString(255))
    financial_status: Mapped[Optional[str]] = mapped_column(StorableString(50))
    fulfillment_status: Mapped[Optional[str]] = mapped_column(StorableString(50))
    total_price: Mapped[Optional[str]] = mapped_column(StorableString(50))
    currency: Mapped[Optional[str]] = mapped_column(StorableString(10))
    source_updated_at: Mapped[Optional[datetime]]   # the payload's updated_at
    triggered_at: Mapped[Optional[datetime]]        # X-Shopify-Triggered-At of the applied delivery
    applied_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
