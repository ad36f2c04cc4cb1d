"""Verifying document requests for the embedded page (App Home) with Shopify's `shopify_app` package.

`shopify_app.verify_app_home_req` decides between "verified", "bounce to get a token" and "401";
`shopify_app.app_home_patch_id_token` renders the bounce page. We add what the package leaves to the app:
- the verified token must also pass `verify_session_token` (ShopifyAPI: `iss` and `dest` name the same
  `*.myshopify.com` shop, `exp` present, previous secret during rotation), the one policy shared with
  /api and /ws/jobs; a token that fails it is bounced like a stale one;
- the `shop` query parameter is validated before it reaches a header (the package copies it verbatim);
- Locations are made relative, so redirects keep the host the browser used (tunnels, proxies);
- the package's `frame-ancestors`-only CSP is dropped: the page sets its whole policy (`admin.csp`), in one
  header.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Request
from shopify_app import app_home_patch_id_token, verify_app_home_req

from shopapp.config import Config
from shopapp.shopify.session_token import SessionTokenError, verify_session_token
from shopapp.shopify.shop_domain import is_valid_shop_domain

BOUNCE_PATH = "/patch-id-token"
SHOPIFY_ADMIN = "https://admin.shopify.com"


@dataclass(frozen=True)
class AppHomeResult:
    """What to do with a document request: `shop` when verified, else a ready `status`/`headers`."""

    shop: str | None
    status: int
    headers: dict
    body: str = ""
    id_token: str | None = None

    @property
    def verified(self) -> bool:
        return self.shop is not None


def valid_shop_param(request: Request) -> str | None:
    """The `shop` query parameter when it is a well-formed `*.myshopify.com` domain, else None."""
    shop = (request.args.get("shop") or "").strip().lower()
    return shop if is_valid_shop_domain(shop) else None


def verify_document_request(request: Request, config: Config) -> AppHomeResult:
    """Verify the `id_token` of a document request to the embedded page."""
    result = verify_app_home_req(_request_input(request), _app_config(config), BOUNCE_PATH)
    if not result.ok:
        return AppHomeResult(None, result.response.status, _relative_location(result.response.headers),
                             result.response.body)
    try:
        identity = verify_session_token(result.id_token.token, config.SHOPIFY_API_KEY, config.api_secrets)
    except SessionTokenError:
        bounce = result.invalid_token_response
        return AppHomeResult(None, bounce.status, _relative_location(bounce.headers))
    return AppHomeResult(identity.shop, 200, _without_policy(result.response.headers), id_token=result.id_token.token)


def bounce_page(request: Request, config: Config) -> AppHomeResult:
    """The page App Bridge loads to hand us a fresh `id_token` (reloads `shopify-reload` with it)."""
    shop = valid_shop_param(request)
    reload_path = request.args.get("shopify-reload", "")
    if shop is None or not is_safe_reload_path(reload_path):
        return AppHomeResult(None, 400, {})
    result = app_home_patch_id_token(_request_input(request), _app_config(config))
    if not result.ok:
        return AppHomeResult(None, result.response.status, {})
    return AppHomeResult(shop, 200, _without_policy(result.response.headers), result.response.body)


def is_safe_reload_path(path: str) -> bool:
    """A same-origin absolute path (no scheme, no `//host`, no backslash tricks)."""
    return path.startswith("/") and not path.startswith(("//", "/\\")) and "\\" not in path


def _request_input(request: Request) -> dict:
    # The package only reads method, url and headers; never hand it the body.
    return {"method": request.method, "headers": dict(request.headers), "url": request.url, "body": ""}


def _app_config(config: Config) -> dict:
    return {"client_id": config.SHOPIFY_API_KEY, "client_secret": config.SHOPIFY_API_SECRET,
            "old_client_secret": config.SHOPIFY_API_SECRET_PREVIOUS or None}


def _without_policy(headers: dict) -> dict:
    return {name: value for name, value in headers.items() if name.lower() != "content-security-policy"}


def _relative_location(headers: dict) -> dict:
    headers = dict(headers)
    if "Location" in headers:
        parts = urlsplit(headers["Location"])
        headers["Location"] = parts.path + (f"?{parts.query}" if parts.query else "")
    return headers
