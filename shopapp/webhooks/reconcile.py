"""Catching up on what Shopify never sent: the merchant job kind `reconcile`, and its schedule.

Shopify does not promise delivery: a delivery is dropped after 8 failed attempts over 4 hours, and an app
that was down longer, or a Shopify incident, loses changes for good (shopify.dev, "Best practices for
webhooks": implement reconciliation jobs). `reconcile` reads, through the Admin GraphQL API, the records
each feature keeps a projection of that changed since a point in time, and applies each one through the
feature's own projection code and stale guard, exactly as its webhook would have: a missing or older row
is written, a current one is left untouched.

Each feature that keeps a projection registers a `CatchUp` (the engine names none):

    from shopapp.webhooks.reconcile import CatchUp, catch_up

    @catch_up
    class OrdersCatchUp(CatchUp):
        resource = "orders"
        def count(self, client, since): ...              # how many changed (for "n of total"), or None
        def pages(self, client, since): ...              # yields lists of records, as the webhook sends them
        def apply(self, session, shop, record): ...      # True when the record changed a row

`since` is the job's `params["since"]` (ISO 8601), else the start of the shop's last successful reconcile,
else 24 hours back. One run per shop at a time across machines (a Redis lock); the workers start one for
each installed shop every RECONCILE_INTERVAL_SECONDS (0: never), and the page's "Catch up now" starts one.
The job's message says how many records it checked and fixed, and the Admin API points it used.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Optional

import redis
from flask import Flask
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from shopapp import redis_keys
from shopapp.clock import format_timestamp, utcnow
from shopapp.config import get_config
from shopapp.db import get_db
from shopapp.jobs import registry
from shopapp.jobs.context import JobContext
from shopapp.jobs.errors import PermanentJobError, UnknownJobKindError, admin_api_failures
from shopapp.models import Job, JobState, Shop
from shopapp.redis_client import get_redis
from shopapp.shopify.admin_api import AdminClient, admin_client
from shopapp.shopify.timestamps import parse_timestamp
from shopapp.shopify.transport import shopify_http_client

log = logging.getLogger(__name__)

KIND = "reconcile"
HOOK = "catch_up"
# A reconcile reads every change of a day at most once per run; a big shop's day fits well within this.
TIME_LIMIT_SECONDS = 3600
DEFAULT_LOOKBACK = timedelta(hours=24)
# How many shops one scheduling pass starts a reconcile for (the next pass takes the rest).
SCHEDULE_BATCH = 100
ACTIVE_STATES = (JobState.QUEUED.value, JobState.RUNNING.value, JobState.RETRYING.value)


class CatchUp:
    """A feature's catch-up of one resource (see the module docstring)."""

    #: The resource's name in the job's message ("orders").
    resource: str = ""

    def count(self, client: AdminClient, since: datetime) -> Optional[int]:
        """How many records changed since `since` (for the progress "n of total"), or None if unknown."""
        return None

    def pages(self, client: AdminClient, since: datetime) -> Iterator[list[dict]]:
        """The records changed since `since`, a page at a time, shaped as the webhook's payload."""
        return iter(())

    def apply(self, session: Session, shop: str, record: dict) -> bool:
        """Apply one record through the feature's projection and stale guard; True when a row changed."""
        return False


class GraphQLCatchUp(CatchUp):
    """A CatchUp of one Admin GraphQL connection searched by `updated_at` (the common case).

    Set `resource` (the connection's name, e.g. "orders"), `count_query` (takes `$query` and selects
    `<resource>Count { count }`), `page_query` (takes `$first`, `$after`, `$query` and selects the
    connection's `nodes` and `pageInfo`), and write `shape(node)` (a node as the webhook's payload) and
    `project(session, shop, record)` (the feature's projection; True when a row changed; a record it cannot
    apply, e.g. one without an id, is False: checked, not fixed).
    """

    count_query: str = ""
    page_query: str = ""
    page_size: int = 100

    def count(self, client: AdminClient, since: datetime) -> Optional[int]:
        data = client.query(self.count_query, {"query": search_since(since)})
        count = (data.get(f"{self.resource}Count") or {}).get("count")
        return count if isinstance(count, int) else None

    def pages(self, client: AdminClient, since: datetime) -> Iterator[list[dict]]:
        for nodes in client.paginate(self.page_query, self.resource, {"query": search_since(since)},
                                     page_size=self.page_size):
            yield [self.shape(node) for node in nodes]

    def apply(self, session: Session, shop: str, record: dict) -> bool:
        return self.project(session, shop, record)

    def shape(self, node: dict) -> dict:
        raise NotImplementedError

    def project(self, session: Session, shop: str, record: dict) -> bool:
        raise NotImplementedError


def catch_up(cls: type[CatchUp]) -> type[CatchUp]:
    """Class decorator: register one instance of a `CatchUp` subclass."""
    registry.add_hook(HOOK, cls())
    return cls


def catch_ups() -> list[CatchUp]:
    """Every registered CatchUp, in registration order."""
    return registry.hooks(HOOK)


def search_since(since: datetime) -> str:
    """The Admin API search filter for records updated after `since` (shopify.dev, "Search syntax")."""
    return f"updated_at:>'{format_timestamp(since)}'"


@registry.job_kind(KIND, timeout=TIME_LIMIT_SECONDS, single_per_shop=True)
def reconcile(ctx: JobContext) -> Optional[str]:
    """Re-read what changed since `since` and apply what the webhooks missed; says what it checked and fixed."""
    since = _since(ctx)
    lock = get_redis(ctx.app).lock(redis_keys.shop_reconcile_lock(ctx.shop), timeout=TIME_LIMIT_SECONDS + 60,
                                   blocking=False)
    if not lock.acquire(blocking=False):
        return ctx.ignore("another catch-up of this shop is running")
    try:
        with admin_api_failures():
            return _run(ctx, since)
    finally:
        with contextlib.suppress(redis.exceptions.LockError):  # expired with the job: the next run takes it again
            lock.release()


def _run(ctx: JobContext, since: datetime) -> str:
    checked = fixed = 0
    with shopify_http_client(get_config(ctx.app)) as http:
        client = admin_client(ctx.app, ctx.shop, http)
        hooks = catch_ups()
        counts = [hook.count(client, since) for hook in hooks]
        total = sum(counts) if None not in counts else None
        ctx.session.commit()  # no transaction stays open across a call to Shopify
        _report(ctx, 0, 0, total)
        for hook in hooks:
            for page in hook.pages(client, since):
                ctx.check_cancelled()
                for record in page:
                    checked += 1
                    fixed += bool(hook.apply(ctx.session, ctx.shop, record))
                ctx.session.commit()
                _report(ctx, checked, fixed, total)
        points = client.points_used
    return (f"checked {checked} records, fixed {fixed} (changed since {format_timestamp(since)}; "
            f"{points:g} Admin API points)")


def _report(ctx: JobContext, checked: int, fixed: int, total: Optional[int]) -> None:
    """Progress as "n of total" when the total is known (records created meanwhile may pass it), else 0 %."""
    message = f"checked {checked}" + (f" of {total}" if total is not None else "") + f" records, fixed {fixed}"
    if total:
        ctx.report(checked, max(total, checked), message)
    else:
        ctx.report(0, None, message)


def _since(ctx: JobContext) -> datetime:
    given = ctx.params.get("since")
    if given is not None:
        parsed = parse_timestamp(given)
        if parsed is None:
            raise PermanentJobError(f"params.since={given!r} is not an ISO 8601 time")
        return parsed
    last = ctx.session.scalar(select(Job.started_at).where(
        Job.shop_domain == ctx.shop, Job.kind == KIND, Job.state == JobState.SUCCEEDED.value)
        .order_by(Job.started_at.desc()).limit(1))
    ctx.session.rollback()  # end the read: no transaction stays open across a call to Shopify
    return last or utcnow() - DEFAULT_LOOKBACK


def schedule_reconciles(app: Flask) -> int:
    """Start a reconcile for each installed shop whose last one started RECONCILE_INTERVAL_SECONDS ago or
    more (and none is active); returns how many started. Runs in the workers' periodic sweep (one at a time
    across machines)."""
    from shopapp.jobs.queue import start_merchant_job

    interval = app.config["RECONCILE_INTERVAL_SECONDS"]
    if not interval:
        return 0
    due_after = utcnow() - timedelta(seconds=interval)
    recent = exists().where(Job.shop_domain == Shop.domain, Job.kind == KIND,
                            (Job.created_at > due_after) | Job.state.in_(ACTIVE_STATES))
    with get_db(app).session() as session:
        shops = session.scalars(select(Shop.domain).where(
            and_(Shop.installed.is_(True), Shop.needs_reauth.is_(False), Shop.access_token.is_not(None)), ~recent)
            .order_by(Shop.domain).limit(SCHEDULE_BATCH)).all()
    started = 0
    for shop in shops:
        try:
            start_merchant_job(app, shop, KIND)
            started += 1
        except UnknownJobKindError:
            return started
    if started:
        log.info("reconcile scheduled for %d shops", started)
    return started


registry.add_hook("periodic", schedule_reconciles)
