"""A shop's offline token in the database: read it, store a new grant in one statement, flag re-authorization.

The tokens live on the Shop row, encrypted at rest (`EncryptedText`). A new grant (token, expiry, refresh
token and its expiry) is written by one UPDATE, so that no reader ever sees a token of one grant beside
the refresh token of another.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shopapp.models import Shop, utcnow
from shopapp.shopify.exchange import TokenGrant


@dataclass(frozen=True)
class StoredToken:
    """What the database holds for a shop's offline access."""

    shop: str
    installed: bool
    access_token: str | None
    expires_at: datetime | None
    refresh_token: str | None
    refresh_token_expires_at: datetime | None
    needs_reauth: bool

    def __repr__(self) -> str:  # never print the tokens
        return (f"StoredToken(shop={self.shop!r}, installed={self.installed}, expires_at={self.expires_at!r}, "
                f"needs_reauth={self.needs_reauth})")

    @property
    def expiring(self) -> bool:
        """True for an expiring token (with a refresh token); False for a legacy non-expiring one."""
        return self.expires_at is not None

    @property
    def usable(self) -> bool:
        """The app holds a token it can use or renew without the merchant."""
        if not self.installed or not self.access_token or self.needs_reauth:
            return False
        if not self.expiring:
            return True  # non-expiring: usable as it is, and migratable
        if not self.refresh_token:
            return self.expires_at > utcnow()
        return self.refresh_token_expires_at is None or self.refresh_token_expires_at > utcnow()

    def expires_within(self, margin: timedelta) -> bool:
        """True when the access token expires within `margin` (False for a non-expiring token)."""
        return self.expires_at is not None and self.expires_at <= utcnow() + margin


def load_token(session: Session, shop: str) -> StoredToken | None:
    """The shop's stored token, read fresh from the database (None for an unknown shop)."""
    row = session.execute(
        select(Shop.installed, Shop.access_token, Shop.access_token_expires_at, Shop.refresh_token,
               Shop.refresh_token_expires_at, Shop.needs_reauth).where(Shop.domain == shop)
    ).one_or_none()
    if row is None:
        return None
    return StoredToken(shop=shop, installed=bool(row.installed), access_token=row.access_token,
                       expires_at=row.access_token_expires_at, refresh_token=row.refresh_token,
                       refresh_token_expires_at=row.refresh_token_expires_at, needs_reauth=bool(row.needs_reauth))


def store_grant(session: Session, shop: str, grant: TokenGrant, install: bool = False) -> None:
    """Store `grant` for `shop` in one UPDATE (or INSERT a new shop) and commit.

    `install=True` (token exchange, OAuth) also (re)marks the shop installed; a refresh or migration
    never resurrects an uninstalled shop.
    """
    now = utcnow()
    values = {
        "access_token": grant.access_token,
        "access_token_expires_at": grant.expires_at,
        "refresh_token": grant.refresh_token,
        "refresh_token_expires_at": grant.refresh_token_expires_at,
        "needs_reauth": False,
        "updated_at": now,
    }
    if grant.scope:
        values["scopes"] = grant.scope
    statement = update(Shop).where(Shop.domain == shop)
    if install:
        reinstalled = or_(Shop.installed.is_(False), Shop.installed_at.is_(None))
        values.update(installed=True, uninstalled_at=None,
                      installed_at=case((reinstalled, literal(now, Shop.installed_at.type)),
                                        else_=Shop.installed_at))
    else:
        statement = statement.where(Shop.installed.is_(True))
    if session.execute(statement.values(**values)).rowcount or not install:
        session.commit()
        return
    fields = {k: v for k, v in values.items() if k != "installed_at"}
    session.add(Shop(domain=shop, installed_at=now, **fields))
    try:
        session.commit()
    except IntegrityError:  # created meanwhile (e.g. by a webhook): update it instead
        session.rollback()
        session.execute(update(Shop).where(Shop.domain == shop).values(**values))
        session.commit()


def mark_needs_reauth(session: Session, shop: str) -> None:
    """Flag the shop: Shopify refused our tokens, the merchant must open the app again. Commits."""
    session.execute(update(Shop).where(Shop.domain == shop).values(needs_reauth=True, updated_at=utcnow()))
    session.commit()
