"""No cookie session: the embedded page authenticates every call with a session token, so `flask.session` is
one shared, read-only empty session and no response sets a cookie (shopapp.security.NoCookieSessions)."""
from __future__ import annotations

import flask
import pytest


def test_every_request_shares_one_empty_session(app):
    with app.test_request_context("/"):
        first = flask.session._get_current_object()
    with app.test_request_context("/ws/jobs?id_token=x"):
        second = flask.session._get_current_object()
    assert first is second
    assert dict(first) == {}


@pytest.mark.parametrize("write", [
    lambda session: session.__setitem__("shop", "a.myshopify.com"),
    lambda session: session.update(shop="a.myshopify.com"),
    lambda session: session.setdefault("shop", "a.myshopify.com"),
    lambda session: session.__ior__({"shop": "a.myshopify.com"}),  # session |= {...}
])
def test_every_write_to_the_session_fails_loudly_and_leaves_it_empty(app, write):
    with app.test_request_context("/"):
        with pytest.raises(RuntimeError, match="no secret key"):
            write(flask.session)
        assert dict(flask.session) == {}


def test_no_response_sets_a_cookie(client):
    for path in ("/healthz", "/", "/api/jobs"):
        assert "Set-Cookie" not in client.get(path).headers
