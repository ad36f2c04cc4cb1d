"""shopify.app.toml and shopify.web.toml parse and agree with the code."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from shopapp.webhooks.registry import HANDLER_MODULES, registered_topics

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def app_toml() -> dict:
    return tomllib.loads((ROOT / "shopify.app.toml").read_text())


@pytest.fixture(scope="module")
def web_toml() -> dict:
    return tomllib.loads((ROOT / "shopify.web.toml").read_text())


def _routes(app) -> set[str]:
    return {rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods}


def test_webhooks_path_of_the_web_toml_is_a_post_route(web_toml, app):
    assert web_toml["webhooks_path"] in _routes(app)


def test_every_subscription_uri_is_a_post_route(app_toml, app):
    uris = {sub["uri"] for sub in app_toml["webhooks"]["subscriptions"]}
    assert uris and uris <= _routes(app)


def test_every_subscribed_topic_has_a_handler(app_toml):
    topics = {t for sub in app_toml["webhooks"]["subscriptions"]
              for t in sub.get("topics", []) + sub.get("compliance_topics", [])}
    assert topics == set(registered_topics())


def test_each_subscription_is_labelled_with_the_module_that_handles_it(app_toml):
    text = (ROOT / "shopify.app.toml").read_text()
    blocks = re.split(r"\n(?=# handled by )", text)[1:]
    labelled = {}
    for block in blocks:
        path = re.match(r"# handled by (\S+)", block).group(1)
        topics = re.search(r"topics = \[([^\]]*)\]", block).group(1)
        for topic in re.findall(r'"([^"]+)"', topics):
            labelled[topic] = path
    handlers = registered_topics()
    assert set(labelled) == set(handlers)
    for topic, path in labelled.items():
        module = handlers[topic].__module__
        assert path == module.replace(".", "/") + ".py", topic
        assert module in HANDLER_MODULES and (ROOT / path).exists()


def test_api_version_matches_the_default_setting(app_toml):
    from shopapp.config import DEFAULT_API_VERSION

    assert app_toml["webhooks"]["api_version"] == DEFAULT_API_VERSION


def test_dev_command_needs_no_shell_expansion(web_toml):
    assert "$" not in web_toml["commands"]["dev"]
