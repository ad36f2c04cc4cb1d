"""The JSON API of the embedded page: list the shop's jobs, count them by state, show one in detail, start a
merchant job, retry one or every failed one, cancel.

Every route takes the shop from the verified session token alone (`require_session_token` sets
`g.shop`); a job of another shop answers 404, exactly like a job that does not exist.
"""
from __future__ import annotations

import json

import redis
from flask import Blueprint, current_app, g, jsonify, request

from shopapp.admin.session import require_session_token
from shopapp.db import get_db
from shopapp.events import get_publisher
from shopapp.events.snapshot import job_counts, job_detail, job_snapshot
from shopapp.jobs import queue
from shopapp.jobs.errors import JobNotCancellableError, JobNotFoundError, JobNotRetryableError, UnknownJobKindError
from shopapp.models import JobState

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# A start request is `{"kind": ..., "params": {...}}`: a few hundred bytes; anything near this is abuse.
MAX_BODY_BYTES = 16 * 1024
# Created by Shopify's webhooks only, never by a merchant.
NOT_STARTABLE_KINDS = frozenset({"webhook"})
STATES = tuple(s.value for s in JobState)
# Job ids are database integers; a larger number cannot name a job (and would overflow PostgreSQL).
MAX_JOB_ID = 2**31 - 1
# "Retry all failed" retries at most this many jobs per call; the answer says how many are left.
RETRY_FAILED_BATCH = 100


class ApiInputError(Exception):
    """The request is malformed; answered with `status` and a message saying what to send instead."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@bp.errorhandler(ApiInputError)
def _input_error(exc: ApiInputError):
    return _error("bad_request" if exc.status == 400 else "too_large", str(exc), exc.status)


@bp.errorhandler(redis.RedisError)
def _redis_down(_exc):
    return _error("unavailable", "live job status is unavailable right now; try again shortly", 503)


@bp.get("/jobs")
@require_session_token
def list_jobs():
    """`{"seq": N, "jobs": [...]}`: the shop's jobs, newest first (`?state=`, `?limit=`)."""
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise ApiInputError(f"state must be one of {', '.join(STATES)}")
    limit = _limit(request.args.get("limit"))
    with get_db().session() as session:
        snapshot = job_snapshot(session, get_publisher(), g.shop, state=state, limit=limit)
    return jsonify(snapshot)


@bp.get("/jobs/counts")
@require_session_token
def count_jobs():
    """`{"queued": n, "running": n, "retrying": n, "succeeded": n, "failed": n}` for the token's shop."""
    with get_db().session() as session:
        return jsonify(job_counts(session, g.shop))


@bp.get("/jobs/<int:job_id>")
@require_session_token
def show_job(job_id: int):
    """One job of this shop with its failed attempts and its delivery's ids and times (never the payload)."""
    detail = None
    if job_id <= MAX_JOB_ID:
        with get_db().session() as session:
            detail = job_detail(session, g.shop, job_id)
    if detail is None:
        return _error("not_found", f"no job {job_id}", 404)
    return jsonify(detail)


@bp.post("/jobs/retry-failed")
@require_session_token
def retry_failed_jobs():
    """Put up to RETRY_FAILED_BATCH of this shop's failed jobs back on the queue → 202
    `{"retried": n, "remaining": m, "jobs": [...]}`; clicking twice retries nothing twice."""
    jobs, remaining = queue.retry_failed(current_app._get_current_object(), g.shop, RETRY_FAILED_BATCH)
    return jsonify(retried=len(jobs), remaining=remaining, jobs=jobs), 202


@bp.post("/jobs")
@require_session_token
def start_job():
    """Start a merchant job: `{"kind": "sync_products"}` → 202 with the job."""
    body = _json_object()
    unknown = set(body) - {"kind", "params"}
    if unknown:
        raise ApiInputError(f"unknown field(s): {', '.join(sorted(unknown))}; send {{\"kind\": ...}}")
    kind, params = body.get("kind"), body.get("params", {})
    if not isinstance(kind, str) or not kind:
        raise ApiInputError('"kind" must be a job kind, e.g. {"kind": "sync_products"}')
    if params is not None and not isinstance(params, dict):
        raise ApiInputError('"params" must be an object')
    if kind in NOT_STARTABLE_KINDS:
        raise ApiInputError(f"{kind!r} jobs are created by Shopify's webhooks, not started by hand")
    try:
        job = queue.start_merchant_job(current_app._get_current_object(), g.shop, kind, params or None)
    except UnknownJobKindError:
        raise ApiInputError(f"unknown job kind {kind!r}") from None
    return jsonify(job), 202


@bp.post("/jobs/<int:job_id>/retry")
@require_session_token
def retry_job(job_id: int):
    """Put a failed job of this shop back on the queue → 202 with the job; not failed: 409."""
    return _act_on_job(queue.retry_job, job_id)


@bp.post("/jobs/<int:job_id>/cancel")
@require_session_token
def cancel_job(job_id: int):
    """Cancel a waiting job at once, or ask a running one to stop → 202 with the job; finished: 409."""
    return _act_on_job(queue.cancel_job, job_id)


def _act_on_job(action, job_id: int):
    """`action(app, shop, job_id)` for the token's shop: 202 with the job, 404 when it is not this shop's,
    409 when its state does not allow the action."""
    try:
        _require_job_id(job_id)
        job = action(current_app._get_current_object(), g.shop, job_id)
    except JobNotFoundError:
        return _error("not_found", f"no job {job_id}", 404)
    except (JobNotRetryableError, JobNotCancellableError) as exc:
        return _error("conflict", str(exc), 409)
    return jsonify(job), 202


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise ApiInputError(f"limit must be a whole number from 1 to {MAX_LIMIT}") from None
    if value < 1:
        raise ApiInputError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return min(value, MAX_LIMIT)


def _json_object() -> dict:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiInputError(f"request body is larger than {MAX_BODY_BYTES} bytes", 413)
    raw = request.stream.read(MAX_BODY_BYTES + 1)  # chunked bodies carry no Content-Length
    if len(raw) > MAX_BODY_BYTES:
        raise ApiInputError(f"request body is larger than {MAX_BODY_BYTES} bytes", 413)
    if not request.mimetype == "application/json":
        raise ApiInputError("send Content-Type: application/json")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiInputError("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiInputError('request body must be a JSON object, e.g. {"kind": "sync_products"}')
    return body


def _require_job_id(job_id: int) -> None:
    if job_id > MAX_JOB_ID:
        raise JobNotFoundError(job_id)


def _error(code: str, detail: str, status: int):
    response = jsonify(error=code, detail=detail)
    response.status_code = status
    return response
