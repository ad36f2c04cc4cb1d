"""Test helpers for shops with offline tokens: install a shop (tokens from the fake Shopify), read its row."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shopapp.db import Database
from shopapp.models import Shop
from shopapp.shopify.exchange import TokenGrant
from shopapp.shopify.token_store import StoredToken, load_token, store_grant


def install_shop(db: Database, fake, shop: str, expiring: bool = True, expires_in: int | None = None) -> TokenGrant:
    """Issue tokens for `shop` at the fake Shopify and store them as the app would after an install."""
    body = fake.issue_offline_token(shop, expiring=expiring, expires_in=expires_in)
    now = datetime.now(UTC)
    grant = TokenGrant(
        access_token=body["access_token"], scope=body["scope"],
        expires_at=now + timedelta(seconds=body["expires_in"]) if expiring else None,
        refresh_token=body.get("refresh_token"),
        refresh_token_expires_at=now + timedelta(seconds=body["refresh_token_expires_in"]) if expiring else None)
    with db.session() as session:
        store_grant(session, shop, grant, install=True)
    return grant


def stored(db: Database, shop: str) -> StoredToken | None:
    with db.session() as session:
        return load_token(session, shop)


def shop_row(db: Database, shop: str) -> Shop | None:
    with db.session() as session:
        return session.query(Shop).filter_by(domain=shop).one_or_none()
