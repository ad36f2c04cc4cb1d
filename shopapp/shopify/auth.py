"""The authorization-code install flow (/auth, /auth/callback), for installs that start outside the admin.

Embedded installs get their token by token exchange on the first /api request; this flow serves a
merchant who installs from a link. Bad input is answered clearly and changes nothing: 400 for a missing,
malformed or oversized parameter or a shop that is not `*.myshopify.com`; 401 for a wrong or stale HMAC;
403 for an unknown, used or foreign state; 400 when Shopify rejects the code; 502 when it cannot be reached.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, redirect, request

from shopapp.config import get_config
from shopapp.db import get_db
from shopapp.redis_client import get_redis
from shopapp.shopify import exchange, oauth
from shopapp.shopify.errors import ReauthorizationRequiredError, TokenRequestError
from shopapp.shopify.shop_domain import is_valid_shop_domain
from shopapp.shopify.token_store import store_grant
from shopapp.shopify.transport import shopify_http_client

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 1024
CALLBACK_PARAMS = ("code", "hmac", "shop", "state", "timestamp")


def init_app(app: Flask) -> None:
    """Register the OAuth routes."""
    app.register_blueprint(bp)


@bp.get("/auth")
def begin():
    """Send the merchant to Shopify's authorize page with a fresh state nonce."""
    params, problem = _single_params()
    if problem:
        return problem
    shop = (params.get("shop") or "").strip().lower()
    if not is_valid_shop_domain(shop):
        return _answer(400, "The shop parameter must be a shop domain like example.myshopify.com.")
    config = get_config()
    url, nonce = oauth.begin_authorization(config, get_redis(), shop)
    response = redirect(url, 302)
    response.set_cookie(oauth.STATE_COOKIE, nonce, max_age=oauth.STATE_TTL_SECONDS, httponly=True,
                        secure=config.APP_URL.startswith("https://"), samesite="Lax", path="/auth")
    return response


@bp.get("/auth/callback")
def callback():
    """Verify Shopify's redirect (HMAC, state, shop), trade the code for a token, store it."""
    params, problem = _single_params()
    if problem:
        return problem
    missing = [name for name in CALLBACK_PARAMS if not params.get(name)]
    if missing:
        return _answer(400, f"Missing parameter(s): {', '.join(missing)}.")
    shop = params["shop"]
    if not is_valid_shop_domain(shop):
        return _answer(400, "The shop parameter is not a myshopify.com shop domain.")
    if not params["timestamp"].isdigit():
        return _answer(400, "The timestamp parameter is not a number.")
    config = get_config()
    if not oauth.verify_callback_signature(params, config.api_secrets):
        return _answer(401, "The request signature is invalid or too old; start the install again.")
    # Signature first, so forged requests cannot burn real nonces.
    state_shop = oauth.consume_state(get_redis(), params["state"])
    if state_shop is None:
        return _answer(403, "Unknown, expired or already used state; start the install again.")
    if state_shop != shop:
        return _answer(403, "The state was issued for another shop.")
    if request.cookies.get(oauth.STATE_COOKIE) != params["state"]:
        return _answer(403, "This install was started in another browser; start it again here.")
    try:
        with shopify_http_client(config) as client:
            grant = exchange.exchange_authorization_code(config, client, shop, params["code"])
    except ReauthorizationRequiredError as exc:
        return _answer(400, f"Shopify rejected the authorization code ({exc.reason}); start the install again.")
    except TokenRequestError as exc:
        if exc.code.startswith(("http_5", "network", "server")):
            return _answer(502, "Shopify could not be reached; try again in a moment.")
        return _answer(400, f"Shopify rejected the authorization code ({exc.code}); start the install again.")
    with get_db().session() as session:
        store_grant(session, shop, grant, install=True)
    log.info("shop installed through the authorization-code flow", extra={"shop": shop})
    response = redirect(oauth.admin_url(config, shop, params.get("host")), 302)
    response.delete_cookie(oauth.STATE_COOKIE, path="/auth")
    return response


def _single_params() -> tuple[dict[str, str], Response | None]:
    """The query as a flat dict; an answer instead when a parameter repeats or is oversized."""
    params: dict[str, str] = {}
    for name, values in request.args.lists():
        if len(values) != 1 and not name.endswith("[]"):
            return params, _answer(400, f"Parameter {name!r} appears more than once.")
        if len(name) > MAX_PARAM_LENGTH or any(len(v) > MAX_PARAM_LENGTH for v in values):
            return params, _answer(400, f"Parameter {name[:40]!r} is too long.")
        params[name] = values[0] if len(values) == 1 else values
    return params, None


def _answer(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")
