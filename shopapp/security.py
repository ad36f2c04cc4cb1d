"""Security headers on every response."""
from __future__ import annotations

from flask import Flask, Response


def init_app(app: Flask) -> None:
    """Add conservative headers; the embedded page sets its own per-shop frame-ancestors CSP."""
    app.after_request(_headers)


# On every response (added by shopapp.observability, for Flask's views and the webhook endpoint alike).
HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin"))


def _headers(response: Response) -> Response:
    # X-Content-Type-Options and Referrer-Policy come with every request's observation (shopapp.observability).
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        # Pages that are not the per-shop embedded page may not be framed at all.
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response
