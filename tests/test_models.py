"""The data model: constraints that other parts rely on, encryption at rest, typed states."""
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shopapp import crypto
from shopapp.models import Job, JobState, Shop, WebhookEvent, utcnow


def test_job_state_is_a_str_enum_with_the_contract_values():
    assert [s.value for s in JobState] == ["queued", "running", "retrying", "succeeded", "failed"]
    assert JobState("running") == "running"
    assert JobState.SUCCEEDED.is_final and not JobState.RETRYING.is_final


def test_webhook_id_is_unique(db):
    with db.session() as s:
        s.add(WebhookEvent(webhook_id="w1", topic="orders/create", shop_domain="a.myshopify.com",
                           api_version="2025-10", payload={}))
        s.commit()
        s.add(WebhookEvent(webhook_id="w1", topic="orders/create", shop_domain="a.myshopify.com",
                           api_version="2025-10", payload={}))
        with pytest.raises(IntegrityError):
            s.commit()


def test_shop_domain_is_unique(db):
    with db.session() as s:
        s.add(Shop(domain="a.myshopify.com"))
        s.commit()
        s.add(Shop(domain="a.myshopify.com"))
        with pytest.raises(IntegrityError):
            s.commit()


def test_access_tokens_are_encrypted_at_rest(app, db):
    with db.session() as s:
        s.add(Shop(domain="a.myshopify.com", access_token="shpat_secret", refresh_token="shprt_secret",
                   access_token_expires_at=utcnow() + timedelta(hours=1)))
        s.commit()
        raw = s.execute(text("SELECT access_token, refresh_token FROM shops")).one()
        assert "shpat_secret" not in raw[0] and "shprt_secret" not in raw[1]
        assert crypto.decrypt(raw[0]) == "shpat_secret"
        shop = s.query(Shop).one()
        s.expire_all()
        assert shop.access_token == "shpat_secret"
        assert shop.access_token_expires_at.tzinfo is not None


def test_job_serializes_to_the_contract_shape(db):
    with db.session() as s:
        job = Job(shop_domain="a.myshopify.com", kind="webhook", topic="orders/create", webhook_id="w1")
        s.add(job)
        s.commit()
        data = job.to_dict()
    assert set(data) == {"id", "kind", "topic", "webhook_id", "state", "progress", "message", "attempts",
                         "error", "created_at", "updated_at"}
    assert data["state"] == "queued" and data["created_at"].endswith("Z")
