"""Security headers on every response, and the Content-Security-Policy of every HTML page.

Every HTML page gets one `Content-Security-Policy` header built from `BASE_POLICY` (W3C CSP Level 3): this
origin only, no inline or eval'd script, no plugins, no `<base>` rewrites, forms posting here only, and no
framing. A page that needs more (the embedded page: Shopify's CDN, framing by the shop's admin) builds its
own with `content_security_policy()`; pages that set none get the base policy.

No cookie session: the embedded page authenticates every call with a session token, so the app sets no
SECRET_KEY and `flask.session` is one shared, read-only empty session (`NoCookieSessions`).
"""
from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response
from flask.sessions import NullSession, SessionInterface

# On every response (added by shopapp.observability, for Flask's views and the webhook endpoint alike).
HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin"))

# Directive -> sources, in the order they are written. 'self' never admits inline script or style: only
# 'unsafe-inline', a nonce or a hash would, and the base policy has none of them.
BASE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}


def init_app(app: Flask) -> None:
    """Give every HTML page that set no policy of its own the base policy (`BASE_POLICY`); no cookie session."""
    app.session_interface = NoCookieSessions()
    app.after_request(_headers)


class SharedNullSession(NullSession):
    """Flask's `NullSession`, whose writes raise, with the one write it lets through (`session |= {...}`)
    refused too: one instance serves every request, so a write would reach every shop's requests."""

    def __ior__(self, other):
        self.update(other)  # NullSession.update raises
        return self


class NoCookieSessions(SessionInterface):
    """Flask's session for an app without one: every request shares one empty `SharedNullSession`, whose
    writes raise (so an accidental use of `flask.session` fails loudly), and no cookie is ever set.

    Flask's default builds a NullSession (with a closure and an attribute dict, about 0.4 KB) per request;
    a /ws/jobs socket keeps its request, and so its session, for the life of the socket.
    """

    shared = SharedNullSession()

    def open_session(self, app: Flask, request) -> SharedNullSession:
        return self.shared

    def save_session(self, app: Flask, session, response: Response) -> None:
        return None


def content_security_policy(frame_ancestors: Sequence[str] = ("'none'",), **sources: Sequence[str]) -> str:
    """The header value: `BASE_POLICY` plus `sources` per directive, framed only by `frame_ancestors`.

    `sources` are named by directive with `_` for `-` (`script_src=("https://cdn.example/",)`) and are added to
    the base sources; a directive the base policy lacks raises ValueError (a typo must not pass silently).
    """
    directives = dict(BASE_POLICY, **{"frame-ancestors": tuple(frame_ancestors)})
    for name, extra in sources.items():
        directive = name.replace("_", "-")
        if directive not in BASE_POLICY or directive == "frame-ancestors":
            raise ValueError(f"not a directive of the base policy: {directive}")
        directives[directive] = tuple(dict.fromkeys((*directives[directive], *extra)))
    return "; ".join(f"{directive} {' '.join(values)}" for directive, values in directives.items())


def _headers(response: Response) -> Response:
    # X-Content-Type-Options and Referrer-Policy come with every request's observation (shopapp.observability).
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = content_security_policy()
    return response
