"""The products feature's projection: a summary of each product of a shop (webhooks and Sync products)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shopapp.models import Base, ProjectionRow, StorableString, StorableText


class Product(ProjectionRow, Base):
    """Projection of a shop's products (from products/* webhooks and the Sync products job)."""

    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("shop_domain", "product_id"),)

    product_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[Optional[str]] = mapped_column(StorableText)
    status: Mapped[Optional[str]] = mapped_column(StorableString(50))
    vendor: Mapped[Optional[str]] = mapped_column(StorableString(255))
    product_type: Mapped[Optional[str]] = mapped_column(StorableString(255))
    handle: Mapped[Optional[str]] = mapped_column(StorableString(255))
    total_inventory: Mapped[Optional[int]] = mapped_column(Integer)
    variants_count: Mapped[Optional[int]] = mapped_column(Integer)
    synced_at: Mapped[Optional[datetime]]
