"""Offline tokens: expiring tokens refreshed once under a per-shop lock, migrated, revoked, stored safely."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, text

from shopapp import crypto
from shopapp.models import utcnow
from shopapp.shopify.errors import REAUTH_MESSAGE, ReauthorizationRequiredError, TokenRequestError
from shopapp.shopify.exchange import TokenGrant
from shopapp.shopify.offline_tokens import REFRESH_MARGIN, OfflineTokens
from shopapp.shopify.token_store import store_grant
from tests.support.processes import ROOT
from tests.support.shop_tokens import install_shop, shop_row, stored

SHOP = "token-shop.myshopify.com"


@pytest.fixture
def shopify_config(config, fake_shopify):
    crypto.configure(config.ENCRYPTION_KEYS)
    return config.with_overrides(SHOPIFY_ADMIN_ORIGIN=fake_shopify.url)


@pytest.fixture
def tokens(shopify_config, db, redis):
    with OfflineTokens(shopify_config, db, redis) as manager:
        yield manager


def test_a_fresh_token_is_used_without_asking_shopify(tokens, db, fake_shopify):
    grant = install_shop(db, fake_shopify, SHOP)
    assert tokens.access_token(SHOP) == grant.access_token
    assert fake_shopify.count("refresh_token") == 0


def test_a_token_about_to_expire_is_refreshed_and_the_new_pair_stored(tokens, db, fake_shopify):
    old = install_shop(db, fake_shopify, SHOP, expires_in=60)  # inside REFRESH_MARGIN
    new_token = tokens.access_token(SHOP)
    assert new_token != old.access_token
    assert fake_shopify.count("refresh_token") == 1
    row = stored(db, SHOP)
    assert row.access_token == new_token
    assert row.refresh_token and row.refresh_token != old.refresh_token
    assert row.expires_at > utcnow() + timedelta(minutes=50)
    assert row.refresh_token_expires_at > utcnow() + timedelta(days=80)
    assert tokens.access_token(SHOP) == new_token  # and now it is fresh
    assert fake_shopify.count("refresh_token") == 1


def test_ten_threads_refreshing_one_shop_send_one_refresh(shopify_config, db, redis, fake_shopify):
    install_shop(db, fake_shopify, SHOP, expires_in=30)
    fake_shopify.refresh_delay = 0.3  # hold the lock long enough for every thread to pile up on it
    start, results, errors = threading.Barrier(10), [], []

    def worker():
        with OfflineTokens(shopify_config, db, redis) as manager:
            start.wait()
            try:
                results.append(manager.access_token(SHOP))
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert fake_shopify.count("refresh_token") == 1
    assert len(results) == 10 and len(set(results)) == 1
    assert stored(db, SHOP).access_token == results[0]


@pytest.mark.slow
def test_ten_processes_refreshing_one_shop_send_one_refresh(app_env, shopify_config, db, redis, fake_shopify):
    install_shop(db, fake_shopify, SHOP, expires_in=30)
    fake_shopify.refresh_delay = 0.3
    env = dict(app_env, SHOPIFY_ADMIN_ORIGIN=fake_shopify.url, RACE_SHOP=SHOP)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.refresh_race"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(10)]
    try:
        # Every process announces itself, then all are released at once.
        for _ in range(10):
            assert redis.blpop("test:race:ready", timeout=60) is not None
        redis.rpush("test:race:go", *["go"] * 10)
        outputs = [proc.communicate(timeout=90) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert [proc.returncode for proc in procs] == [0] * 10, [err[-2000:] for _, err in outputs]
    digests = {out.strip() for out, _ in outputs}
    assert fake_shopify.count("refresh_token") == 1
    assert digests == {hashlib.sha256(stored(db, SHOP).access_token.encode()).hexdigest()}


def test_a_401_refreshes_once_and_a_second_caller_uses_the_new_token(tokens, db, fake_shopify):
    old = install_shop(db, fake_shopify, SHOP)
    fresh = tokens.renew_after_unauthorized(SHOP, old.access_token)
    assert fresh != old.access_token
    # Another worker that was refused with the same old token takes the renewed one, not a second refresh.
    assert tokens.renew_after_unauthorized(SHOP, old.access_token) == fresh
    assert fake_shopify.count("refresh_token") == 1


def test_a_revoked_refresh_token_flags_the_shop_for_reauthorization(tokens, db, fake_shopify):
    install_shop(db, fake_shopify, SHOP, expires_in=30)
    fake_shopify.revoke(SHOP)
    with pytest.raises(ReauthorizationRequiredError) as raised:
        tokens.access_token(SHOP)
    assert str(raised.value) == REAUTH_MESSAGE
    assert raised.value.reason == "invalid_grant"
    assert stored(db, SHOP).needs_reauth is True
    # From now on the shop fails fast, without asking Shopify again.
    with pytest.raises(ReauthorizationRequiredError):
        tokens.access_token(SHOP)
    assert fake_shopify.count("refresh_token") == 1


def test_an_expired_refresh_token_needs_the_merchant_without_a_request(tokens, db, fake_shopify):
    with db.session() as session:
        store_grant(session, SHOP, TokenGrant("shpat_x", expires_at=utcnow() - timedelta(minutes=1),
                                              refresh_token="shprt_x",
                                              refresh_token_expires_at=utcnow() - timedelta(seconds=1)),
                    install=True)
    with pytest.raises(ReauthorizationRequiredError):
        tokens.access_token(SHOP)
    assert stored(db, SHOP).needs_reauth is True
    assert fake_shopify.count("refresh_token") == 0


def test_an_unknown_shop_has_no_token(tokens):
    with pytest.raises(ReauthorizationRequiredError) as raised:
        tokens.access_token("nobody.myshopify.com")
    assert raised.value.reason == "no_offline_token"


def test_a_stored_non_expiring_token_is_migrated_to_an_expiring_one(tokens, db, fake_shopify):
    legacy = install_shop(db, fake_shopify, SHOP, expiring=False)
    assert stored(db, SHOP).expiring is False
    token = tokens.access_token(SHOP)
    assert token != legacy.access_token
    assert fake_shopify.count("migration") == 1
    row = stored(db, SHOP)
    assert row.expiring and row.refresh_token and not row.needs_reauth
    assert fake_shopify.requests_of("migration")[0]["expiring"] == "1"


def test_a_refused_migration_flags_the_shop(tokens, db, fake_shopify):
    install_shop(db, fake_shopify, SHOP, expiring=False)
    fake_shopify.revoke(SHOP)
    with pytest.raises(ReauthorizationRequiredError) as raised:
        tokens.access_token(SHOP)
    assert raised.value.reason == "invalid_subject_token"
    assert stored(db, SHOP).needs_reauth is True


def test_a_failing_token_endpoint_changes_nothing_and_may_be_retried(tokens, db, fake_shopify):
    old = install_shop(db, fake_shopify, SHOP, expires_in=30)
    fake_shopify.fail("refresh_token", 503, times=3)  # the library retries 5xx twice
    with pytest.raises(TokenRequestError):
        tokens.access_token(SHOP)
    row = stored(db, SHOP)
    assert row.access_token == old.access_token and not row.needs_reauth
    assert tokens.access_token(SHOP) != old.access_token  # Shopify is back: refreshed


def test_a_refresh_does_not_resurrect_an_uninstalled_shop(tokens, db, fake_shopify):
    old = install_shop(db, fake_shopify, SHOP, expires_in=30)
    with db.session() as session:
        session.execute(text("UPDATE shops SET installed = :f WHERE domain = :d"), {"f": False, "d": SHOP})
        session.commit()
    with pytest.raises(ReauthorizationRequiredError):
        tokens.renew_after_unauthorized(SHOP, old.access_token)
    assert shop_row(db, SHOP).installed is False


def test_a_new_pair_is_stored_in_one_update(db, shopify_config, fake_shopify):
    install_shop(db, fake_shopify, SHOP)
    updates = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE SHOPS"):
            updates.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as session:
            store_grant(session, SHOP, TokenGrant("shpat_new", expires_at=utcnow() + timedelta(hours=1),
                                                  refresh_token="shprt_new",
                                                  refresh_token_expires_at=utcnow() + timedelta(days=90)))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(updates) == 1
    for column in ("access_token", "access_token_expires_at", "refresh_token", "refresh_token_expires_at"):
        assert column in updates[0]


def test_tokens_are_encrypted_at_rest(db, shopify_config, fake_shopify):
    grant = install_shop(db, fake_shopify, SHOP)
    with db.engine.connect() as conn:
        access, refresh = conn.execute(text("SELECT access_token, refresh_token FROM shops WHERE domain = :d"),
                                       {"d": SHOP}).one()
    assert grant.access_token not in access and grant.refresh_token not in refresh
    assert crypto.decrypt(access) == grant.access_token


def test_tokens_never_reach_the_logs(tokens, db, fake_shopify, caplog):
    caplog.set_level("DEBUG")
    old = install_shop(db, fake_shopify, SHOP, expires_in=30)
    new = tokens.access_token(SHOP)
    fake_shopify.revoke(SHOP)
    with pytest.raises(ReauthorizationRequiredError):
        tokens.renew_after_unauthorized(SHOP, new)
    for secret in (old.access_token, old.refresh_token, new, stored(db, SHOP).refresh_token):
        assert secret not in caplog.text
    assert repr(stored(db, SHOP)).count("shp") == 0


def test_refresh_margin_is_minutes_not_seconds():
    # Workers must never start a page of requests with a token about to lapse.
    assert timedelta(minutes=2) <= REFRESH_MARGIN
