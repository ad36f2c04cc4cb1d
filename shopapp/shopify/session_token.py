"""Verify App Bridge session tokens (the `id_token`) with ShopifyAPI's `shopify.session_token`.

ShopifyAPI pins HS256, checks `aud`, the required claims, `exp`/`nbf` with a 10 s leeway and that `iss`
and `dest` name the same `*.myshopify.com` shop. We add: the previous secret during a rotation, and that
`exp` is present (PyJWT only checks it when present).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from shopify import session_token as shopify_session_token

from shopapp.webhooks.shop_domain import is_valid_shop_domain


class SessionTokenError(Exception):
    """The session token is missing, malformed, forged, expired or for the wrong app."""


@dataclass(frozen=True)
class SessionIdentity:
    """Who a verified session token speaks for."""

    shop: str
    user_id: str
    session_id: str
    expires_at: float


def verify_session_token(token: str | None, api_key: str, secrets: tuple[str, ...]) -> SessionIdentity:
    """Verify `token` against each secret in turn; return the identity or raise SessionTokenError."""
    if not token:
        raise SessionTokenError("missing session token")
    last_error: Exception | None = None
    for secret in secrets:
        try:
            payload = shopify_session_token.decode_from_header(
                shopify_session_token.PREFIX + token, api_key=api_key, secret=secret)
        except shopify_session_token.SessionTokenError as exc:
            last_error = exc
            continue
        return _identity(payload)
    raise SessionTokenError(f"invalid session token: {last_error}")


def _identity(payload: dict) -> SessionIdentity:
    if "exp" not in payload:
        raise SessionTokenError("invalid session token: no exp claim")
    shop = urlparse(payload["dest"]).netloc.lower()
    if not is_valid_shop_domain(shop):
        raise SessionTokenError("invalid session token: dest is not a myshopify.com shop")
    return SessionIdentity(shop=shop, user_id=str(payload.get("sub", "")),
                           session_id=str(payload.get("sid", "")), expires_at=float(payload["exp"]))


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization_header or not authorization_header.startswith("Bearer "):
        return None
    return authorization_header[len("Bearer "):].strip() or None
