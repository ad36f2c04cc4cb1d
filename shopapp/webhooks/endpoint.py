"""POST /webhooks: one endpoint for every topic. Verify, record, enqueue, answer in milliseconds.

Statuses (the contract): 200 accepted or duplicate (same webhook id, or same topic and event id); 401
missing or wrong HMAC, or a signed body that names another shop or is not the topic's shape; 400 missing
headers, bad shop domain, a body that is not a JSON object, or a malformed or incomplete body; 408 a body
that stalled past WEBHOOK_BODY_TIMEOUT_SECONDS; 413 over WEBHOOK_MAX_BYTES; 405 other methods; 503 when
the delivery could not be committed or found no room in WEBHOOK_BUFFER_BYTES (Shopify retries); 500 (also
retried) on a bug. The reason is in a small JSON body (`reasons.py`).

It is a plain WSGI endpoint in front of Flask, not a Flask view: every Shopify delivery comes here, and
Flask's request and response machinery (request context, URL matching, hooks, Response objects) cost as
much CPU as verifying, recording and enqueueing the delivery (bench/ingest.py: 562 -> 386 us of web CPU
per webhook, README "Performance"). It observes its requests with the same `RequestObservation` as Flask's
hooks: the request id (`X-Request-Id`), the log line, the latency metric and the security headers.
It needs no app context: everything it calls takes the app.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Optional

from flask import Flask
from werkzeug.datastructures import EnvironHeaders
from werkzeug.wsgi import get_content_length, get_input_stream

from shopapp import logs, metrics
from shopapp.config import get_config
from shopapp.observability import RequestObservation
from shopapp.webhooks.body import BodyReader, BodyRoom
from shopapp.webhooks.ingest import NotDurableError
from shopapp.webhooks.reasons import STATUS, Reason
from shopapp.webhooks.verify import verify_webhook
from shopapp.webhooks.writer import record

log = logging.getLogger(__name__)

PATH = "/webhooks"
ENDPOINT = "shopapp.webhook_endpoint"  # app.extensions key of the app's WebhookEndpoint

Answer = tuple[int, dict, tuple[tuple[str, str], ...]]


class WebhookEndpoint:
    """WSGI middleware: answers every request for PATH itself, passes the rest to `downstream` (Flask)."""

    def __init__(self, app: Flask, downstream: Callable):
        self.app = app
        self.downstream = downstream
        self.secrets = get_config(app).api_secrets
        self.max_bytes = app.config["WEBHOOK_MAX_BYTES"]
        self.body_timeout = app.config["WEBHOOK_BODY_TIMEOUT_SECONDS"]
        self.room = BodyRoom(app.config["WEBHOOK_BUFFER_BYTES"])  # this process's bodies, all requests

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.downstream(environ, start_response)
        observation = RequestObservation.begin(environ)
        method = environ.get("REQUEST_METHOD", "")
        try:
            try:
                status, body, extra_headers = self.receive(environ, method)
            except Exception:  # a bug: answer like Flask would (500, retried by Shopify), but in our shape
                log.exception("webhook endpoint failed")
                status, body, extra_headers = 500, {"result": "error", "detail": "internal error"}, ()
            payload = json.dumps(body).encode()
            start_response(f"{status} {HTTPStatus(status).phrase}", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                *observation.response_headers(), *extra_headers])
            observation.finish(PATH, method, status)
            return [] if method == "HEAD" else [payload]  # a HEAD answer has the headers of a GET, no body
        finally:
            observation.end()

    def receive(self, environ: dict, method: str) -> Answer:
        """Verify and record one delivery; the answer's status, JSON body and extra headers."""
        reader = BodyReader(self.max_bytes, self.body_timeout, environ.get("gunicorn.socket"), self.room)
        try:  # the body's room is held until the delivery is recorded (the writer holds its text till then)
            return self._receive(environ, method, reader)
        finally:
            reader.release()

    def _receive(self, environ: dict, method: str, reader: BodyReader) -> Answer:
        delivery = verify_webhook(method, EnvironHeaders(environ), get_input_stream(environ),
                                  get_content_length(environ), self.secrets, self.max_bytes, reader)
        if not delivery.ok:
            # A refusal is the sender's doing (INFO), except a full room: this process is short of memory.
            level = logging.WARNING if delivery.reason is Reason.BUSY else logging.INFO
            log.log(level, "webhook refused: %s (%s)", delivery.reason.value, delivery.detail,
                    extra={"status": delivery.status})
            metrics.webhook_rejected(delivery.reason.value)
            allow = (("Allow", "POST"),) if delivery.reason is Reason.METHOD_NOT_ALLOWED else ()
            return STATUS[delivery.reason], _body(delivery.reason.value, delivery.detail), allow
        extra = {"shop": delivery.shop, "topic": delivery.topic, "webhook_id": delivery.webhook_id}
        logs.set_context(**extra)  # every later line of this request carries them
        try:
            recorded = record(self.app, delivery, logs.request_id())
        except NotDurableError as exc:
            log.error("webhook not recorded (503, Shopify will retry): %s", exc, extra=extra)
            metrics.webhook_rejected("unavailable")
            return 503, _body("unavailable", "could not record the delivery; retry later"), ()
        if recorded.duplicate:
            log.info("duplicate webhook acknowledged", extra=extra)
            metrics.webhook_duplicate(delivery.topic)
            return 200, _body("duplicate"), ()
        log.info("webhook accepted", extra=dict(extra, job_id=recorded.job_id))
        metrics.webhook_received(delivery.topic)
        return 200, _body("accepted", job_id=recorded.job_id), ()


def _body(result: str, detail: str = "", job_id: Optional[int] = None) -> dict:
    body: dict = {"result": result}
    if detail:
        body["detail"] = detail
    if job_id is not None:
        body["job_id"] = job_id
    return body


def init_app(app: Flask) -> None:
    """Put the endpoint in front of the app's WSGI callable (and so in front of every test client too);
    `app.extensions[ENDPOINT]` is the endpoint."""
    endpoint = app.extensions[ENDPOINT] = WebhookEndpoint(app, app.wsgi_app)
    # Its bound method, not the instance: CPython (3.11+) runs a Python function called from Python code in
    # the C frame it is in, while calling an instance enters its type's call slot and a new C frame; every
    # request passes here, and a /ws/jobs socket keeps its request's C stack for its whole life (about
    # 0.7 KB a socket, bench/fanout.py idle).
    app.wsgi_app = endpoint.__call__
