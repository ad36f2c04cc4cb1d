"""`python -m shopapp webhooks check`: shopify.app.toml against the handlers, the settings and Shopify's calendar."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from shopapp.app import load_registry
from shopapp.cli.app_toml import AppTomlError, read_app_toml
from shopapp.cli.toml_check import check_app_toml
from shopapp.config import DEFAULT_API_VERSION, Config, bundled_features
from shopapp.jobs import registry
from shopapp.shopify import api_versions
from shopapp.testing import API_KEY, API_SECRET, ENCRYPTION_KEY
from tests.support.checkout import ROOT

pytestmark = pytest.mark.nodb

TODAY = date(2026, 11, 30)
ENGINE = '''
[[webhooks.subscriptions]]
topics = ["app/uninstalled"]
uri = "/webhooks"

[[webhooks.subscriptions]]
compliance_topics = ["customers/data_request", "customers/redact", "shop/redact"]
uri = "/webhooks"
'''
PRODUCTS = '''
[[webhooks.subscriptions]]
topics = ["products/create", "products/update", "products/delete"]
uri = "/webhooks"
'''


def orders(uri: str = "/webhooks", **fields) -> str:
    lines = [f"{name} = {json.dumps(value)}" for name, value in dict(uri=uri, **fields).items()]
    return '\n[[webhooks.subscriptions]]\ntopics = ["orders/create", "orders/updated"]\n' + "\n".join(lines) + "\n"


def app_toml(tmp_path, *subscriptions: str, api_version: str = DEFAULT_API_VERSION, uri: str = "/webhooks"):
    subscriptions = subscriptions or (ENGINE, PRODUCTS, orders(uri=uri))
    text = f'[webhooks]\napi_version = "{api_version}"\n' + "".join(subscriptions)
    path = tmp_path / "shopify.app.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def handlers():
    load_registry(Config(FEATURES=bundled_features()))
    return registry.topics()


def check(path, handlers, setting: str = DEFAULT_API_VERSION, today: date = TODAY):
    return check_app_toml(read_app_toml(path), handlers, setting, today, "/webhooks")


def run_check(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
           "SHOPAPP_ENCRYPTION_KEY": ENCRYPTION_KEY, "SHOPAPP_INSTANCE_DIR": str(tmp_path / "instance")}
    return subprocess.run([sys.executable, "-m", "shopapp", "webhooks", "check", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_project_file_agrees_with_the_code(tmp_path):
    result = run_check("--today", "2026-11-30", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "orders/updated" in result.stdout and "shopapp.features.orders.handlers.apply_order" in result.stdout
    assert "webhooks check: OK" in result.stdout


def test_a_well_formed_file_has_no_errors(tmp_path, handlers):
    report = check(app_toml(tmp_path), handlers)
    assert (report.errors, report.warnings) == ([], [])


def test_a_handled_topic_without_a_subscription_is_an_error_naming_it(tmp_path, handlers):
    report = check(app_toml(tmp_path, ENGINE, orders()), handlers)
    assert sorted(e.split(":")[0] for e in report.errors) == ["products/create", "products/delete", "products/update"]
    assert "shopapp.features.products.handlers.apply_product" in report.errors[0]


def test_a_compliance_topic_missing_from_compliance_topics_is_an_error(tmp_path, handlers):
    engine = ENGINE.replace('"customers/data_request", ', "")
    report = check(app_toml(tmp_path, engine, PRODUCTS, orders()), handlers)
    assert [e.split(":")[0] for e in report.errors] == ["customers/data_request"]


def test_a_compliance_topic_under_topics_is_an_error(tmp_path, handlers):
    misplaced = '\n[[webhooks.subscriptions]]\ntopics = ["shop/redact"]\nuri = "/webhooks"\n'
    report = check(app_toml(tmp_path, ENGINE, PRODUCTS, orders(), misplaced), handlers)
    assert len(report.errors) == 1 and report.errors[0].startswith("shop/redact: a compliance topic belongs")


def test_include_fields_without_the_field_the_stale_guard_orders_by_is_an_error(tmp_path, handlers):
    subscription = orders(include_fields=["id", "name", "total_price"])
    report = check(app_toml(tmp_path, ENGINE, PRODUCTS, subscription), handlers)
    assert sorted(e.split(":")[0] for e in report.errors) == ["orders/create", "orders/updated"]
    assert "omits 'updated_at'" in report.errors[0]


def test_include_fields_with_the_ordering_field_is_fine(tmp_path, handlers):
    subscription = orders(include_fields=["id", "updated_at", "total_price"])
    assert check(app_toml(tmp_path, ENGINE, PRODUCTS, subscription), handlers).errors == []


def test_an_api_version_other_than_the_setting_is_an_error(tmp_path, handlers):
    report = check(app_toml(tmp_path, api_version="2026-07"), handlers)
    assert report.errors == ["[webhooks] api_version 2026-07 differs from SHOPIFY_API_VERSION 2026-10: webhooks "
                             "would arrive in another format than the code reads"]


def test_an_api_version_past_shopifys_support_window_is_an_error(tmp_path, handlers):
    report = check(app_toml(tmp_path, api_version="2025-10"), handlers, setting="2025-10")
    assert len(report.errors) == 1
    assert "2025-10 left Shopify's 12-month support on 2026-10-01" in report.errors[0]
    assert report.errors[0].endswith("move it and SHOPIFY_API_VERSION to 2026-10")


def test_the_oldest_supported_version_passes(tmp_path, handlers):
    assert check(app_toml(tmp_path, api_version="2026-01"), handlers, setting="2026-01").errors == []


@pytest.mark.parametrize("version", ["2026-05", "unstable", "26-10"])
def test_an_api_version_that_is_no_shopify_release_is_an_error(tmp_path, handlers, version):
    report = check(app_toml(tmp_path, api_version=version), handlers, setting=version)
    assert report.errors == [f"[webhooks] api_version: {version!r} is not a Shopify API version "
                             "(YYYY-01, YYYY-04, YYYY-07 or YYYY-10)"]


def test_the_support_window_follows_the_quarterly_calendar():
    assert api_versions.supported_versions(TODAY) == ["2026-01", "2026-04", "2026-07", "2026-10"]
    assert api_versions.current_stable(TODAY) == "2026-10"
    assert api_versions.is_supported("2026-10", date(2027, 9, 30))
    assert not api_versions.is_supported("2026-10", date(2027, 10, 1))
    assert not api_versions.is_supported("2027-01", TODAY)  # not released yet


@pytest.mark.parametrize("uri", ["/webhooks", "https://my-app.example.com/webhooks",
                                 "https://tunnel-abc.trycloudflare.com/webhooks?source=shopify"])
def test_a_uri_at_the_webhook_path_is_fine(tmp_path, handlers, uri):
    assert check(app_toml(tmp_path, uri=uri), handlers).errors == []


@pytest.mark.parametrize("uri, problem", [
    ("/hooks", "is another path"),
    ("https://my-app.example.com/webhooks/", "has the path '/webhooks/'"),
    ("http://my-app.example.com/webhooks", "is not https"),
    ("pubsub://my-project:shopify-topic", "is a Google Pub/Sub destination"),
    ("arn:aws:events:us-east-1::event-source/aws.partner/shopify.com/1/app", "is an Amazon EventBridge destination"),
])
def test_a_uri_elsewhere_is_an_error_naming_its_topics(tmp_path, handlers, uri, problem):
    report = check(app_toml(tmp_path, uri=uri), handlers)
    assert len(report.errors) == 1
    assert report.errors[0].startswith(f"orders/create, orders/updated: uri {uri!r} {problem}")


def test_a_subscribed_topic_without_a_handler_is_a_warning(tmp_path, handlers):
    paid = '\n[[webhooks.subscriptions]]\ntopics = ["orders/paid"]\nuri = "/webhooks"\nfilter = "total_price:>100"\n'
    report = check(app_toml(tmp_path, ENGINE, PRODUCTS, orders(), paid), handlers)
    assert report.errors == []
    assert report.warnings == ['orders/paid: subscribed but no handler (its deliveries are recorded and their jobs '
                               'succeed with "no handler")']
    assert [(r.handler, r.filter) for r in report.rows if r.topic == "orders/paid"] == [("no handler",
                                                                                       "total_price:>100")]


def test_drift_exits_1_and_names_each_topic(tmp_path):
    path = app_toml(tmp_path, ENGINE, orders())
    result = run_check("--config", str(path), "--today", "2026-11-30", tmp_path=tmp_path)
    assert result.returncode == 1
    assert [line.split(":")[1].strip() for line in result.stderr.splitlines()] == [
        "products/create", "products/delete", "products/update"]


HEAD = '[webhooks]\napi_version = "2026-10"\n[[webhooks.subscriptions]]\n'


@pytest.mark.parametrize("text, message", [
    ('[webhooks\napi_version = "2026-10"', "shopify.app.toml is not valid TOML: "),
    ('client_id = "x"\n', "shopify.app.toml has no [webhooks] table"),
    ('[webhooks]\n[[webhooks.subscriptions]]\ntopics = ["orders/create"]\nuri = "/webhooks"\n',
     "shopify.app.toml: [webhooks] has no api_version"),
    (HEAD + 'topics = ["orders/create"]\n',
     "shopify.app.toml: subscription 1 (orders/create) has no uri"),
    (HEAD + 'uri = "/webhooks"\n',
     "shopify.app.toml: subscription 1 has no topics"),
    (HEAD + 'topics = []\nuri = "/webhooks"\n',
     "shopify.app.toml: subscription 1 has no topics"),
    (HEAD + 'topics = ["ORDERS_CREATE"]\nuri = "/webhooks"\n',
     "shopify.app.toml: subscription 1: 'ORDERS_CREATE' is not a topic name: use the resource/event form"),
    (HEAD + 'topics = ["orders/shipped"]\nuri = "/webhooks"\n',
     "shopify.app.toml: subscription 1: 'orders/shipped' is not a Shopify webhook topic in API version 2026-10"),
    ('[webhooks]\napi_version = "2026-10"\nsubscriptions = "orders/create"\n',
     "shopify.app.toml: webhooks.subscriptions must be [[webhooks.subscriptions]] tables"),
])
def test_a_malformed_file_gets_one_line_and_exit_2(tmp_path, text, message):
    path = tmp_path / "shopify.app.toml"
    path.write_text(text)
    result = run_check("--config", str(path), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"shopapp webhooks check: {message}")


def test_a_missing_file_gets_one_line_and_exit_2(tmp_path):
    result = run_check("--config", str(tmp_path / "nowhere.toml"), tmp_path=tmp_path)
    assert (result.returncode, result.stderr) == (2, f"shopapp webhooks check: no nowhere.toml at "
                                                     f"{tmp_path / 'nowhere.toml'}\n")


def test_read_app_toml_names_a_bad_filter(tmp_path):
    path = app_toml(tmp_path, ENGINE, orders(filter=3))
    with pytest.raises(AppTomlError, match="subscription 3: filter must be a string"):
        read_app_toml(path)


def test_every_sample_carries_the_field_its_handler_orders_by(handlers):
    for topic, registration in handlers.items():
        if registration.ordered_by:
            payload = json.loads(registry.sample_path(topic).read_text())
            assert payload.get(registration.ordered_by), f"{topic}'s sample has no {registration.ordered_by}"
