"""Security headers on every response."""
from __future__ import annotations

from flask import Flask, Response


def init_app(app: Flask) -> None:
    """Add conservative headers; the embedded page sets its own per-shop frame-ancestors CSP."""
    app.after_request(_headers)


# On every response, the webhook endpoint's included (it answers before Flask, see shopapp.webhooks.endpoint).
HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin"))


def _headers(response: Response) -> Response:
    for name, value in HEADERS:
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        # Pages that are not the per-shop embedded page may not be framed at all.
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response
