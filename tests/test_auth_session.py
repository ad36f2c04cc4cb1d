"""/api authentication: the session token decides the shop; a shop without a usable offline token gets one
by token exchange on its first authenticated request."""
from __future__ import annotations

import pytest
from flask import g, jsonify
from sqlalchemy import text

from shopapp.admin.session import RETRY_HEADER, require_session_token
from shopapp.models import Shop, utcnow
from shopapp.testing import SHOP as DEFAULT_SHOP
from tests.support.shop_tokens import install_shop, shop_row, stored

PROBE = "/api/_probe"


@pytest.fixture
def app_env(app_env, fake_shopify):
    return dict(app_env, SHOPIFY_ADMIN_ORIGIN=fake_shopify.url)


@pytest.fixture
def app(app):
    # A minimal /api view: what the decorator lets through, and as whom.
    app.add_url_rule(PROBE, "probe", require_session_token(lambda: jsonify(shop=g.shop)))
    return app


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_rejected(response) -> None:
    assert response.status_code == 401
    assert response.headers[RETRY_HEADER] == "1"
    assert response.is_json and response.get_json()["error"]


def test_every_api_route_requires_a_session_token(app, client):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api")]
    assert len(rules) > 1
    for rule in rules:
        path = rule.rule.replace("<int:job_id>", "1").replace("<job_id>", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert_rejected(client.open(path, method=method))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer abc",
                                    "Bearer not.a.jwt", "Bearer " + "x" * 20000])
def test_a_missing_or_malformed_authorization_is_refused(client, header):
    headers = {} if header is None else {"Authorization": header}
    assert_rejected(client.get(PROBE, headers=headers))


@pytest.mark.parametrize("case", ["expired", "wrong_secret", "alg_none", "wrong_aud", "iss_dest_mismatch",
                                  "not_myshopify", "no_exp"])
def test_a_forged_or_expired_session_token_is_refused(client, session_token, case, fake_shopify):
    token = {
        "expired": lambda: session_token(expires_in=-60),
        "wrong_secret": lambda: session_token(secret="not-the-secret-" + "0" * 32),
        "alg_none": lambda: session_token(algorithm="none"),
        "wrong_aud": lambda: session_token(aud="another-app"),
        "iss_dest_mismatch": lambda: session_token(iss="https://other-shop.myshopify.com/admin"),
        "not_myshopify": lambda: session_token(shop="evil.example.com"),
        "no_exp": lambda: session_token(exp=None),
    }[case]()
    assert_rejected(client.get(PROBE, headers=bearer(token)))
    assert fake_shopify.count("token_exchange") == 0


def test_the_shop_comes_from_the_token_alone(client, session_token, db, fake_shopify):
    install_shop(db, fake_shopify, DEFAULT_SHOP)
    response = client.get(PROBE + "?shop=other.myshopify.com",
                          headers={**bearer(session_token()), "X-Shopify-Shop-Domain": "other.myshopify.com"})
    assert response.status_code == 200
    assert response.get_json() == {"shop": DEFAULT_SHOP}


def test_a_new_shop_gets_an_expiring_offline_token_by_token_exchange(client, session_token, db, fake_shopify):
    response = client.get(PROBE, headers=bearer(session_token()))
    assert response.status_code == 200
    assert fake_shopify.count("token_exchange") == 1
    assert fake_shopify.requests_of("token_exchange")[0]["expiring"] == "1"
    row = shop_row(db, DEFAULT_SHOP)
    assert row.installed and row.installed_at is not None and not row.needs_reauth
    token = stored(db, DEFAULT_SHOP)
    assert token.access_token and token.refresh_token
    assert token.expires_at > utcnow() and token.refresh_token_expires_at > token.expires_at
    # The next requests find a usable token and do not ask Shopify again.
    for _ in range(3):
        assert client.get(PROBE, headers=bearer(session_token())).status_code == 200
    assert fake_shopify.count("token_exchange") == 1


def test_a_reinstalled_shop_is_marked_installed_with_a_new_token(client, session_token, db, fake_shopify):
    install_shop(db, fake_shopify, DEFAULT_SHOP)
    with db.session() as session:  # what app/uninstalled leaves behind
        session.execute(text("UPDATE shops SET installed = :f, access_token = NULL, refresh_token = NULL, "
                             "access_token_expires_at = NULL, refresh_token_expires_at = NULL, "
                             "uninstalled_at = :now WHERE domain = :d"),
                        {"f": False, "now": utcnow().replace(tzinfo=None), "d": DEFAULT_SHOP})
        session.commit()
    assert client.get(PROBE, headers=bearer(session_token())).status_code == 200
    row = shop_row(db, DEFAULT_SHOP)
    assert row.installed and row.uninstalled_at is None and row.access_token
    assert fake_shopify.count("token_exchange") == 1


def test_a_shop_flagged_for_reauthorization_is_repaired_by_the_next_session(client, session_token, db,
                                                                            fake_shopify):
    install_shop(db, fake_shopify, DEFAULT_SHOP)
    with db.session() as session:
        session.query(Shop).filter_by(domain=DEFAULT_SHOP).update({"needs_reauth": True})
        session.commit()
    assert client.get(PROBE, headers=bearer(session_token())).status_code == 200
    assert shop_row(db, DEFAULT_SHOP).needs_reauth is False
    assert fake_shopify.count("token_exchange") == 1


def test_a_stored_non_expiring_token_is_migrated_on_the_next_request(client, session_token, db, fake_shopify):
    install_shop(db, fake_shopify, DEFAULT_SHOP, expiring=False)
    assert client.get(PROBE, headers=bearer(session_token())).status_code == 200
    assert fake_shopify.count("migration") == 1 and fake_shopify.count("token_exchange") == 0
    assert stored(db, DEFAULT_SHOP).expiring


def test_a_dead_non_expiring_token_is_replaced_by_token_exchange(client, session_token, db, fake_shopify):
    install_shop(db, fake_shopify, DEFAULT_SHOP, expiring=False)
    fake_shopify.revoke(DEFAULT_SHOP)
    assert client.get(PROBE, headers=bearer(session_token())).status_code == 200
    assert fake_shopify.count("migration") == 1 and fake_shopify.count("token_exchange") == 1
    row = stored(db, DEFAULT_SHOP)
    assert row.expiring and not row.needs_reauth


def test_a_session_token_shopify_refuses_flags_the_shop_and_asks_for_a_new_one(client, session_token, db,
                                                                               fake_shopify):
    with db.session() as session:  # a known shop without a token (e.g. uninstalled earlier)
        session.add(Shop(domain=DEFAULT_SHOP, installed=False))
        session.commit()
    fake_shopify.invalid_subject_shops.add(DEFAULT_SHOP)
    assert_rejected(client.get(PROBE, headers=bearer(session_token())))
    assert fake_shopify.count("token_exchange") == 1
    assert shop_row(db, DEFAULT_SHOP).needs_reauth is True
    # App Bridge retries with a fresh token; once Shopify accepts it, the shop is repaired.
    fake_shopify.invalid_subject_shops.clear()
    assert client.get(PROBE, headers=bearer(session_token())).status_code == 200
    assert shop_row(db, DEFAULT_SHOP).needs_reauth is False


def test_shopify_being_down_does_not_break_the_page(client, session_token, db, fake_shopify):
    fake_shopify.fail("token_exchange", 503, times=1)
    assert client.get(PROBE, headers=bearer(session_token())).status_code == 200
    assert shop_row(db, DEFAULT_SHOP) is None
    # The next request tries again and gets the token.
    assert client.get(PROBE, headers=bearer(session_token())).status_code == 200
    assert stored(db, DEFAULT_SHOP).access_token
    assert fake_shopify.count("token_exchange") == 2


def test_concurrent_first_requests_exchange_once(app, session_token, db, fake_shopify):
    import threading

    fake_shopify.refresh_delay = 0  # (exchange is not delayed; the lock alone must serialise)
    barrier, statuses = threading.Barrier(8), []

    def request():
        with app.test_client() as c:
            barrier.wait()
            statuses.append(c.get(PROBE, headers=bearer(session_token())).status_code)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * 8
    assert fake_shopify.count("token_exchange") == 1


def test_redis_being_down_does_not_break_an_api_request(app, session_token, db, private_redis, fake_shopify):
    from shopapp.redis_client import connect, get_redis

    original = get_redis(app)
    app.extensions["redis"] = connect(private_redis.url)
    try:
        private_redis.stop()
        response = app.test_client().get(PROBE, headers=bearer(session_token()))
        assert response.status_code == 200 and response.get_json() == {"shop": DEFAULT_SHOP}
        assert fake_shopify.count("token_exchange") == 0  # never without the lock
    finally:
        app.extensions["redis"].close()
        app.extensions["redis"] = original


def test_dev_mode_with_generated_credentials_never_calls_shopify(config, db, redis, session_token, caplog):
    from shopapp import create_app
    from shopapp.testing.plugin import dispose_app

    app = create_app(config.with_overrides(dev_credentials_generated=True, SHOPIFY_ADMIN_ORIGIN=""))
    app.add_url_rule(PROBE, "probe", require_session_token(lambda: jsonify(shop=g.shop)))
    try:
        caplog.set_level("INFO")
        assert app.test_client().get(PROBE, headers=bearer(session_token())).status_code == 200
    finally:
        dispose_app(app)
    assert "token exchange" not in caplog.text
    assert shop_row(db, DEFAULT_SHOP) is None
