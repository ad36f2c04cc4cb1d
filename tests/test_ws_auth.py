"""/ws/jobs authentication: the App Bridge session token decides the shop; anything else closes with 4401
before a single job is sent. Real gunicorn, real Redis, a real websocket client."""
import time
import warnings

import pytest

from shopapp.events.publisher import EventPublisher
from shopapp.testing import SHOP as DEFAULT_SHOP
from tests.support.ws_client import ClosedError, connect

pytestmark = pytest.mark.nodb  # session tokens on the socket: any database

OTHER_SHOP = "other-shop.myshopify.com"


@pytest.fixture
def server(web_server):
    return web_server(env={"WS_TOKEN_GRACE_SECONDS": "1", "WS_MAX_MESSAGE_BYTES": "1024"})


@pytest.fixture
def publisher(redis):
    return EventPublisher(redis)


def _job(job_id, state="running"):
    return {"id": job_id, "kind": "webhook", "state": state}


def _bad_token(session_token, case):
    now = int(time.time())
    if case == "alg HS512":
        with warnings.catch_warnings():  # PyJWT warns about the short key; the server must refuse anyway
            warnings.simplefilter("ignore")
            return session_token(algorithm="HS512")
    return {
        "expired": lambda: session_token(expires_in=-60),
        "wrong secret": lambda: session_token(secret="not-the-app-secret-0123456789abcdef"),
        "alg none": lambda: session_token(algorithm="none"),
        "wrong aud": lambda: session_token(api_key="another-app"),
        "iss/dest mismatch": lambda: session_token(iss=f"https://{OTHER_SHOP}/admin"),
        "not a myshopify domain": lambda: session_token(shop="evil.example.com"),
        "not yet valid": lambda: session_token(nbf=now + 120),
        "no exp": lambda: session_token(exp=None),
        "garbage": lambda: "not.a.jwt",
    }[case]()


BAD_TOKEN_CASES = ["expired", "wrong secret", "alg none", "alg HS512", "wrong aud", "iss/dest mismatch",
                   "not a myshopify domain", "not yet valid", "no exp", "garbage"]


def test_a_valid_token_gets_the_snapshot_then_live_events(server, session_token, publisher):
    with connect(server, session_token()) as ws:
        snapshot = ws.recv_json()
        assert (snapshot["type"], snapshot["jobs"]) == ("snapshot", [])
        seq = publisher.publish(DEFAULT_SHOP, _job(1), 1)
        assert seq == snapshot["seq"] + 1  # the snapshot seeded the counter: no gap for a fresh shop
        assert ws.recv_json() == {"type": "job", "seq": seq, "job": _job(1)}


def test_a_missing_token_closes_with_4401_before_any_data(server):
    with connect(server) as ws, pytest.raises(ClosedError) as closed:
        ws.recv_text()
    assert closed.value.code == 4401


def test_every_kind_of_bad_token_closes_with_4401_before_any_data(server, session_token, publisher):
    publisher.publish(DEFAULT_SHOP, _job(1), 1)
    first_frames = {}
    for case in BAD_TOKEN_CASES:
        with connect(server, _bad_token(session_token, case)) as ws:
            try:
                first_frames[case] = ws.recv_text()  # must not be data: the very first frame is the close
            except ClosedError as closed:
                first_frames[case] = closed.code
    assert first_frames == {case: 4401 for case in BAD_TOKEN_CASES}


def test_the_previous_secret_is_accepted_during_a_rotation(web_server, session_token):
    old = "the-old-secret-0123456789abcdef0123"
    server = web_server(env={"SHOPIFY_API_SECRET_PREVIOUS": old})
    with connect(server, session_token(secret=old)) as ws:
        assert ws.recv_json()["type"] == "snapshot"


def test_a_socket_never_sees_another_shops_events(server, session_token, publisher):
    with connect(server, session_token()) as mine, connect(server, session_token(shop=OTHER_SHOP)) as theirs:
        mine.recv_json(), theirs.recv_json()
        other_seq = publisher.publish(OTHER_SHOP, _job(2), 1)
        my_seq = publisher.publish(DEFAULT_SHOP, _job(1), 1)
        assert mine.recv_json() == {"type": "job", "seq": my_seq, "job": _job(1)}
        assert theirs.recv_json() == {"type": "job", "seq": other_seq, "job": _job(2)}
        mine.assert_silent(0.3)
        theirs.assert_silent(0.3)


def test_the_socket_closes_with_4401_once_the_token_expired_past_the_grace(server, session_token):
    with connect(server, session_token(expires_in=1)) as ws:
        assert ws.recv_json()["type"] == "snapshot"
        assert ws.expect_close(timeout=30) == 4401


def test_a_refreshed_token_keeps_the_socket_open(server, session_token, publisher):
    with connect(server, session_token(expires_in=5)) as ws:
        ws.recv_json()
        ws.send_auth(session_token(expires_in=120))
        time.sleep(7)  # past the first token's expiry + grace (1 s); the refresh must have moved it
        seq = publisher.publish(DEFAULT_SHOP, _job(1), 1)
        assert ws.recv_json(timeout=10) == {"type": "job", "seq": seq, "job": _job(1)}


def test_a_refresh_for_another_shop_closes_with_4401(server, session_token):
    with connect(server, session_token()) as ws:
        ws.recv_json()
        ws.send_auth(session_token(shop=OTHER_SHOP))
        assert ws.expect_close() == 4401


def test_an_invalid_refresh_token_closes_with_4401(server, session_token):
    with connect(server, session_token()) as ws:
        ws.recv_json()
        ws.send_auth(session_token(secret="not-the-app-secret-0123456789abcdef"))
        assert ws.expect_close() == 4401


@pytest.mark.parametrize("message, error", [
    ("{not json", "message is not JSON"),
    ('["auth"]', "unknown message"),
    ('{"type": "subscribe", "shop": "other-shop.myshopify.com"}', "unknown message"),
])
def test_a_malformed_client_message_gets_an_error_frame_and_the_socket_lives_on(
        server, session_token, publisher, message, error):
    with connect(server, session_token()) as ws:
        ws.recv_json()
        ws.send_text(message)
        reply = ws.recv_json()
        assert reply["type"] == "error" and reply["error"].startswith(error)
        seq = publisher.publish(DEFAULT_SHOP, _job(1), 1)
        assert ws.recv_json()["seq"] == seq


def test_a_binary_client_message_gets_an_error_frame(server, session_token):
    with connect(server, session_token()) as ws:
        ws.recv_json()
        ws.ws.send_binary(b"\x00\x01")
        assert ws.recv_json() == {"type": "error", "error": "binary messages are not accepted"}


def test_a_client_message_over_the_limit_closes_with_1009(server, session_token):
    with connect(server, session_token()) as ws:
        ws.recv_json()
        ws.send_auth("x" * 5000)
        assert ws.expect_close() == 1009


def test_tokens_never_reach_the_logs(web_server, session_token):
    server = web_server(extra_args=["--access-logfile", "-"], env={"LOG_LEVEL": "DEBUG"})
    good, bad = session_token(), session_token(secret="not-the-app-secret-0123456789abcdef")
    with connect(server, good) as ws:
        ws.recv_json()
        ws.send_auth(good)
        ws.send_text("{not json")
        ws.recv_json()
    with connect(server, bad) as ws:
        assert ws.expect_close() == 4401
    server.stop()
    output = server.output()
    assert "/ws/jobs" in output  # the access log is on and saw the sockets
    for token in (good, bad):
        for part in token.split("."):
            assert part not in output


@pytest.mark.parametrize("query", ["id_token=a.b.c&since=7", "since=7&since=8&id_token=", "id_token=a%2Eb+c",
                                   "id_token", "since=%ff", "x=1;id_token=y", ""])
def test_the_socket_reads_its_query_as_flask_parses_it(app, query):
    from flask import request

    from shopapp.realtime.routes import _query

    with app.test_request_context(f"/ws/jobs?{query}"):
        assert [_query("id_token"), _query("since")] == [request.args.get("id_token"), request.args.get("since")]
