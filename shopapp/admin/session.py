"""Session-token authentication for /api routes: the shop comes from the verified token alone."""
from __future__ import annotations

from functools import wraps

from flask import g, jsonify

from shopapp import get_config
from shopapp.shopify.session_token import SessionTokenError, bearer_token, verify_session_token

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"


def require_session_token(view):
    """Decorator: verify `Authorization: Bearer <session token>`; set `g.shop` and `g.session_identity`.

    On failure: 401 with `X-Shopify-Retry-Invalid-Session-Request: 1`, so App Bridge fetches a fresh
    token and retries.
    """
    @wraps(view)
    def wrapper(*args, **kwargs):
        from flask import request

        config = get_config()
        try:
            identity = verify_session_token(bearer_token(request.headers.get("Authorization")),
                                            config.SHOPIFY_API_KEY, config.api_secrets)
        except SessionTokenError as exc:
            response = jsonify(error="unauthorized", detail=str(exc).split(":")[0])
            response.status_code = 401
            response.headers[RETRY_HEADER] = "1"
            return response
        g.shop = identity.shop
        g.session_identity = identity
        return view(*args, **kwargs)
    return wrapper
