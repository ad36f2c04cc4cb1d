"""Dev-only routes: a local App Bridge stand-in and the session tokens it hands out, for the dev shop.

Registered only in dev mode (`SHOPAPP_DEV=1`, or `make run` without Shopify credentials), so in
production these paths do not exist (404), and the stand-in is never served. The guard below repeats the
check in case the blueprint is ever registered by mistake.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, jsonify

from shopapp.config import DEV_SHOP, get_config
from shopapp.shopify.session_token import mint_session_token

bp = Blueprint("dev", __name__, url_prefix="/dev")

ASSETS = Path(__file__).resolve().parent / "dev_assets"
# Like App Bridge's tokens: short-lived, so the page's refresh and reconnect paths run in dev too.
TOKEN_LIFETIME_SECONDS = 60


@bp.before_request
def _dev_mode_only():
    if not get_config().DEV_MODE:
        abort(404)


@bp.get("/app-bridge.js")
def app_bridge():
    """The stand-in for `https://cdn.shopify.com/shopifycloud/app-bridge.js`."""
    # Read per request (a few KB, dev only) so edits show up without a restart.
    return Response((ASSETS / "app-bridge.js").read_bytes(), mimetype="text/javascript",
                    headers={"Cache-Control": "no-store"})


@bp.get("/session-token")
def session_token():
    """A fresh session token for the dev shop, signed with the app secret like App Bridge's."""
    config = get_config()
    token, expires_at = mint_session_token(config.SHOPIFY_API_KEY, config.SHOPIFY_API_SECRET, DEV_SHOP,
                                           expires_in=TOKEN_LIFETIME_SECONDS, sub="1", sid="dev-session")
    response = jsonify(token=token, shop=DEV_SHOP, expires_at=expires_at)
    response.headers["Cache-Control"] = "no-store"
    return response
