"""The pieces of the authorization-code grant: the authorize URL, single-use state nonces, query checks.

- `begin_authorization` stores a random state nonce in Redis (`redis_keys.oauth_state`, TTL STATE_TTL_SECONDS)
  bound to the shop, and returns Shopify's authorize URL;
- `verify_callback_signature` checks the callback query's `hmac` (and its timestamp) with ShopifyAPI's
  `Session.validate_params`, against the current and the previous secret;
- `consume_state` takes the nonce out of Redis atomically (GETDEL), so a replayed callback finds nothing.
"""
from __future__ import annotations

import base64
import binascii
import re
import secrets
from urllib.parse import urlencode

import redis as redis_lib
import shopify

from shopapp import redis_keys
from shopapp.config import Config

STATE_TTL_SECONDS = 600
STATE_COOKIE = "shopapp_oauth_state"
_ADMIN_HOST = re.compile(r"^admin\.shopify\.com/store/(?P<store>[a-zA-Z0-9][a-zA-Z0-9-]*)$")


def redirect_uri(config: Config) -> str:
    """Where Shopify sends the merchant back (listed in shopify.app.toml's [auth] redirect_urls)."""
    return f"{config.APP_URL}/auth/callback"


def begin_authorization(config: Config, redis: redis_lib.Redis, shop: str) -> tuple[str, str]:
    """Store a fresh state nonce for `shop`; returns (authorize URL, nonce)."""
    nonce = secrets.token_urlsafe(32)
    redis.set(redis_keys.oauth_state(nonce), shop, ex=STATE_TTL_SECONDS)
    query = urlencode({"client_id": config.SHOPIFY_API_KEY, "scope": config.SCOPES,
                       "redirect_uri": redirect_uri(config), "state": nonce})
    return f"https://{shop}/admin/oauth/authorize?{query}", nonce


def consume_state(redis: redis_lib.Redis, nonce: str) -> str | None:
    """The shop the nonce was issued for, removing it (single use); None if unknown, expired or used."""
    value = redis.getdel(redis_keys.oauth_state(nonce))
    return value.decode() if isinstance(value, bytes) else value


def verify_callback_signature(params: dict[str, str], secrets_: tuple[str, ...]) -> bool:
    """True when the query's `hmac` is valid for one of `secrets_` and its timestamp is under a day old."""
    for secret in secrets_:
        # A subclass per secret: ShopifyAPI keeps the secret on the class, and a shared class attribute
        # would race between threads.
        session_class = type("AppSession", (shopify.Session,), {"secret": secret})
        if session_class.validate_params(params):
            return True
    return False


def admin_url(config: Config, shop: str, host: str | None) -> str:
    """The app's page inside Shopify admin: from the callback's `host` when it names the shop's admin."""
    decoded = _decode_host(host)
    if decoded:
        match = _ADMIN_HOST.match(decoded)
        if match:
            return f"https://admin.shopify.com/store/{match['store']}/apps/{config.SHOPIFY_API_KEY}"
    return f"https://{shop}/admin/apps/{config.SHOPIFY_API_KEY}"


def _decode_host(host: str | None) -> str | None:
    if not host:
        return None
    try:
        return base64.urlsafe_b64decode(host + "=" * (-len(host) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
