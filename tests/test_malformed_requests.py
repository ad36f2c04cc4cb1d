"""Malformed requests are the sender's fault: 400 or 408, one INFO line, counted, never a 500 or a traceback,
and nothing after a broken body is ever read as another request (against a real gunicorn)."""
from __future__ import annotations

import pytest
import requests

from tests.support.raw_http import RawConnection, request_head

pytestmark = [pytest.mark.slow, pytest.mark.nodb]  # HTTP framing: nothing is recorded

# Chunked bodies gunicorn's parser refuses, each named for how it is broken.
BROKEN_CHUNKS = {
    "size line is not hex": b"zz\r\nhello\r\n0\r\n\r\n",
    "size line has a bad extension": b"5;=\r\nhello\r\n0\r\n\r\n",
    "chunk longer than its size": b"5\r\nhello, world\r\n0\r\n\r\n",
    "negative size": b"-5\r\nhello\r\n0\r\n\r\n",
}
SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _webhook_head(signed_webhook, **framing) -> bytes:
    hook = signed_webhook("orders/create")
    headers = {k: v for k, v in hook.headers.items() if k != "Content-Length"}
    return request_head("POST", "/webhooks", dict(headers, **framing))


@pytest.fixture
def server(web_server):
    return web_server(env={"WEBHOOK_BODY_TIMEOUT_SECONDS": "1", "LOG_FORMAT": "json"})


@pytest.mark.parametrize("broken", BROKEN_CHUNKS.values(), ids=BROKEN_CHUNKS.keys())
def test_broken_chunked_webhook_body_is_400_and_nothing_after_it_is_served(server, signed_webhook, broken):
    with RawConnection(server.port) as conn:
        conn.send(_webhook_head(signed_webhook, **{"Transfer-Encoding": "chunked"}) + broken + SMUGGLED)
        response = conn.response()
        assert (response.status, response.json()["result"]) == (400, "body_malformed")
        assert conn.closed_by_server()  # the pipelined GET was never answered
    assert server.error_lines() == []


def test_connection_closed_mid_chunk_is_400(server, signed_webhook):
    with RawConnection(server.port) as conn:
        conn.send(_webhook_head(signed_webhook, **{"Transfer-Encoding": "chunked"}) + b"400\r\nonly a few bytes")
        conn.finish_sending()
        response = conn.response()
    assert (response.status, response.json()["result"]) == (400, "body_malformed")
    assert server.error_lines() == []


def test_body_shorter_than_its_content_length_is_400(server, signed_webhook):
    hook = signed_webhook("orders/create")
    with RawConnection(server.port) as conn:
        conn.send(request_head("POST", "/webhooks", dict(hook.headers, **{"Content-Length": str(len(hook.body) + 50)}))
                  + hook.body)
        conn.finish_sending()  # the sender stops: gunicorn hands over the short body without a word
        response = conn.response()
    assert (response.status, response.json()["result"]) == (400, "body_incomplete")


@pytest.mark.parametrize("framing, partial", [
    ({"Content-Length": "5000"}, b'{"id": 1'),
    ({"Transfer-Encoding": "chunked"}, b'1000\r\n{"id": 1'),
    ({"Transfer-Encoding": "chunked"}, b"f" * 40 + b'\r\n{"id": 1'),  # a chunk larger than any body, cut short
], ids=["content-length", "chunked", "huge chunk"])
def test_stalled_body_is_408_after_the_deadline_and_the_connection_closes(server, signed_webhook, framing, partial):
    with RawConnection(server.port) as conn:
        conn.send(_webhook_head(signed_webhook, **framing) + partial)  # ... and nothing more
        response = conn.response()
        assert (response.status, response.json()["result"]) == (408, "body_timeout")
        assert conn.closed_by_server()
    assert server.error_lines() == []


def test_stalled_body_is_408_under_a_worker_without_gevent(web_server, signed_webhook):
    sync = web_server(env={"WEBHOOK_BODY_TIMEOUT_SECONDS": "1", "GUNICORN_WORKER_CLASS": "sync"})
    with RawConnection(sync.port) as conn:
        conn.send(_webhook_head(signed_webhook, **{"Content-Length": "5000"}) + b'{"id": 1')
        response = conn.response()
    assert (response.status, response.json()["result"]) == (408, "body_timeout")


def test_malformed_refusals_are_logged_at_info_and_counted(web_server, signed_webhook):
    from tests.support.metrics_text import value

    server = web_server(env={"LOG_LEVEL": "INFO", "LOG_FORMAT": "json"})
    with RawConnection(server.port) as conn:
        conn.send(_webhook_head(signed_webhook, **{"Transfer-Encoding": "chunked"}) + b"zz\r\n\r\n")
        assert conn.response().status == 400
    lines = [line for line in server.log_lines() if line["msg"].startswith("webhook refused: body_malformed")]
    assert [line["level"] for line in lines] == ["info"]
    metrics = _scrape(server)
    assert value(metrics, "shopapp_webhooks_rejected_total", reason="body_malformed") == 1


def test_broken_chunked_body_on_the_api_is_400_not_500(server, session_token):
    headers = {"Authorization": f"Bearer {session_token()}", "Content-Type": "application/json",
               "Transfer-Encoding": "chunked"}
    with RawConnection(server.port) as conn:
        conn.send(request_head("POST", "/api/jobs", headers) + b"zz\r\n{}\r\n0\r\n\r\n" + SMUGGLED)
        response = conn.response()
        assert (response.status, response.json()["error"]) == (400, "bad_request")
        assert conn.closed_by_server()
    assert server.error_lines() == []


@pytest.mark.parametrize("handshake", [
    {"Sec-WebSocket-Version": "13"},                                                  # no key
    {"Sec-WebSocket-Version": "99", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},  # a version nobody speaks
], ids=["no key", "bad version"])
def test_malformed_websocket_handshake_is_400_not_500(server, session_token, handshake):
    headers = dict(handshake, Upgrade="websocket", Connection="Upgrade")
    with RawConnection(server.port) as conn:
        conn.send(request_head("GET", f"/ws/jobs?id_token={session_token()}", headers))
        assert conn.response().status == 400
    assert server.error_lines() == []


def test_gunicorns_own_refusals_are_logged_at_info_not_warning(web_server):
    server = web_server(env={"LOG_LEVEL": "INFO", "LOG_FORMAT": "json"})
    with RawConnection(server.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Name: x\r\n\r\n")
        assert conn.response().status == 400
    lines = [line for line in server.log_lines() if line["msg"].startswith("Invalid request from ip=")]
    assert [line["level"] for line in lines] == ["info"]


def _scrape(server) -> str:
    return requests.get(server.url + "/metrics", timeout=10).text
