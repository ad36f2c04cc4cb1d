"""App Bridge session tokens (the `id_token`): verified with ShopifyAPI's `shopify.session_token`, and minted
for dev mode's App Bridge stand-in, the test kit and the benchmarks.

ShopifyAPI pins HS256, checks `aud`, the required claims, `exp`/`nbf` with a 10 s leeway and that `iss`
and `dest` name the same `*.myshopify.com` shop (shopify.dev, "Session tokens"). We add: the previous
secret during a rotation, and that `exp` is present (PyJWT only checks it when present).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import jwt
from shopify import session_token as shopify_session_token

from shopapp.shopify.shop_domain import is_valid_shop_domain


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


def mint_session_token(api_key: str, secret: str, shop: str, *, expires_in: float = 60,
                       algorithm: str = "HS256", **claims) -> tuple[str, int]:
    """A session token shaped like App Bridge's for `shop`; returns (token, exp in Unix seconds).

    Signed HS256 with `secret`, `aud` = `api_key`, valid from 5 s ago for `expires_in` seconds. `claims`
    override the defaults, and a claim given as None is left out. `algorithm` exists for tests of forged
    tokens ("none", HS512): the app accepts only HS256.
    """
    now = int(time.time())
    payload = {"iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": api_key, "sub": "42",
               "exp": now + int(expires_in), "nbf": now - 5, "iat": now - 5, "jti": str(uuid.uuid4()),
               "sid": str(uuid.uuid4())}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    key = None if algorithm == "none" else secret
    return jwt.encode(payload, key, algorithm=algorithm), payload.get("exp", 0)
