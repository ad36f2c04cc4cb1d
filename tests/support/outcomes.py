"""What the fault tests count after the dust settles: every webhook has one job and one effect, every
page saw what it should; and sending webhooks in the background while a test breaks something."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from shopapp.features.orders.models import Order
from shopapp.models import Job, JobState, WebhookEvent
from shopapp.testing import wait_until
from tests.support.features import TEST_FEATURES
from tests.support.live_client import LiveClient
from tests.support.orders import count_rows
from tests.support.shopify_sender import SendReport, ShopifySender

# A stalled job is handed over quickly, so the tests need not wait JOB_STALL_SECONDS' production default.
FAST_RECOVERY = {"JOB_STALL_SECONDS": "1.5", "SWEEP_INTERVAL_SECONDS": "0.3", "FEATURES": TEST_FEATURES}


def job_states(db) -> dict:
    """{state: count} and the attempts and message of a few unfinished jobs (for a failure's message)."""
    with db.session() as session:
        states = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        stuck = session.execute(select(Job.id, Job.state, Job.attempts, Job.message, Job.published_version,
                                       Job.version).where(Job.state != JobState.SUCCEEDED.value).limit(5)).all()
    return {"states": states, "unfinished": [tuple(row) for row in stuck]}


def all_jobs_succeeded(db, expected: int) -> bool:
    return count_rows(db, Job, Job.state == JobState.SUCCEEDED.value) == expected


def assert_exactly_once(db, webhooks: list, extra_jobs: int = 0) -> None:
    """One WebhookEvent and one Job per webhook id, every job succeeded, every effect applied once."""
    ids = {hook.webhook_id for hook in webhooks}
    with db.session() as session:
        assert sorted(session.scalars(select(WebhookEvent.webhook_id)).all()) == sorted(ids)
        webhook_jobs = session.scalars(select(Job.webhook_id).where(Job.webhook_id.is_not(None))).all()
        assert sorted(webhook_jobs) == sorted(ids)  # exactly one job per webhook
        assert count_rows(db, Job) == len(ids) + extra_jobs
        assert session.scalars(select(Job.state).where(Job.state != JobState.SUCCEEDED.value)).all() == []
        counts = session.scalars(select(Order.applied_count)).all()
    assert len(counts) == len(ids) + extra_jobs and set(counts) == {1}


def assert_socket_saw_each_success_once(client: LiveClient, job_count: int) -> None:
    succeeded = client.count("succeeded")
    assert len(succeeded) == job_count, (client.name, len(succeeded))
    assert set(succeeded.values()) == {1}, (client.name, [j for j, n in succeeded.items() if n > 1])
    assert not client.gaps, (client.name, client.gaps)
    seqs = client.seqs()
    assert len(seqs) == len(set(seqs)), (client.name, "an event arrived twice")


def send_in_background(sender: ShopifySender, webhooks: list, rate: float | None = None):
    """Start sending; returns (thread, holder) where holder["report"] is set when every webhook is settled."""
    holder: dict = {}
    thread = threading.Thread(target=lambda: holder.update(report=sender.send_all(webhooks, rate=rate)))
    thread.start()
    return thread, holder


def finish_sending(thread: threading.Thread, holder: dict, timeout: float = 120.0) -> SendReport:
    thread.join(timeout)
    assert not thread.is_alive(), "the sender did not finish"
    return holder["report"]


def settle(db, sent: tuple[threading.Thread, dict], pages: list[LiveClient], jobs: int,
           timeout: float = 120.0) -> SendReport:
    """After a fault: every webhook of the background sender `sent` accepted, all `jobs` jobs succeeded, and
    every page's view (its last snapshot and the events since) showing only succeeded jobs. The report."""
    report = finish_sending(*sent, timeout=timeout)
    assert report.accepted == len(report.deliveries), (report.outcomes, [d.outcomes for d in report.failed()][:5])
    wait_until(lambda: all_jobs_succeeded(db, jobs), timeout=timeout, what="every job succeeded",
               explain=lambda: job_states(db))
    for page in pages:  # what the page shows ends up true: every job it lists has succeeded
        page.wait_for(lambda c: c.view() and set(c.view().values()) == {"succeeded"}, timeout=timeout)
    return report
