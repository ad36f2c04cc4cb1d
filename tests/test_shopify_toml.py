"""shopify.app.toml and shopify.web.toml parse and agree with the code."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from shopapp.jobs import registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def app_toml() -> dict:
    return tomllib.loads((ROOT / "shopify.app.toml").read_text())


@pytest.fixture(scope="module")
def web_toml() -> dict:
    return tomllib.loads((ROOT / "shopify.web.toml").read_text())


def _receives_webhooks(client, path: str) -> bool:
    # An unsigned POST reaches the webhook endpoint (401 missing_hmac), not a 404 or another view.
    response = client.post(path, data=b"{}")
    return response.status_code == 401 and response.get_json()["result"] == "missing_hmac"


def test_webhooks_path_of_the_web_toml_is_the_webhook_endpoint(web_toml, client):
    assert _receives_webhooks(client, web_toml["webhooks_path"])


def test_every_subscription_uri_is_the_webhook_endpoint(app_toml, client):
    uris = {sub["uri"] for sub in app_toml["webhooks"]["subscriptions"]}
    assert uris and all(_receives_webhooks(client, uri) for uri in uris)


def test_every_subscribed_topic_has_a_handler(app_toml, app):
    topics = {t for sub in app_toml["webhooks"]["subscriptions"]
              for t in sub.get("topics", []) + sub.get("compliance_topics", [])}
    assert topics == set(registry.topics())


def test_each_subscription_is_labelled_with_the_module_that_handles_it(app_toml, app):
    text = (ROOT / "shopify.app.toml").read_text()
    blocks = re.split(r"\n(?=# handled by )", text)[1:]
    labelled = {}
    for block in blocks:
        path = re.match(r"# handled by (\S+)", block).group(1)
        topics = re.search(r"topics = \[([^\]]*)\]", block).group(1)
        for topic in re.findall(r'"([^"]+)"', topics):
            labelled[topic] = path
    handlers = registry.topics()
    assert set(labelled) == set(handlers)
    for topic, path in labelled.items():
        assert path == handlers[topic].module.replace(".", "/") + ".py", topic
        assert (ROOT / path).exists()


def test_api_version_matches_the_default_setting(app_toml):
    from shopapp.config import DEFAULT_API_VERSION

    assert app_toml["webhooks"]["api_version"] == DEFAULT_API_VERSION


def test_dev_command_needs_no_shell_expansion(web_toml):
    assert "$" not in web_toml["commands"]["dev"]
