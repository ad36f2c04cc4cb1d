"""POST /webhooks: one endpoint for every topic. Verify, record, enqueue, answer in milliseconds.

Statuses (the contract): 200 accepted or duplicate; 401 missing or wrong HMAC; 400 missing headers, bad
shop domain or a body that is not a JSON object; 413 over WEBHOOK_MAX_BYTES; 405 other methods; 503 when
the delivery could not be committed (Shopify retries). The reason is in a small JSON body.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Flask, Response, current_app, request

from shopapp import get_config, logs, metrics
from shopapp.webhooks.ingest import NotDurableError
from shopapp.webhooks.writer import record
from shopapp.webhooks.verify import STATUS, Reason, verify_webhook

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

# Every method reaches the view, so that the 405 comes from the same reason-to-status table.
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@bp.route("/webhooks", methods=_METHODS)
def receive_webhook():
    """Verify and record one delivery."""
    app = current_app._get_current_object()
    delivery = verify_webhook(request.method, request.headers, request.stream, request.content_length,
                              get_config(app).api_secrets, app.config["WEBHOOK_MAX_BYTES"])
    if not delivery.ok:
        log.info("webhook refused: %s", delivery.reason.value,
                 extra={"status": delivery.status})
        metrics.webhook_rejected(delivery.reason.value)
        return _answer(delivery.reason, delivery.detail)
    extra = {"shop": delivery.shop, "topic": delivery.topic, "webhook_id": delivery.webhook_id}
    logs.set_context(**extra)  # every later line of this request carries them
    try:
        recorded = record(app, delivery)
    except NotDurableError as exc:
        log.error("webhook not recorded (503, Shopify will retry): %s", exc, extra=extra)
        metrics.webhook_rejected("unavailable")
        return _json(503, "unavailable", "could not record the delivery; retry later")
    if recorded.duplicate:
        log.info("duplicate webhook acknowledged", extra=extra)
        metrics.webhook_duplicate(delivery.topic)
        return _json(200, "duplicate", "")
    log.info("webhook accepted", extra=dict(extra, job_id=recorded.job_id))
    metrics.webhook_received(delivery.topic)
    return _json(200, "accepted", "", job_id=recorded.job_id)


def _answer(reason: Reason, detail: str) -> Response:
    response = _json(STATUS[reason], reason.value, detail)
    if reason is Reason.METHOD_NOT_ALLOWED:
        response.headers["Allow"] = "POST"
    return response


def _json(status: int, result: str, detail: str, job_id: int | None = None) -> Response:
    body = {"result": result}
    if detail:
        body["detail"] = detail
    if job_id is not None:
        body["job_id"] = job_id
    return Response(json.dumps(body), status=status, mimetype="application/json")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
