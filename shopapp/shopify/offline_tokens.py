"""Keeping one valid expiring offline token per shop, shared by every web process and worker.

- `access_token(shop)` (workers): the stored token, refreshed first when it expires within
  REFRESH_MARGIN, migrated first when it is a legacy non-expiring token;
- `renew_after_unauthorized(shop, rejected)`: Shopify answered 401 to `rejected`: refresh once;
- `ensure_for_session(shop, session_token)` (web, /api): when the shop has no usable token (new install,
  reinstall, revoked), exchange the merchant's session token for one.

Every renewal runs under a per-shop lock in Redis (`redis_keys.shop_token_lock`, redis-py's Lock with a timeout,
so a crashed holder cannot wedge the shop). After taking the lock the row is read again: if another process
renewed meanwhile, its token is used and Shopify is not asked twice. The database call and the HTTP call
never overlap a held transaction. When Shopify refuses for good (invalid_subject_token, invalid_grant,
an expired refresh token) the shop is flagged `needs_reauth` and `ReauthorizationRequiredError` raised.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import redis as redis_lib
from redis.exceptions import LockError

from shopapp import redis_keys
from shopapp.config import Config
from shopapp.db import Database
from shopapp.shopify import exchange
from shopapp.shopify.errors import ReauthorizationRequiredError, TokenRequestError
from shopapp.shopify.token_store import StoredToken, load_token, mark_needs_reauth, store_grant
from shopapp.shopify.transport import shopify_http_client

log = logging.getLogger(__name__)

# Refresh this long before expiry, so a request never starts with a token about to lapse.
REFRESH_MARGIN = timedelta(minutes=5)
# The lock outlives the slowest renewal (10 s HTTP timeout, the library's 429 retries) but not by much:
# if its holder dies, the next process waits at most this long.
LOCK_TIMEOUT_SECONDS = 60
LOCK_WAIT_SECONDS = 75


class OfflineTokens:
    """The shop-token lifecycle over a database, a Redis client and an HTTP client to Shopify."""

    def __init__(self, config: Config, database: Database, redis: redis_lib.Redis,
                 http_client: httpx.Client | None = None):
        self.config, self.database, self.redis = config, database, redis
        self._http_client = http_client

    # --- public ---------------------------------------------------------------------------------

    def access_token(self, shop: str) -> str:
        """A token to call the Admin API with now; raises ReauthorizationRequiredError or TokenRequestError."""
        stored = self._require_usable(shop, self._load(shop))
        if not stored.expiring:
            stored = self._renew(shop, lambda s: s.expiring, self._migrate)
        elif stored.expires_within(REFRESH_MARGIN):
            stored = self._renew(shop, lambda s: not s.expires_within(REFRESH_MARGIN), self._refresh)
        return stored.access_token

    def renew_after_unauthorized(self, shop: str, rejected_token: str) -> str:
        """Shopify refused `rejected_token` (401): refresh once, or take what another process renewed."""
        stored = self._renew(shop, lambda s: s.access_token != rejected_token, self._refresh_or_migrate)
        return stored.access_token

    def ensure_for_session(self, shop: str, session_token: str) -> None:
        """Make sure `shop` has a usable offline token, exchanging the verified `session_token` if not."""
        stored = self._load(shop)
        if stored is not None and stored.usable:
            if not stored.expiring:
                try:
                    self._renew(shop, lambda s: s.expiring, self._migrate)
                except ReauthorizationRequiredError:
                    pass  # the legacy token is dead: the exchange below replaces it
                else:
                    return
            else:
                return
        self._renew(shop, lambda s: s.usable and s.expiring,
                    lambda s: exchange.exchange_session_token(self.config, self._client, shop, session_token),
                    install=True)

    def mark_needs_reauth(self, shop: str, reason: str) -> None:
        """Flag `shop` as needing the merchant (e.g. a 401 right after a refresh)."""
        with self.database.session() as session:
            mark_needs_reauth(session, shop)
        log.warning("shop needs re-authorization", extra={"shop": shop, "status": reason})

    # --- renewal under the lock -----------------------------------------------------------------

    def _renew(self, shop: str, satisfied: Callable[[StoredToken], bool],
               action: Callable[[StoredToken | None], exchange.TokenGrant], install: bool = False) -> StoredToken:
        with self._locked(shop):
            stored = self._load(shop)
            if stored is not None and stored.usable and satisfied(stored):
                return stored  # another process renewed while we waited: use its token
            if not install:
                self._require_usable(shop, stored)
            try:
                grant = action(stored)
            except ReauthorizationRequiredError as exc:
                self.mark_needs_reauth(shop, exc.reason)
                raise
            with self.database.session() as session:
                store_grant(session, shop, grant, install=install)
            log.info("offline token renewed", extra={"shop": shop, "status": action_name(action)})
            renewed = self._load(shop)
        if renewed is None or not renewed.access_token:
            raise ReauthorizationRequiredError(shop, "uninstalled")
        return renewed

    @contextmanager
    def _locked(self, shop: str) -> Iterator[None]:
        lock = self.redis.lock(redis_keys.shop_token_lock(shop), timeout=LOCK_TIMEOUT_SECONDS,
                               blocking_timeout=LOCK_WAIT_SECONDS)
        if not lock.acquire():
            raise TokenRequestError(f"timed out waiting for the token lock of {shop}", "lock_timeout")
        try:
            yield
        finally:
            try:
                lock.release()
            except LockError:  # it expired while held: the renewal outlived LOCK_TIMEOUT_SECONDS
                log.warning("token lock expired before release", extra={"shop": shop})

    # --- the grants -----------------------------------------------------------------------------

    def _refresh(self, stored: StoredToken) -> exchange.TokenGrant:
        return exchange.refresh_offline_token(self.config, self._client, stored.shop, stored.refresh_token,
                                              stored.refresh_token_expires_at)

    def _migrate(self, stored: StoredToken) -> exchange.TokenGrant:
        return exchange.migrate_offline_token(self.config, self._client, stored.shop, stored.access_token)

    def _refresh_or_migrate(self, stored: StoredToken) -> exchange.TokenGrant:
        return self._refresh(stored) if stored.refresh_token else self._migrate(stored)

    # --- helpers ----------------------------------------------------------------------------------

    @property
    def _client(self) -> httpx.Client:
        if self._http_client is None:
            self._http_client = shopify_http_client(self.config)
        return self._http_client

    def close(self) -> None:
        """Close the HTTP client this object created."""
        if self._http_client is not None:
            self._http_client.close()
            self._http_client = None

    def __enter__(self) -> OfflineTokens:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _load(self, shop: str) -> StoredToken | None:
        with self.database.session() as session:
            return load_token(session, shop)

    def _require_usable(self, shop: str, stored: StoredToken | None) -> StoredToken:
        if stored is None or not stored.installed or not stored.access_token:
            raise ReauthorizationRequiredError(shop, "no_offline_token")
        if stored.needs_reauth:
            raise ReauthorizationRequiredError(shop, "needs_reauth")
        if not stored.usable:
            self.mark_needs_reauth(shop, "refresh_token_expired")
            raise ReauthorizationRequiredError(shop, "refresh_token_expired")
        return stored


def action_name(action: Callable) -> str:
    """A short name for logs: refresh, migrate, exchange."""
    name = getattr(action, "__name__", "")
    return {"_refresh": "refresh", "_migrate": "migrate", "_refresh_or_migrate": "refresh"}.get(name, "exchange")
