"""The authorization-code install flow (/auth, /auth/callback), for installs that start outside the admin.

Embedded installs get their token by token exchange on the first /api request; this flow serves a
merchant who installs from a link. Bad input is answered clearly and changes nothing: 400 for a missing,
malformed or oversized parameter or a shop that is not `*.myshopify.com`; 401 for a wrong or stale HMAC;
403 for an unknown, expired, used or foreign state, or one started in another browser; 400 when Shopify
rejects the code; 502 when it cannot be reached. `/auth` stores nothing (the state is signed, see `oauth`).
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
    """Send the merchant to Shopify's authorize page with a fresh signed state (nothing is stored)."""
    params, problem = _single_params()
    if problem:
        return problem
    shop = (params.get("shop") or "").strip().lower()
    if not is_valid_shop_domain(shop):
        return _answer(400, "The shop parameter must be a shop domain like example.myshopify.com.")
    config = get_config()
    url, state = oauth.begin_authorization(config, shop)
    response = redirect(url, 302)
    # The cookie binds the state to this browser: a callback opened in another one is refused.
    response.set_cookie(oauth.STATE_COOKIE, state, max_age=oauth.STATE_TTL_SECONDS, httponly=True,
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
    # Shopify's signature first, then the state's, then the browser: only a genuine callback from the browser
    # that started the install reaches the one Redis write (the nonce's single use), so nothing forged or
    # replayed from elsewhere can burn the merchant's state.
    try:
        state = oauth.verify_state(params["state"], shop, config.api_secrets)
    except oauth.StateError as exc:
        return _answer(403, str(exc))
    if request.cookies.get(oauth.STATE_COOKIE) != params["state"]:
        return _answer(403, "This install was started in another browser; start it again here.")
    if not oauth.claim_state(get_redis(), state):
        return _answer(403, "This install link was already used; start the install again.")
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
