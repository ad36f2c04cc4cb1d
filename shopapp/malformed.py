"""Requests whose framing is broken are the sender's fault: 400 with one INFO line, never a 500 with a traceback.

Two kinds reach the application rather than the server's own parser:
- a request body with broken chunked framing, or a connection closed mid-chunk: gunicorn raises its
  `ParseException`s (`InvalidChunkSize`, `InvalidChunkExtension`, `ChunkMissingTerminator`) or
  `NoMoreData` from inside the body's `read()`, that is inside a view;
- a websocket handshake wsproto refuses (no `Sec-WebSocket-Key`, an unsupported version, a header h11
  cannot parse): `RemoteProtocolError` from `simple_websocket.Server()` in flask-sock's route.
Flask would answer both with 500 and an error-level traceback, which anyone can flood; `init_app` registers
a handler that answers 400. gunicorn closes the connection after the answer when the body failed mid-read.
gunicorn and wsproto are production dependencies, but the app also runs without them (tests' client), so
their imports are guarded.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request

log = logging.getLogger(__name__)


def _framing_errors() -> tuple[type[BaseException], ...]:
    try:
        from gunicorn.http.errors import NoMoreData, ParseException
    except ImportError:
        return ()
    return ParseException, NoMoreData


def _handshake_errors() -> tuple[type[BaseException], ...]:
    try:
        from wsproto.utilities import RemoteProtocolError
    except ImportError:
        return ()
    return (RemoteProtocolError,)


#: What gunicorn raises from a request body's read() when the body's framing is broken or cut off.
FRAMING_ERRORS = _framing_errors()
#: What a malformed websocket handshake raises inside the websocket route.
HANDSHAKE_ERRORS = _handshake_errors()


def _bad_request(exc: BaseException):
    # The class name only: gunicorn's messages quote the offending bytes.
    log.info("malformed request refused: %s", type(exc).__name__, extra={"method": request.method,
                                                                        "path": request.path, "status": 400})
    response = jsonify(error="bad_request", detail="malformed request")
    response.status_code = 400
    return response


def init_app(app: Flask) -> None:
    """Answer FRAMING_ERRORS and HANDSHAKE_ERRORS raised by any view with 400."""
    for error in FRAMING_ERRORS + HANDSHAKE_ERRORS:
        app.register_error_handler(error, _bad_request)
