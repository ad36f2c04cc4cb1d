"""Session-token authentication for /api routes: the shop comes from the verified token alone.

After the token checks out, the shop must hold a usable offline access token (Shopify installs embedded
apps itself, so the first authenticated request of a new or reinstalled shop is where the app gets one):
when it does not, the session token is exchanged for an expiring offline token (see
`shopapp.shopify.offline_tokens`).
"""
from __future__ import annotations

import logging
from functools import wraps

import redis
from flask import g, jsonify, request

from shopapp.config import get_config
from shopapp.db import get_db
from shopapp.redis_client import get_redis
from shopapp.shopify.errors import ReauthorizationRequiredError, TokenRequestError
from shopapp.shopify.offline_tokens import OfflineTokens
from shopapp.shopify.session_token import SessionTokenError, bearer_token, verify_session_token

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
log = logging.getLogger(__name__)


def require_session_token(view):
    """Decorator: verify `Authorization: Bearer <session token>`; set `g.shop` and `g.session_identity`.

    On failure: 401 with `X-Shopify-Retry-Invalid-Session-Request: 1`, so App Bridge fetches a fresh
    token and retries. On success, makes sure the shop has an offline token (token exchange).
    """
    @wraps(view)
    def wrapper(*args, **kwargs):
        config = get_config()
        token = bearer_token(request.headers.get("Authorization"))
        try:
            identity = verify_session_token(token, config.SHOPIFY_API_KEY, config.api_secrets)
        except SessionTokenError as exc:
            return _unauthorized("unauthorized", str(exc).split(":")[0])
        g.shop = identity.shop
        g.session_identity = identity
        try:
            ensure_offline_token(identity.shop, token)
        except ReauthorizationRequiredError:
            # Shopify refused this session token (invalid_subject_token): App Bridge retries with a new one.
            return _unauthorized("reauthorize", "Shopify did not accept the session token")
        except TokenRequestError as exc:
            # Shopify unreachable or failing: the page still works; the next request tries again.
            log.warning("token exchange failed: %s", exc.code, extra={"shop": identity.shop})
        except redis.RedisError as exc:
            # No lock, no exchange: the view may still answer from the database; the next request retries.
            log.warning("token exchange skipped, Redis unavailable: %s", type(exc).__name__,
                        extra={"shop": identity.shop})
        return view(*args, **kwargs)
    return wrapper


def ensure_offline_token(shop: str, session_token: str) -> None:
    """Exchange `session_token` for an offline token unless `shop` already holds a usable one."""
    config = get_config()
    if config.dev_credentials_generated and not config.SHOPIFY_ADMIN_ORIGIN:
        return  # credentials made up locally (dev mode): Shopify does not know this app, do not call it
    with OfflineTokens(config, get_db(), get_redis()) as tokens:
        tokens.ensure_for_session(shop, session_token)


def _unauthorized(error: str, detail: str):
    response = jsonify(error=error, detail=detail)
    response.status_code = 401
    response.headers[RETRY_HEADER] = "1"
    return response
