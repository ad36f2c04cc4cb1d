"""The products feature's part in the privacy requests: product summaries hold no customer data; they are
a shop's data and go with it on shop/redact."""
from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from shopapp import Redaction, redaction
from shopapp.features.products.models import Product


@redaction(Product)
class ProductsRedaction(Redaction):
    def redact_shop(self, session: Session, shop: str) -> dict:
        return {"products": session.execute(delete(Product).where(Product.shop_domain == shop)).rowcount}
