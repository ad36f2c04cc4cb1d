"""`GET /ws/jobs?id_token=<session token>[&since=<seq>]`: a shop's live job events (see the contract).

Authenticated by the App Bridge session token alone; the socket only ever sees that shop's events.
The query string carries the token, so nothing here logs the URL (and gunicorn's access log format
leaves the query out).
"""
from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from flask import Blueprint, current_app, request
from flask_sock import Sock
from sqlalchemy import select

from shopapp import metrics
from shopapp.config import get_config
from shopapp.db import get_db
from shopapp.events import get_publisher
from shopapp.events.snapshot import job_snapshot
from shopapp.models import Shop
from shopapp.realtime import codes, get_hub, websocket
from shopapp.realtime.jobsocket import CLOSE_WAIT_SECONDS, JobSocket
from shopapp.realtime.websocket import LINGER_SECONDS, ConnectionClosed, guard, release_handshake
from shopapp.shopify.session_token import SessionTokenError, verify_session_token

log = logging.getLogger(__name__)

bp = Blueprint("realtime", __name__)
sock = Sock()

# How long a new socket waits for its process's Redis subscription before giving up with 1013.
READY_TIMEOUT_SECONDS = 5.0


@bp.before_request
def _no_compression():
    # permessage-deflate would keep a zlib state of ~300 KB per socket for ~300-byte messages, and would
    # make a frame differ per socket; without it a job event is framed once for all its sockets.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


@sock.route("/ws/jobs", bp=bp)
def jobs_socket(ws):
    guard(ws)
    release_handshake(ws)
    try:
        _serve(ws)
    finally:
        # Let the reader finish the close handshake (and drain) before the server closes the connection.
        websocket.wait_reader(ws, CLOSE_WAIT_SECONDS + LINGER_SECONDS)
        websocket.release(ws)


def _sources(app):
    """(verify, sync) for every socket of `app`: built once per app, not as closures per socket (memory at
    10,000 sockets). verify(token) -> SessionIdentity; sync(shop, since) -> ("events", [text, ...]) when
    the replay log holds everything after `since`, else ("snapshot", {...})."""
    sources = app.extensions.get(_SOURCES)
    if sources is None:
        config, publisher, database = get_config(app), get_publisher(app), get_db(app)

        def verify(token):
            return verify_session_token(token, config.SHOPIFY_API_KEY, config.api_secrets)

        def sync(shop, since):
            if since is not None:
                events = publisher.events_since(shop, since)
                if events is not None:
                    return "events", events
            with database.session() as session:
                return "snapshot", job_snapshot(session, publisher, shop)

        sources = app.extensions[_SOURCES] = (verify, sync)
    return sources


_SOURCES = "shopapp.realtime.sources"


def _serve(ws) -> None:
    app = current_app._get_current_object()
    config = get_config(app)
    hub = get_hub(app)
    verify, sync = _sources(app)
    try:
        identity = verify(_query("id_token"))
    except SessionTokenError as exc:
        log.info("realtime: refused a socket: %s", str(exc).split(":")[0])
        _refuse(ws, codes.UNAUTHORIZED, "invalid session token")
        return
    job_socket = JobSocket(ws, identity, queue_size=config.WS_QUEUE_SIZE, grace_seconds=config.WS_TOKEN_GRACE_SECONDS,
                           verify_token=verify, sync=sync, ping_seconds=config.WS_PING_SECONDS)
    if hub.closing_code is not None:
        job_socket.close(hub.closing_code, "server shutting down")
        return
    if _uninstalled(app, identity.shop):
        job_socket.close(codes.SHOP_UNINSTALLED, "shop uninstalled")
        return
    hub.ensure_started()
    if not hub.wait_ready(READY_TIMEOUT_SECONDS):
        job_socket.close(codes.TRY_AGAIN_LATER, "live updates unavailable; retry")
        return
    hub.register(job_socket)  # before the snapshot or replay is read: no event can fall in between
    metrics.socket_opened()
    code = None
    try:
        code = job_socket.serve(_since(_query("since")))
    except ConnectionClosed:
        pass  # the client left
    except Exception:
        log.exception("realtime: socket handler failed", extra={"shop": identity.shop})
        metrics.event_dropped("error")
        code = job_socket.close(codes.INTERNAL_ERROR, "internal error; reconnect with since")
    finally:
        hub.unregister(job_socket)
        metrics.socket_closed(code)
        if code == codes.TRY_AGAIN_LATER:
            metrics.event_dropped("overflow")


def _refuse(ws, code: int, reason: str) -> None:
    websocket.close(ws, code, reason)
    websocket.wait_reader(ws, 2.0)
    websocket.release(ws)


def _query(name: str) -> str | None:
    """The first value of query parameter `name`, or None; parsed as `request.args` parses it, but not kept:
    `request.args` would keep an ImmutableMultiDict (and the token once more) for the life of the socket."""
    # Werkzeug's own parse (Request.args): invalid UTF-8 escapes are kept as they came ("werkzeug.url_quote").
    for key, value in parse_qsl(request.query_string.decode(), keep_blank_values=True, errors="werkzeug.url_quote"):
        if key == name:
            return value
    return None


def _since(raw: str | None) -> int | None:
    """The client's last seen seq; anything but a non-negative integer means "send a snapshot"."""
    if raw is None or not raw.isdigit() or len(raw) > 20:
        return None
    return int(raw)


def _uninstalled(app, shop: str) -> bool:
    with get_db(app).session() as session:
        installed = session.scalar(select(Shop.installed).where(Shop.domain == shop))
    return installed is False
