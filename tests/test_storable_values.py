"""Values a database refuses: text from Shopify is made storable in one place (the column types), on SQLite
and PostgreSQL alike, and an error raised while a job's result is committed fails that attempt at once."""
from __future__ import annotations

import json

from sqlalchemy import String, Text, select

from shopapp.features.orders.models import Order
from shopapp.jobs import queue as jobs_queue
from shopapp.models import Base, EncryptedText, Job, StorableString, StorableText, WebhookEvent
from shopapp.testing import SHOP, sample_payload


def test_every_text_column_is_made_storable(app):
    plain = [f"{table.name}.{column.name}" for table in Base.metadata.tables.values() for column in table.columns
             if isinstance(column.type, (String, Text))
             and not isinstance(column.type, (StorableString, StorableText, EncryptedText))]
    assert not plain, f"text columns without a storable type (shopapp.models.StorableString/StorableText): {plain}"


def test_an_order_name_with_a_nul_character_is_recorded_without_it(client, signed_webhook, db, rq_worker):
    # Seen in real Shopify data pasted from other systems: PostgreSQL refuses NUL in text.
    payload = dict(sample_payload("orders/create"), name="#1001\u0000", note="a\u0000b")
    assert signed_webhook("orders/create", payload=payload).post(client).status_code == 200
    rq_worker()
    with db.session() as s:
        job = s.scalars(select(Job)).one()
        order = s.scalars(select(Order)).one()
        event = s.scalars(select(WebhookEvent)).one()
    assert job.state == "succeeded" and order.name == "#1001"
    assert event.payload["name"] == "#1001\u0000"  # the stored payload keeps what Shopify sent


def test_a_lone_surrogate_reaching_a_column_is_stored_as_a_replacement(run_handler, db):
    payload = dict(sample_payload("orders/create"), name="#1002 \ud83d")
    run_handler("orders/create", payload)
    with db.session() as s:
        name = s.scalars(select(Order.name)).one()
    assert name.startswith("#1002 ") and "\ufffd" in name and "\ud83d" not in name


def test_a_result_the_database_refuses_at_the_commit_fails_the_attempt_with_the_real_error(app, db, rq_worker):
    with db.session() as s:
        s.add(Order(shop_domain=SHOP, order_id=77, name="Alice's order #1001", applied_count=1))
        s.commit()
    job_id = jobs_queue.start_merchant_job(app, SHOP, "test_conflicting_insert", {"order_id": 77})["id"]
    rq_worker()
    with db.session() as s:
        job = s.get(Job, job_id)
    assert (job.state, job.attempts, job.claimed_by) == ("retrying", 1, None)  # never left "running"
    assert "IntegrityError" in job.error or "UniqueViolation" in job.error
    assert "Alice" not in job.error and "SELECT" not in job.error and "INSERT" not in job.error
    assert "stopped responding" not in json.dumps(job.to_dict())
