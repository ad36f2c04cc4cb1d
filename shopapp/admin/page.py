"""The embedded page (`GET /`) and the bounce page App Bridge uses to hand us a session token.

Flow of a document request to `/`:
- not inside the admin (no `embedded=1`): redirect into the shop's admin (`shop` validated), or, in dev
  mode, to the dev shop's "embedded" URL where the local App Bridge stand-in plays the admin;
- inside the admin without a valid `id_token`: 302 to the bounce page (`/patch-id-token`), where App
  Bridge fetches a token and reloads `shopify-reload` with it;
- verified: the dashboard, framed only by that shop's admin, under a strict Content-Security-Policy
  (`admin.csp`; the bounce page gets the same).
"""
from __future__ import annotations

import logging
from urllib.parse import urlencode

import redis
from flask import Blueprint, Response, redirect, render_template, request

from shopapp.admin import app_home
from shopapp.admin.csp import page_policy
from shopapp.admin.session import ensure_offline_token
from shopapp.config import DEV_SHOP, get_config
from shopapp.shopify.errors import ReauthorizationRequiredError, TokenRequestError

bp = Blueprint("page", __name__)
log = logging.getLogger(__name__)

APP_BRIDGE_CDN = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
POLARIS_CDN = "https://cdn.shopify.com/shopifycloud/polaris.js"
DEV_APP_BRIDGE = "/dev/app-bridge.js"


@bp.get("/")
def index():
    """The jobs dashboard."""
    config = get_config()
    if request.args.get("embedded") != "1":
        return _open_in_admin(config)
    result = app_home.verify_document_request(request, config)
    if not result.verified:
        return Response(result.body, status=result.status, headers=result.headers)
    _ensure_offline_token(config, result.shop, result.id_token)
    html = render_template("index.html", shop=result.shop, **_scripts(config))
    response = Response(html, status=200, mimetype="text/html", headers=result.headers)
    response.headers["Content-Security-Policy"] = page_policy(config, result.shop)
    response.headers["Cache-Control"] = "no-store"  # the page is per shop and per session
    if config.DEV_MODE:
        response.headers.pop("Link", None)  # no CDN preloads: the dev page never loads them
    return response


@bp.get(app_home.BOUNCE_PATH)
def bounce():
    """The page App Bridge loads to supply a fresh `id_token` (`shopify-reload`)."""
    config = get_config()
    result = app_home.bounce_page(request, config)
    if result.status == 400:
        return _plain_page("open_from_admin.html", 400,
                           reason="This address needs a valid shop and a shopify-reload path.")
    if not result.verified:
        return Response(status=result.status)
    body = result.body
    if config.DEV_MODE:  # the CDN's App Bridge only works inside the admin: use the local stand-in
        body = render_template("dev/bounce.html", **_scripts(config))
        result.headers.pop("Link", None)
    response = Response(body, status=200, mimetype="text/html", headers=result.headers)
    response.headers["Content-Security-Policy"] = page_policy(config, result.shop)
    response.headers["Cache-Control"] = "no-store"
    return response


def _ensure_offline_token(config, shop: str, id_token: str) -> None:
    """A new or reinstalled shop gets its offline token when the merchant first opens the app (token
    exchange), so that webhooks and merchant jobs can call the Admin API from then on."""
    if config.DEV_MODE and not config.SHOPIFY_ADMIN_ORIGIN:
        return  # the dev shop exists nowhere: there is no Shopify to exchange its tokens with
    try:
        ensure_offline_token(shop, id_token)
    except (ReauthorizationRequiredError, TokenRequestError, redis.RedisError) as exc:
        # The page works without it, and bouncing on a refusal could loop; /api retries on its next
        # request and asks App Bridge for a new session token when Shopify refuses this one.
        log.warning("token exchange on page load failed: %s", type(exc).__name__, extra={"shop": shop})


def _open_in_admin(config) -> Response:
    if config.DEV_MODE:
        # The stand-in plays the admin: open the page as the admin would, for the dev shop.
        return redirect("/?" + urlencode({"embedded": "1", "shop": DEV_SHOP}))
    shop = app_home.valid_shop_param(request)
    if shop is None:
        return _plain_page("open_from_admin.html", 400,
                           reason="Open shopapp from your Shopify admin (Apps → shopapp).")
    response = redirect(f"https://{shop}/admin/apps/{config.SHOPIFY_API_KEY}")
    response.headers["Content-Security-Policy"] = page_policy(config, shop)
    return response


def _plain_page(template: str, status: int, **context) -> Response:
    return Response(render_template(template, **context), status=status, mimetype="text/html")


def _scripts(config) -> dict:
    """Which App Bridge and Polaris the page loads: Shopify's CDN, or the local stand-in in dev mode."""
    if config.DEV_MODE:
        return {"api_key": config.SHOPIFY_API_KEY, "app_bridge_src": DEV_APP_BRIDGE, "polaris_src": None,
                "dev_mode": True}
    return {"api_key": config.SHOPIFY_API_KEY, "app_bridge_src": APP_BRIDGE_CDN, "polaris_src": POLARIS_CDN,
            "dev_mode": False}
