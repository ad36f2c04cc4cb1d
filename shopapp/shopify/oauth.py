"""The pieces of the authorization-code grant: the authorize URL, signed single-use states, query checks.

- `begin_authorization` returns Shopify's authorize URL with a fresh `state`: a random nonce, its expiry and
  an HMAC-SHA256 over (shop, nonce, expiry) with a key derived from the app secret. Nothing is stored: an
  unauthenticated `GET /auth` costs the server no write (issue 15);
- `verify_callback_signature` checks the callback query's `hmac` (and its timestamp) with ShopifyAPI's
  `Session.validate_params`, against the current and the previous secret;
- `verify_state` checks the state's signature for the callback's shop and its expiry; `claim_state` then
  records its nonce in Redis with SET NX until the state would have expired, so a replayed callback is
  refused. Only a callback whose query Shopify signed gets that far, so Redis holds one small key per
  genuine install attempt, never one per anonymous request.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import redis as redis_lib
import shopify

from shopapp import redis_keys
from shopapp.config import Config

STATE_TTL_SECONDS = 600
STATE_COOKIE = "shopapp_oauth_state"
# Derives the state's signing key from the app secret, so a state signature is never valid as anything else.
_STATE_KEY_LABEL = b"shopapp oauth state v1"
_NONCE_BYTES = 16
_STATE = re.compile(r"^(?P<nonce>[A-Za-z0-9_-]{22})\.(?P<expires>[0-9]{1,12})\.(?P<signature>[A-Za-z0-9_-]{43})$")
_ADMIN_HOST = re.compile(r"^admin\.shopify\.com/store/(?P<store>[a-zA-Z0-9][a-zA-Z0-9-]*)$")


class StateError(Exception):
    """The callback's `state` cannot be accepted; `str(exc)` says why, for the merchant (answered 403)."""


@dataclass(frozen=True)
class State:
    """A verified state: its nonce and when it expires (Unix seconds)."""

    nonce: str
    expires_at: int


def redirect_uri(config: Config) -> str:
    """Where Shopify sends the merchant back (listed in shopify.app.toml's [auth] redirect_urls)."""
    return f"{config.APP_URL}/auth/callback"


def begin_authorization(config: Config, shop: str) -> tuple[str, str]:
    """A fresh state for `shop`, signed with the current secret; returns (authorize URL, state)."""
    state = issue_state(config.SHOPIFY_API_SECRET, shop)
    query = urlencode({"client_id": config.SHOPIFY_API_KEY, "scope": config.SCOPES,
                       "redirect_uri": redirect_uri(config), "state": state})
    return f"https://{shop}/admin/oauth/authorize?{query}", state


def issue_state(secret: str, shop: str, now: float | None = None) -> str:
    """`<nonce>.<expires at>.<signature>`: 128 random bits, Unix seconds, base64url HMAC-SHA256 (77 chars)."""
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    expires_at = int(time.time() if now is None else now) + STATE_TTL_SECONDS
    return f"{nonce}.{expires_at}.{_signature(secret, shop, nonce, expires_at)}"


def verify_state(state: str, shop: str, secrets_: tuple[str, ...], now: float | None = None) -> State:
    """The state when one of `secrets_` signed it for `shop` and it has not expired.

    Raises StateError when it is malformed, signed for another shop or with another key, or expired.
    """
    match = _STATE.match(state)
    if match is None:
        raise StateError("Unknown state; start the install again.")
    nonce, expires_at = match["nonce"], int(match["expires"])
    given = match["signature"].encode()
    if not any(hmac.compare_digest(given, _signature(secret, shop, nonce, expires_at).encode()) for secret in secrets_):
        raise StateError("Unknown state, or a state issued for another shop; start the install again.")
    if expires_at <= (time.time() if now is None else now):
        raise StateError("The install took too long (its state expired); start it again.")
    return State(nonce, expires_at)


def claim_state(redis: redis_lib.Redis, state: State, now: float | None = None) -> bool:
    """Record the state's nonce as used (SET NX until it expires); False when it was used already."""
    ttl = max(1, state.expires_at - int(time.time() if now is None else now))
    return bool(redis.set(redis_keys.oauth_state_used(state.nonce), b"1", nx=True, ex=ttl))


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


def _signature(secret: str, shop: str, nonce: str, expires_at: int) -> str:
    key = hmac.new(secret.encode(), _STATE_KEY_LABEL, hashlib.sha256).digest()
    digest = hmac.new(key, f"{shop}\n{nonce}\n{expires_at}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _decode_host(host: str | None) -> str | None:
    if not host:
        return None
    try:
        return base64.urlsafe_b64decode(host + "=" * (-len(host) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
