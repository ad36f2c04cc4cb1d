"""GET / (the embedded page) and the bounce page: verification, bounce, redirect into the admin, CSP."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from shopapp.testing import SHOP as DEFAULT_SHOP
from tests.support.csp import policy_of
from tests.support.pages import page

OTHER_SHOP = "other-shop.myshopify.com"


@pytest.fixture
def make_client():
    """make_client(config) -> a test client of an app of its own, disposed after the test."""
    from shopapp import create_app
    from shopapp.testing.plugin import dispose_app

    apps = []

    def make(config):
        apps.append(create_app(config.with_overrides(TESTING=True)))
        return apps[-1].test_client()
    yield make
    for application in apps:
        dispose_app(application)


def test_page_renders_with_the_api_key_meta_tag_and_app_bridge_from_shopifys_cdn(client, session_token, config):
    response = page(client, session_token())
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<meta name="shopify-api-key" content="{config.SHOPIFY_API_KEY}">' in html
    assert '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>' in html
    assert "https://cdn.shopify.com/shopifycloud/polaris.js" in html
    assert "/dev/app-bridge.js" not in html


def test_app_bridge_is_the_first_script_of_the_page(client, session_token):
    html = page(client, session_token()).get_data(as_text=True)
    assert html.index("<script") == html.index('<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"')


def test_page_may_be_framed_only_by_the_tokens_shop_and_the_admin(client, session_token):
    response = page(client, session_token(shop=OTHER_SHOP), shop=OTHER_SHOP)
    assert response.status_code == 200
    assert policy_of(response)["frame-ancestors"] == [f"https://{OTHER_SHOP}", "https://admin.shopify.com"]


def test_page_shows_the_shop_of_the_token_not_of_the_shop_parameter(client, session_token):
    response = page(client, session_token(shop=OTHER_SHOP), shop=DEFAULT_SHOP)
    html = response.get_data(as_text=True)
    assert f'data-shop="{OTHER_SHOP}"' in html
    assert f"https://{OTHER_SHOP} " in response.headers["Content-Security-Policy"]
    assert DEFAULT_SHOP not in response.headers["Content-Security-Policy"]


def test_page_is_not_cached(client, session_token):
    assert page(client, session_token()).headers["Cache-Control"] == "no-store"


def test_document_request_without_id_token_bounces_to_the_patch_page(client):
    response = page(client, None, host="YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvdGVzdA")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/patch-id-token"
    query = parse_qs(location.query)
    assert query["shop"] == [DEFAULT_SHOP]
    reload = urlsplit(query["shopify-reload"][0])
    assert reload.path == "/"
    assert parse_qs(reload.query)["embedded"] == ["1"]


@pytest.mark.parametrize("case", ["expired", "forged", "garbage", "no_exp"])
def test_document_request_with_an_invalid_id_token_bounces(client, session_token, case):
    token = {
        "expired": lambda: session_token(expires_in=-120),
        "forged": lambda: session_token(secret="not-the-app-secret-but-long-enough"),
        "garbage": lambda: "not.a.jwt",
        "no_exp": lambda: session_token(exp=None),
    }[case]()
    response = page(client, token)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/patch-id-token"
    assert "id_token" not in parse_qs(parse_qs(location.query)["shopify-reload"][0])


def test_token_for_another_app_is_refused_without_a_bounce(client, session_token):
    # App Bridge would hand over a token for the same other app again: shopify_app answers 401 at once.
    response = page(client, session_token(api_key="another-app"))
    assert response.status_code == 401
    assert "Location" not in response.headers
    assert "data-shop" not in response.get_data(as_text=True)


def test_token_whose_dest_is_not_a_shopify_shop_is_bounced(client, session_token):
    token = session_token(iss="https://evil.example/admin", dest="https://evil.example")
    assert page(client, token).status_code == 302


def test_bounce_location_is_relative_so_it_keeps_the_host_the_browser_used(client):
    response = client.get("/?embedded=1&shop=test-shop.myshopify.com", base_url="https://tunnel.example")
    assert response.headers["Location"].startswith("/patch-id-token?")


def test_opened_outside_the_admin_redirects_into_the_shops_admin(client, session_token, config):
    response = page(client, session_token(), embedded=False)
    assert response.status_code == 302
    assert response.headers["Location"] == f"https://{DEFAULT_SHOP}/admin/apps/{config.SHOPIFY_API_KEY}"


@pytest.mark.parametrize("shop", ["", "evil.example", "x.myshopify.com.evil.example",
                                  "shop.myshopify.com\r\nSet-Cookie: a=b", "a b.myshopify.com"])
def test_opened_outside_the_admin_without_a_valid_shop_says_to_open_it_from_the_admin(client, shop):
    response = client.get("/", query_string={"shop": shop} if shop else {})
    assert response.status_code == 400
    assert "Open shopapp from your Shopify admin" in response.get_data(as_text=True)
    assert policy_of(response)["frame-ancestors"] == ["'none'"]


def test_bounce_page_loads_app_bridge_for_the_validated_shop(client, config):
    response = client.get("/patch-id-token", query_string={"shop": DEFAULT_SHOP, "embedded": "1",
                                                             "shopify-reload": "/?embedded=1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert f'data-api-key="{config.SHOPIFY_API_KEY}"' in html
    assert 'src="https://cdn.shopify.com/shopifycloud/app-bridge.js"' in html
    assert policy_of(response)["frame-ancestors"] == [f"https://{DEFAULT_SHOP}", "https://admin.shopify.com"]


@pytest.mark.parametrize("query", [
    {"shopify-reload": "/"},                                               # no shop
    {"shop": "evil.example", "shopify-reload": "/"},                       # not a shop
    {"shop": DEFAULT_SHOP},                                                # nothing to reload
    {"shop": DEFAULT_SHOP, "shopify-reload": "https://evil.example/"},     # another origin
    {"shop": DEFAULT_SHOP, "shopify-reload": "//evil.example/"},
    {"shop": DEFAULT_SHOP, "shopify-reload": "/\\evil.example/"},
])
def test_bounce_page_refuses_a_bad_shop_or_reload_target(client, query):
    response = client.get("/patch-id-token", query_string=query)
    assert response.status_code == 400
    assert policy_of(response)["frame-ancestors"] == ["'none'"]


def test_token_signed_with_the_previous_secret_is_accepted_during_a_rotation(app_env, db, redis, session_token,
                                                                            make_client):
    from shopapp.config import Config

    client = make_client(Config.from_env(dict(app_env, SHOPIFY_API_SECRET="the-new-secret-0123456789abcdef-xyz",
                                              SHOPIFY_API_SECRET_PREVIOUS=app_env["SHOPIFY_API_SECRET"])))
    assert page(client, session_token()).status_code == 200


def test_other_html_pages_keep_frame_ancestors_none(client):
    response = client.get("/patch-id-token")
    assert policy_of(response)["frame-ancestors"] == ["'none'"]


def test_first_open_of_the_app_exchanges_the_session_token_for_an_offline_token(app_env, db, redis, fake_shopify,
                                                                               session_token, make_client):
    from shopapp.config import Config
    from tests.support.shop_tokens import stored

    client = make_client(Config.from_env(dict(app_env, SHOPIFY_ADMIN_ORIGIN=fake_shopify.url)))
    assert page(client, session_token()).status_code == 200
    assert stored(db, DEFAULT_SHOP) is not None
    assert page(client, session_token()).status_code == 200
    assert fake_shopify.count("token_exchange") == 1  # the second open finds the token


def test_page_still_opens_when_shopify_cannot_be_reached_for_the_token_exchange(client, session_token, caplog):
    # The test settings point SHOPIFY_ADMIN_ORIGIN at a closed port.
    token = session_token()
    response = page(client, token)
    assert response.status_code == 200
    assert "token exchange on page load failed" in caplog.text
    assert token not in caplog.text
