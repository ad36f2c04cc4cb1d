"""Behind PgBouncer, as most managed PostgreSQL offerings hand out connections, with nothing set for it.

A real PgBouncer (Debian's) between every process and PostgreSQL. In transaction mode a server connection
serves one transaction and then another client: psycopg's server-side prepared statements (made on a
statement's fifth use) broke jobs with "prepared statement "_pg3_0" does not exist" until the engine
turned them off (shopapp.db.make_engine). Session mode pins one server connection per client connection.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from shopapp.models import Job, JobState
from tests.support.live_client import LiveClient
from tests.support.orders import order_webhooks
from tests.support.pgbouncer import PgBouncer, pgbouncer_binary
from tests.support.shopify_sender import ShopifySender

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WEBHOOKS = 120  # every statement of ingestion and of the runner runs well past psycopg's 5 uses per connection


@pytest.fixture(params=["transaction", "session"])
def pgbouncer(request, db):
    url = make_url(db.url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): PgBouncer pools PostgreSQL connections")
    if pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed (`make test` installs Debian's package where it can, as root)")
    # Session mode holds a server connection per client connection: the pool must cover every process's
    # SQLAlchemy pool (README, Deploying), or the excess clients wait.
    bouncer = PgBouncer(url.host or "127.0.0.1", url.port or 5432, pool_mode=request.param,
                        pool_size=20 if request.param == "transaction" else 200).start()
    yield bouncer
    bouncer.stop()


def test_webhooks_become_jobs_and_reach_the_page_through_pgbouncer(pgbouncer, web_server, worker_process, db,
                                                                   app_env, session_token):
    env = {"DATABASE_URL": pgbouncer.url_for(db.url)}
    web = web_server(workers=2, env=env)
    worker = worker_process(env=dict(env, WORKER_PROCESSES="2"))
    page = LiveClient([web.ws_url], session_token(expires_in=600), reconnect=False, name="page").start()
    try:
        webhooks = order_webhooks(app_env["SHOPIFY_API_SECRET"], WEBHOOKS)
        report = ShopifySender([web.url + "/webhooks"], concurrency=8).send_all(webhooks)
        page.wait_for(lambda c: len(c.count("succeeded")) == WEBHOOKS, timeout=120)
    finally:
        page.close()

    assert report.accepted == WEBHOOKS and set(report.outcomes) == {200}, report.outcomes  # never a 503
    with db.session() as session:
        states = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        attempts = session.scalar(select(func.max(Job.attempts)))
    assert states == {JobState.SUCCEEDED.value: WEBHOOKS}
    assert attempts == 1  # no job failed an attempt on a statement PgBouncer could not run
    assert set(page.count("succeeded").values()) == {1} and not page.gaps
    # Every process went through PgBouncer, not around it.
    assert pgbouncer.stats(make_url(db.url).database)["total_xact_count"] >= 2 * WEBHOOKS
    assert "prepared statement" not in web.output() + worker.output() + pgbouncer.log()
