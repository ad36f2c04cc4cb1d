"""Job kinds used only by tests (rq's "fixtures module of test jobs" pattern).

Loaded in-process by importing this module, and by worker subprocesses with
FEATURES=...,tests.support.test_jobs (tests/support/features.py).
"""
from __future__ import annotations

import contextlib
import time

from sqlalchemy import select, update

from shopapp import JobContext, PermanentJobError, job_kind
from shopapp.db import get_db
from shopapp.features.orders.models import Order
from shopapp.models import Job


@job_kind("test_fail_until")
def fail_until(ctx: JobContext) -> str:
    """Fails attempts before params["succeed_on"]."""
    if ctx.attempt < ctx.params.get("succeed_on", 2):
        raise RuntimeError(f"attempt {ctx.attempt} failed on purpose")
    return f"succeeded on attempt {ctx.attempt}"


@job_kind("test_always_fail")
def always_fail(ctx: JobContext) -> str:
    raise RuntimeError("boom")


@job_kind("test_permanent")
def permanent(ctx: JobContext) -> str:
    raise PermanentJobError("the input can never work")


@job_kind("test_progress")
def progress(ctx: JobContext) -> str:
    total = ctx.params.get("items", 10)
    for done in range(1, total + 1):
        ctx.check_cancelled()
        time.sleep(ctx.params.get("sleep", 0))
        ctx.report(done, total, f"{done} of {total}")
    return f"{total} items"


@job_kind("test_context")
def echo_context(ctx: JobContext) -> str:
    return f"{ctx.shop}|{ctx.kind}|{ctx.params}|{ctx.payload}|{ctx.topic}|{ctx.attempt}|{ctx.job_id}"


@job_kind("test_slow_order")
def slow_order(ctx: JobContext) -> str:
    """Waits params["seconds"] (a worker may be killed meanwhile), then applies its effect once per success."""
    deadline = time.monotonic() + ctx.params.get("seconds", 1.0)
    while time.monotonic() < deadline:
        time.sleep(0.05)
    order_id = ctx.params["order_id"]
    order = ctx.session.scalars(select(Order).where(Order.shop_domain == ctx.shop,
                                                    Order.order_id == order_id)).first()
    if order is None:
        order = Order(shop_domain=ctx.shop, order_id=order_id, applied_count=0)
        ctx.session.add(order)
    order.applied_count = (order.applied_count or 0) + 1
    return f"applied by {ctx.worker_id}"


@job_kind("test_lose_claim")
def lose_claim(ctx: JobContext) -> str:
    """Applies an effect, then another worker takes the job over before this one finishes."""
    ctx.session.add(Order(shop_domain=ctx.shop, order_id=ctx.params.get("order_id", 1), applied_count=1))
    with get_db(ctx.app).engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == ctx.job_id).values(claimed_by="another-worker"))
    return "should not be recorded"


@job_kind("test_block_on_read", timeout=1)
def block_on_read(ctx: JobContext) -> str:
    """Blocks in a network read that never returns (a real mistake in app code: no timeout)."""
    import socket

    with socket.create_connection(("127.0.0.1", ctx.params["port"])) as conn:
        conn.recv(1)  # the server accepts and never sends
    return "read something"


@job_kind("test_spin", timeout=1)
def spin(ctx: JobContext) -> str:
    """Spins on the CPU forever."""
    n = 0
    while True:
        n += 1


@job_kind("test_swallow_timeouts", timeout=1)
def swallow_timeouts(ctx: JobContext) -> str:
    """Catches everything, the time limit's exception included, for params["seconds"] (a handler gone wrong)."""
    deadline = time.monotonic() + ctx.params.get("seconds", 30)
    while time.monotonic() < deadline:
        with contextlib.suppress(BaseException):  # deliberately wrong code
            time.sleep(0.05)
    return "outlived its limit"


@job_kind("test_conflicting_insert")
def conflicting_insert(ctx: JobContext) -> str:
    """Adds an order that already exists: the database refuses it at the commit, after the handler returned."""
    ctx.session.add(Order(shop_domain=ctx.shop, order_id=ctx.params["order_id"], name="dup", applied_count=1))
    return "should not be recorded"


@job_kind("test_cancelled_then_fails")
def cancelled_then_fails(ctx: JobContext) -> str:
    """The merchant cancels while it runs (as if from the page), then the handler fails."""
    with get_db(ctx.app).engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == ctx.job_id).values(cancel_requested=True))
    raise RuntimeError("failed after the merchant cancelled")
