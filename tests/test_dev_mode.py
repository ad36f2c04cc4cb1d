"""Dev mode: the local App Bridge stand-in and its session tokens exist only when SHOPAPP_DEV is on."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from shopapp import create_app
from shopapp.config import DEV_SHOP, Config
from shopapp.shopify.session_token import verify_session_token
from shopapp.testing.plugin import dispose_app

DEV_ROUTES = ["/dev/app-bridge.js", "/dev/session-token", "/dev/", "/dev/anything"]


@pytest.fixture
def dev_config(app_env, db, redis) -> Config:
    return Config.from_env(dict(app_env, SHOPAPP_DEV="1")).with_overrides(TESTING=True)


@pytest.fixture
def make_app():
    """make_app(config) -> an app of its own, disposed after the test (DB pool and Redis client)."""
    apps = []

    def make(config):
        apps.append(create_app(config))
        return apps[-1]
    yield make
    for application in apps:
        dispose_app(application)


@pytest.fixture
def dev_client(dev_config, make_app):
    return make_app(dev_config).test_client()


@pytest.mark.parametrize("path", DEV_ROUTES)
def test_dev_routes_answer_404_when_dev_mode_is_off(client, config, path):
    assert config.DEV_MODE is False
    assert client.get(path).status_code == 404


def test_dev_blueprint_refuses_even_if_registered_outside_dev_mode(config, make_app):
    from shopapp.admin import dev

    app = make_app(config)
    app.register_blueprint(dev.bp, name="dev_by_mistake")
    assert app.test_client().get("/dev/session-token").status_code == 404


def test_production_page_never_references_the_stand_in(client, session_token):
    html = client.get("/", query_string={"embedded": "1", "shop": "test-shop.myshopify.com",
                                         "id_token": session_token()}).get_data(as_text=True)
    assert "/dev/" not in html


def test_dev_session_token_is_a_valid_session_token_for_the_dev_shop(dev_client, dev_config):
    response = dev_client.get("/dev/session-token")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    identity = verify_session_token(body["token"], dev_config.SHOPIFY_API_KEY, dev_config.api_secrets)
    assert identity.shop == DEV_SHOP == body["shop"]


def test_dev_session_tokens_are_fresh_each_time(dev_client):
    first = dev_client.get("/dev/session-token").get_json()["token"]
    second = dev_client.get("/dev/session-token").get_json()["token"]
    assert first != second


def test_dev_session_token_opens_the_api_for_the_dev_shop_only(dev_client):
    token = dev_client.get("/dev/session-token").get_json()["token"]
    response = dev_client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_dev_app_bridge_stand_in_is_served_as_javascript(dev_client):
    response = dev_client.get("/dev/app-bridge.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "window.shopify" in response.get_data(as_text=True)


def test_dev_mode_opens_the_page_as_the_admin_would_for_the_dev_shop(dev_client):
    response = dev_client.get("/")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/"
    assert parse_qs(location.query) == {"embedded": ["1"], "shop": [DEV_SHOP]}


def test_dev_mode_bounce_page_uses_the_local_stand_in(dev_client):
    response = dev_client.get("/", query_string={"embedded": "1", "shop": DEV_SHOP})
    assert response.status_code == 302
    bounce = dev_client.get(response.headers["Location"])
    html = bounce.get_data(as_text=True)
    assert bounce.status_code == 200
    assert '<script src="/dev/app-bridge.js"></script>' in html
    assert "cdn.shopify.com" not in html
    assert "Link" not in bounce.headers


def test_dev_mode_page_loads_the_stand_in_and_nothing_from_the_cdn(dev_client):
    token = dev_client.get("/dev/session-token").get_json()["token"]
    response = dev_client.get("/", query_string={"embedded": "1", "shop": DEV_SHOP, "id_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<script src="/dev/app-bridge.js"></script>' in html
    assert "cdn.shopify.com" not in html
    assert "Link" not in response.headers
    assert f'data-shop="{DEV_SHOP}"' in html
    assert "python -m shopapp webhook trigger orders/create" in html
