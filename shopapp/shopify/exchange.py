"""Shopify's token endpoint (`/admin/oauth/access_token`): every way of getting an offline access token.

- `exchange_session_token`: token exchange of an App Bridge session token (`shopify_app.token_exchange`);
- `refresh_offline_token`: the refresh_token grant (`shopify_app.refresh_access_token`);
- `migrate_offline_token`: token exchange of a stored non-expiring offline token for an expiring one
  (Shopify's migration grant; `shopify_app` 1.0.2 has no function for it, so it is a direct POST);
- `exchange_authorization_code`: the authorization-code grant of the install flow (ShopifyAPI's
  `Session.request_token` only posts to `https://{shop}` and drops the expiry and refresh token).

Every offline token is requested as expiring (`expiring=1`: a 60-minute access token and a refresh token).
Each function returns a `TokenGrant` or raises `ReauthorizationRequiredError` (Shopify refused for good)
or `TokenRequestError` (may pass). Tokens never reach a log or an exception message.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import shopify_app

from shopapp.config import Config
from shopapp.shopify.errors import ReauthorizationRequiredError, TokenRequestError
from shopapp.shopify.transport import shop_name

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
# Error codes that mean the credential we presented is dead (not a passing fault).
_FINAL_ERRORS = {"invalid_subject_token", "invalid_grant", "refresh_token_expired", "invalid_token"}


@dataclass(frozen=True)
class TokenGrant:
    """An offline access token as Shopify issued it."""

    access_token: str
    scope: str = ""
    expires_at: datetime | None = None          # None: a non-expiring token
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never print the tokens
        return f"TokenGrant(scope={self.scope!r}, expires_at={self.expires_at!r})"


def _app_config(config: Config) -> dict:
    return {"client_id": config.SHOPIFY_API_KEY, "client_secret": config.SHOPIFY_API_SECRET,
            "old_client_secret": config.SHOPIFY_API_SECRET_PREVIOUS or None}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _from_library(result, shop: str, what: str) -> TokenGrant:
    """A `shopify_app` TokenExchangeResult as a grant, or the matching exception."""
    if result.ok and result.access_token is not None:
        token = result.access_token
        return TokenGrant(access_token=token.token, scope=token.scope or "",
                          expires_at=_parse_time(token.expires), refresh_token=token.refresh_token or None,
                          refresh_token_expires_at=_parse_time(token.refresh_token_expires))
    code = result.log.code
    if code in _FINAL_ERRORS:
        raise ReauthorizationRequiredError(shop, code)
    raise TokenRequestError(f"{what} for {shop} failed: {code}", code)


def exchange_session_token(config: Config, client: httpx.Client, shop: str, session_token: str) -> TokenGrant:
    """Exchange a verified session token of `shop` for an expiring offline access token."""
    id_token = {"exchangeable": True, "token": session_token, "claims": {"dest": f"https://{shop}"}}
    result = shopify_app.token_exchange("offline", _app_config(config), id_token=id_token, expiring=True,
                                        http_client=client)
    return _from_library(result, shop, "token exchange")


def refresh_offline_token(config: Config, client: httpx.Client, shop: str, refresh_token: str,
                          refresh_token_expires_at: datetime | None = None) -> TokenGrant:
    """Trade `refresh_token` for a new access token and refresh token (the old refresh token retires)."""
    # `expires` left empty: the caller decided a refresh is due (the library would skip a fresh token).
    access_token = {"shop": shop_name(shop), "refresh_token": refresh_token, "expires": None,
                    "access_mode": "offline",
                    "refresh_token_expires": refresh_token_expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                    if refresh_token_expires_at else None}
    result = shopify_app.refresh_access_token(access_token, _app_config(config), http_client=client)
    return _from_library(result, shop, "token refresh")


def migrate_offline_token(config: Config, client: httpx.Client, shop: str, offline_token: str) -> TokenGrant:
    """Exchange a stored non-expiring offline token for an expiring one (Shopify's migration grant)."""
    return _post_token_request(client, shop, "token migration", {
        "client_id": config.SHOPIFY_API_KEY,
        "client_secret": config.SHOPIFY_API_SECRET,
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": offline_token,
        "subject_token_type": OFFLINE_TOKEN_TYPE,
        "requested_token_type": OFFLINE_TOKEN_TYPE,
        "expiring": "1",
    })


def exchange_authorization_code(config: Config, client: httpx.Client, shop: str, code: str) -> TokenGrant:
    """Trade the install flow's authorization code for an expiring offline access token."""
    return _post_token_request(client, shop, "authorization code exchange", {
        "client_id": config.SHOPIFY_API_KEY,
        "client_secret": config.SHOPIFY_API_SECRET,
        "code": code,
        "expiring": "1",
    })


def _post_token_request(client: httpx.Client, shop: str, what: str, body: dict) -> TokenGrant:
    url = f"https://{shop}/admin/oauth/access_token"
    try:
        response = client.post(url, json=body, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise TokenRequestError(f"{what} for {shop} failed: {type(exc).__name__}", "network_error") from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if response.status_code == 200 and data.get("access_token"):
        return _grant_from_json(data)
    error = str(data.get("error") or f"http_{response.status_code}")
    if error in _FINAL_ERRORS:
        raise ReauthorizationRequiredError(shop, error)
    raise TokenRequestError(f"{what} for {shop} failed: {error}", error)


def _grant_from_json(data: dict) -> TokenGrant:
    now = datetime.now(UTC)
    expires_in, refresh_in = data.get("expires_in"), data.get("refresh_token_expires_in")
    return TokenGrant(
        access_token=data["access_token"],
        scope=data.get("scope", ""),
        expires_at=now + timedelta(seconds=int(expires_in)) if expires_in is not None else None,
        refresh_token=data.get("refresh_token") or None,
        refresh_token_expires_at=now + timedelta(seconds=int(refresh_in)) if refresh_in is not None else None,
    )
