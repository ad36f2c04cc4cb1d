"""Features apart from the engine: loaded from FEATURES, registered in one registry, redacting what they keep."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect

import shopapp
from shopapp.jobs import registry
from shopapp.models import Base, ComplianceRequest, Job, Shop, WebhookEvent
from shopapp.testing import sample_payload
from shopapp.webhooks.privacy import redactions

# Rows the engine itself erases on the compliance topics (shopapp/webhooks/compliance.py).
ENGINE_OWNED = {Shop, WebhookEvent, Job, ComplianceRequest}


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made by a test vanish after it (the registry is per process)."""
    monkeypatch.setattr(registry, "_TOPICS", dict(registry._TOPICS))
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))


def test_the_public_api_is_importable_from_the_package_top():
    from shopapp import (  # noqa: F401
        Customer,
        JobCancelledError,
        JobContext,
        PermanentJobError,
        Redaction,
        job_kind,
        redaction,
        webhook_handler,
    )

    assert shopapp.webhook_handler is registry.webhook_handler and shopapp.job_kind is registry.job_kind


def test_every_model_holding_shop_data_has_a_redaction(app):
    covered = {model for hook in redactions() for model in hook.models}
    holding_shop_data = {mapper.class_ for mapper in Base.registry.mappers
                         if {"shop_domain", "domain"} & {c.key for c in inspect(mapper.class_).columns}}
    missing = holding_shop_data - covered - ENGINE_OWNED
    assert not missing, f"no @redaction covers {sorted(m.__name__ for m in missing)}: a model with shop data " \
                        "must be erased on shop/redact (and customers/redact if it holds customer data)"


def test_bundled_features_register_their_topics_and_kinds(app):
    assert {"orders/create", "orders/updated", "products/create", "products/update",
            "products/delete"} <= set(registry.topics())
    assert registry.topic("orders/create").module == "shopapp.features.orders.handlers"
    assert registry.topic("orders/create").ordered_by == "updated_at"
    assert registry.topic("products/delete").ordered_by is None
    assert "sync_products" in registry.merchant_kinds() and "webhook" not in registry.merchant_kinds()


def test_a_topic_has_one_handler(scratch_registry):
    @registry.webhook_handler("test/one-handler")
    def first(ctx):
        return "first"

    with pytest.raises(ValueError, match="already handled by"):
        @registry.webhook_handler("test/one-handler")
        def second(ctx):
            return "second"


@pytest.mark.parametrize("timeout", [0, -1])
def test_a_kind_time_limit_must_be_positive(timeout, scratch_registry):
    with pytest.raises(ValueError, match="positive number of seconds"):
        registry.job_kind("test_bad_limit", timeout=timeout)


def test_a_missing_sample_payload_says_where_it_belongs(app, scratch_registry):
    @registry.webhook_handler("test/no-sample")
    def handler(ctx):
        return None

    with pytest.raises(LookupError, match=r"has no sample payload: add .*samples/test_no-sample\.json"):
        sample_payload("test/no-sample")
    with pytest.raises(LookupError, match="no handler is registered"):
        sample_payload("nobody/handles-this")


def test_an_unknown_feature_is_named(app_env, db, redis):
    from shopapp import create_app
    from shopapp.config import Config

    with pytest.raises(ImportError, match="feature 'shopapp.features.nope'"):
        create_app(Config.from_env(dict(app_env, FEATURES="nope")))


def test_a_malformed_features_setting_is_one_line():
    from shopapp.config import Config, ConfigError

    with pytest.raises(ConfigError, match="FEATURES holds 'my-feature'"):
        Config.from_env({"SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "FEATURES": "orders,my-feature"})


def test_run_handler_applies_a_topic_with_a_real_session(run_handler, db):
    from sqlalchemy import select

    from shopapp.features.orders.models import Order

    result = run_handler("orders/create", sample_payload("orders/create"))
    assert not result.ignored and result.message.startswith("order #")
    with db.session() as s:
        assert s.scalars(select(Order.order_id)).all() == [sample_payload("orders/create")["id"]]
