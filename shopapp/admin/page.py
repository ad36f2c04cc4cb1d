"""The embedded page (`GET /`) and the bounce page App Bridge uses to hand us a session token.

Flow of a document request to `/`:
- not inside the admin (no `embedded=1`): redirect into the shop's admin (`shop` validated), or, in dev
  mode, to the dev shop's "embedded" URL where the local App Bridge stand-in plays the admin;
- inside the admin without a valid `id_token`: 302 to the bounce page (`/patch-id-token`), where App
  Bridge fetches a token and reloads `shopify-reload` with it;
- verified: the dashboard, framed only by that shop's admin (`Content-Security-Policy: frame-ancestors`).
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, render_template, request

from shopapp import get_config
from shopapp.admin import app_home
from shopapp.config import DEV_SHOP

bp = Blueprint("page", __name__)

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
    html = render_template("index.html", shop=result.shop, **_scripts(config))
    response = Response(html, status=200, mimetype="text/html", headers=result.headers)
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
    response.headers["Cache-Control"] = "no-store"
    return response


def _open_in_admin(config) -> Response:
    if config.DEV_MODE:
        # The stand-in plays the admin: open the page as the admin would, for the dev shop.
        return redirect("/?" + urlencode({"embedded": "1", "shop": DEV_SHOP}))
    shop = app_home.valid_shop_param(request)
    if shop is None:
        return _plain_page("open_from_admin.html", 400,
                           reason="Open shopapp from your Shopify admin (Apps → shopapp).")
    response = redirect(f"https://{shop}/admin/apps/{config.SHOPIFY_API_KEY}")
    response.headers["Content-Security-Policy"] = app_home.frame_ancestors(shop)
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
