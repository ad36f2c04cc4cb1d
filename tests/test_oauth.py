"""The authorization-code install flow: /auth redirects to Shopify with a signed, expiring state bound to the shop
and the browser (stored nowhere); /auth/callback checks HMAC, state, shop and browser, uses the state up, then
stores an expiring offline token."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest

from shopapp import redis_keys
from shopapp.shopify import oauth
from tests.support.fake_shopify import sign_query
from tests.support.shop_tokens import shop_row, stored

SHOP = "install-shop.myshopify.com"


@pytest.fixture
def app_env(app_env, fake_shopify):
    return dict(app_env, SHOPIFY_ADMIN_ORIGIN=fake_shopify.url)


def begin(client, shop: str = SHOP) -> str:
    """Start the flow; returns the state nonce from Shopify's authorize URL."""
    response = client.get(f"/auth?shop={shop}")
    assert response.status_code == 302
    return parse_qs(urlparse(response.headers["Location"]).query)["state"][0]


def present_state(client, state: str) -> None:
    """Give this browser the state cookie, as /auth would have."""
    client.set_cookie(oauth.STATE_COOKIE, state, path="/auth")


def callback_query(config, fake, state: str, shop: str = SHOP, secret: str | None = None, **overrides) -> dict:
    params = {"code": fake.issue_code(shop), "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvaW5zdGFsbC1zaG9w",
              "shop": shop, "state": state, "timestamp": str(int(time.time()))}
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    params["hmac"] = sign_query(params, secret or config.SHOPIFY_API_SECRET)
    return params


def test_auth_redirects_to_shopify_authorize_with_a_state_bound_to_the_shop(client, config, redis):
    response = client.get(f"/auth?shop={SHOP}")
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", SHOP, "/admin/oauth/authorize")
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == config.SHOPIFY_API_KEY
    assert query["scope"] == config.SCOPES
    assert query["redirect_uri"] == f"{config.APP_URL}/auth/callback"
    assert len(query["state"]) >= 32
    state = oauth.verify_state(query["state"], SHOP, config.api_secrets)
    assert time.time() < state.expires_at <= time.time() + oauth.STATE_TTL_SECONDS
    with pytest.raises(oauth.StateError):
        oauth.verify_state(query["state"], "other-shop.myshopify.com", config.api_secrets)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{oauth.STATE_COOKIE}={query['state']};") and "HttpOnly" in cookie
    assert redis.dbsize() == 0  # nothing stored until a genuine callback presents the state


def test_ten_thousand_auth_requests_cost_redis_nothing(client, redis):
    def commands_sent() -> int:  # by anyone but these INFO calls
        return sum(stat["calls"] for name, stat in redis.info("commandstats").items() if name != "cmdstat_info")

    used_memory, sent = redis.info("memory")["used_memory"], commands_sent()
    for number in range(10_000):
        assert client.get(f"/auth?shop=shop-{number}.myshopify.com").status_code == 302
    assert commands_sent() == sent
    assert redis.dbsize() == 0
    # Memory is what it was, give or take the server's own noise (tens of KB); 10,000 stored states took 2.2 MB.
    assert redis.info("memory")["used_memory"] - used_memory < 256 * 1024


def test_each_auth_gets_its_own_state(client):
    assert begin(client) != begin(client)


@pytest.mark.parametrize("query", ["", "shop=", "shop=evil.example.com", "shop=https://x.myshopify.com",
                                   "shop=-bad.myshopify.com", "shop=a.myshopify.com.evil.com",
                                   "shop=a.myshopify.com&shop=b.myshopify.com", "shop=" + "a" * 5000])
def test_auth_refuses_a_bad_shop(client, redis, query):
    response = client.get(f"/auth?{query}")
    assert response.status_code == 400
    assert response.get_data(as_text=True).strip()
    assert "Set-Cookie" not in response.headers
    assert redis.dbsize() == 0


def test_the_callback_stores_an_expiring_token_and_opens_the_app_in_the_admin(client, config, db, fake_shopify,
                                                                              redis):
    state = begin(client)
    response = client.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state)))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == \
        f"https://admin.shopify.com/store/install-shop/apps/{config.SHOPIFY_API_KEY}"
    assert fake_shopify.count("authorization_code") == 1
    assert fake_shopify.requests_of("authorization_code")[0]["expiring"] == "1"
    row, token = shop_row(db, SHOP), stored(db, SHOP)
    assert row.installed and row.scopes == "read_products,read_orders"
    assert token.expiring and token.refresh_token
    used = redis_keys.oauth_state_used(oauth.verify_state(state, SHOP, config.api_secrets).nonce)
    assert 0 < redis.ttl(used) <= oauth.STATE_TTL_SECONDS  # used up until it would have expired anyway
    assert f"{oauth.STATE_COOKIE}=;" in response.headers["Set-Cookie"]


def test_the_callback_falls_back_to_the_shop_admin_without_a_usable_host(client, config, fake_shopify):
    state = begin(client)
    query = callback_query(config, fake_shopify, state, host="bm90IGFuIGFkbWluIGhvc3Q")
    response = client.get("/auth/callback?" + urlencode(query))
    assert response.headers["Location"] == f"https://{SHOP}/admin/apps/{config.SHOPIFY_API_KEY}"


def test_the_whole_flow_through_shopifys_authorize_page(client, config, db, fake_shopify):
    authorize = urlparse(client.get(f"/auth?shop={SHOP}").headers["Location"])
    # The merchant approves on "Shopify" (the stand-in), which redirects back with a signed query.
    with httpx.Client() as browser:
        answer = browser.get(f"{fake_shopify.url}{authorize.path}?{authorize.query}", headers={"Host": SHOP})
    assert answer.status_code == 302
    back = urlparse(answer.headers["Location"])
    assert back.path == "/auth/callback"
    assert client.get(f"/auth/callback?{back.query}").status_code == 302
    assert stored(db, SHOP).access_token


def test_a_replayed_callback_is_refused(client, config, fake_shopify, db):
    state = begin(client)
    query = urlencode(callback_query(config, fake_shopify, state))
    assert client.get("/auth/callback?" + query).status_code == 302
    replay = client.get("/auth/callback?" + query)
    assert replay.status_code == 403
    assert fake_shopify.count("authorization_code") == 1


def test_a_forged_hmac_is_refused_and_keeps_the_state(client, config, fake_shopify, redis, db):
    state = begin(client)
    query = callback_query(config, fake_shopify, state)
    query["hmac"] = "0" * 64
    assert client.get("/auth/callback?" + urlencode(query)).status_code == 401
    forged_secret = callback_query(config, fake_shopify, state, secret="another-secret-" + "0" * 32)
    assert client.get("/auth/callback?" + urlencode(forged_secret)).status_code == 401
    tampered = callback_query(config, fake_shopify, state)
    tampered["code"] = "swapped"
    assert client.get("/auth/callback?" + urlencode(tampered)).status_code == 401
    assert fake_shopify.count("authorization_code") == 0
    assert shop_row(db, SHOP) is None
    assert redis.dbsize() == 0
    # A forgery cannot burn the merchant's state: Shopify's genuine redirect still completes the install.
    assert client.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state))).status_code == 302


def test_a_stale_callback_is_refused(client, config, fake_shopify):
    state = begin(client)
    old = callback_query(config, fake_shopify, state, timestamp=str(int(time.time()) - 2 * 86400))
    assert client.get("/auth/callback?" + urlencode(old)).status_code == 401


def test_the_previous_secret_is_accepted_during_a_rotation(app_env, fake_shopify, db, redis):
    from shopapp import create_app
    from shopapp.config import Config
    from shopapp.testing.plugin import dispose_app

    config = Config.from_env(dict(app_env, SHOPIFY_API_SECRET_PREVIOUS="old-secret-" + "1" * 32))
    app = create_app(config.with_overrides(TESTING=True))
    try:
        client = app.test_client()
        state = begin(client)
        query = callback_query(config, fake_shopify, state, secret=config.SHOPIFY_API_SECRET_PREVIOUS)
        assert client.get("/auth/callback?" + urlencode(query)).status_code == 302
    finally:
        dispose_app(app)


def test_a_state_issued_before_a_secret_rotation_is_accepted(app_env, fake_shopify, db, redis):
    from shopapp import create_app
    from shopapp.config import Config
    from shopapp.testing.plugin import dispose_app

    config = Config.from_env(dict(app_env, SHOPIFY_API_SECRET_PREVIOUS="old-secret-" + "1" * 32))
    app = create_app(config.with_overrides(TESTING=True))
    try:
        client = app.test_client()
        state = oauth.issue_state(config.SHOPIFY_API_SECRET_PREVIOUS, SHOP)  # by a process still on the old secret
        present_state(client, state)
        assert client.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state))).status_code == 302
    finally:
        dispose_app(app)


def test_an_expired_state_is_refused(client, config, fake_shopify, db, redis):
    state = oauth.issue_state(config.SHOPIFY_API_SECRET, SHOP, now=time.time() - oauth.STATE_TTL_SECONDS - 1)
    present_state(client, state)
    response = client.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state)))
    assert response.status_code == 403
    assert "expired" in response.get_data(as_text=True)
    assert fake_shopify.count("authorization_code") == 0
    assert redis.dbsize() == 0


def test_a_state_signed_with_another_key_is_refused(client, config, fake_shopify, db):
    state = oauth.issue_state("not-the-app-secret-0123456789abcdef", SHOP)
    present_state(client, state)
    assert client.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state))).status_code == 403
    assert shop_row(db, SHOP) is None


@pytest.mark.parametrize("tamper", ["later_expiry", "other_nonce", "flipped_signature", "truncated"])
def test_a_tampered_state_is_refused(client, config, fake_shopify, db, tamper):
    nonce, expires_at, signature = begin(client).split(".")
    state = {
        "later_expiry": f"{nonce}.{int(expires_at) + 86400}.{signature}",
        "other_nonce": f"{nonce[::-1]}.{expires_at}.{signature}",
        "flipped_signature": f"{nonce}.{expires_at}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        "truncated": f"{nonce}.{expires_at}.{signature[:-4]}",
    }[tamper]
    present_state(client, state)
    assert client.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state))).status_code == 403
    assert fake_shopify.count("authorization_code") == 0


def test_an_unknown_state_is_refused(client, config, fake_shopify, db):
    begin(client)
    query = callback_query(config, fake_shopify, "never-issued")
    assert client.get("/auth/callback?" + urlencode(query)).status_code == 403
    assert shop_row(db, SHOP) is None


def test_a_state_issued_for_another_shop_is_refused(client, config, fake_shopify, db):
    state = begin(client, "other-shop.myshopify.com")
    query = callback_query(config, fake_shopify, state)
    assert client.get("/auth/callback?" + urlencode(query)).status_code == 403
    assert shop_row(db, SHOP) is None


def test_a_callback_in_another_browser_is_refused(client, app, config, fake_shopify):
    state = begin(client)
    stranger = app.test_client()  # no state cookie
    assert stranger.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state))).status_code == 403


def test_a_callback_in_another_browser_does_not_use_up_the_state(client, app, config, fake_shopify, redis):
    state = begin(client)
    stranger = app.test_client()
    stranger.set_cookie(oauth.STATE_COOKIE, begin(stranger), path="/auth")  # its own state, not this one
    assert stranger.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state))).status_code == 403
    assert redis.dbsize() == 0
    assert client.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state))).status_code == 302


@pytest.mark.parametrize("missing", ["code", "hmac", "shop", "state", "timestamp"])
def test_a_callback_missing_a_parameter_is_refused(client, config, fake_shopify, missing):
    state = begin(client)
    query = callback_query(config, fake_shopify, state)
    query.pop(missing)
    response = client.get("/auth/callback?" + urlencode(query))
    assert response.status_code == 400
    assert missing in response.get_data(as_text=True)


@pytest.mark.parametrize("bad", [{"shop": "evil.example.com"}, {"timestamp": "yesterday"},
                                 {"code": "c" * 5000}])
def test_a_malformed_callback_is_refused(client, config, fake_shopify, bad):
    state = begin(client)
    query = callback_query(config, fake_shopify, state, **bad)
    assert client.get("/auth/callback?" + urlencode(query)).status_code == 400


def test_a_repeated_parameter_is_refused(client, config, fake_shopify):
    state = begin(client)
    query = urlencode(callback_query(config, fake_shopify, state)) + "&shop=other.myshopify.com"
    assert client.get("/auth/callback?" + query).status_code == 400


def test_a_code_shopify_rejects_is_a_clear_400(client, config, fake_shopify, db):
    state = begin(client)
    query = callback_query(config, fake_shopify, state, code="not-a-code")
    response = client.get("/auth/callback?" + urlencode(query))
    assert response.status_code == 400
    assert "authorization code" in response.get_data(as_text=True)
    assert shop_row(db, SHOP) is None


def test_shopify_unreachable_during_the_callback_is_a_502(client, config, fake_shopify, db):
    state = begin(client)
    fake_shopify.fail("authorization_code", 503, body={"error": "server_error"})
    response = client.get("/auth/callback?" + urlencode(callback_query(config, fake_shopify, state)))
    assert response.status_code == 502
    assert shop_row(db, SHOP) is None
