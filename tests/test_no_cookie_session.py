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


def test_writing_to_the_session_fails_loudly(app):
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="no secret key"):
        flask.session["shop"] = "a.myshopify.com"


def test_no_response_sets_a_cookie(client):
    for path in ("/healthz", "/", "/api/jobs"):
        assert "Set-Cookie" not in client.get(path).headers
