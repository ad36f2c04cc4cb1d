"""Large bodies: the default limit fits the largest real ones with room to spare, they cost bounded memory,
and anything over the limit is refused without being read (nor drained by the server afterwards)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from shopapp.models import WebhookEvent
from shopapp.testing import build_webhook
from shopapp.testing.large_bodies import MIB, PeakMemory, product_body, product_with_variants
from shopapp.testing.webhooks import deliver_at_once
from shopapp.webhooks.endpoint import ENDPOINT
from tests.support.raw_http import RawConnection, request_head

# Each web process's peak resident memory while 20 concurrent 3 MB deliveries are answered by two of them
# (README "Performance": bench/large_bodies.py measured 142-187 MiB, from 86-97 MiB idle).
RSS_CEILING = 256 * MIB


def test_a_2048_variant_product_is_accepted_under_the_default_limit(client, signed_webhook, db):
    payload = product_with_variants(2048)  # Shopify allows 2,048 variants per product since October 2025
    hook = signed_webhook("products/update", payload=payload)
    assert len(hook.body) > 1024 * 1024 and client.application.config["WEBHOOK_MAX_BYTES"] == 16 * MIB
    assert hook.post(client).get_json()["result"] == "accepted"
    with db.session() as s:
        assert len(s.scalars(select(WebhookEvent.payload)).one()["variants"]) == 2048


def test_a_delivery_that_finds_no_room_for_its_body_is_503_and_shopify_retries_it(app_factory, signed_webhook, db):
    app = app_factory(WEBHOOK_BODY_TIMEOUT_SECONDS=0.2)
    room = app.extensions[ENDPOINT].room  # the endpoint's; every request of this process shares it
    assert room.take(room.capacity, timeout=0)  # held by bodies still arriving on other connections
    hook = signed_webhook("orders/create")
    response = hook.post(app.test_client())
    assert (response.status_code, response.get_json()["result"]) == (503, "busy")
    room.give(room.capacity)
    assert hook.post(app.test_client()).get_json()["result"] == "accepted"  # the retry finds room
    assert room.used == 0  # an answered delivery gives its room back


def test_every_answer_gives_the_bodys_room_back(app, signed_webhook, db):
    client, room = app.test_client(), app.extensions[ENDPOINT].room
    answers = [signed_webhook("orders/create").post(client).status_code,
               signed_webhook("orders/create", secret="forged").post(client).status_code,
               signed_webhook("orders/create", payload=b"[1]").post(client).status_code]
    assert answers == [200, 401, 400] and room.used == 0


@pytest.mark.slow
def test_20_concurrent_3_mb_deliveries_are_accepted_within_the_memory_ceiling(web_server, config, db):
    server = web_server(workers=2)
    body = product_body(3_000_000)
    hooks = [build_webhook("products/update", config.SHOPIFY_API_SECRET, payload=body) for _ in range(20)]
    with PeakMemory(server.pid) as memory:
        statuses = deliver_at_once(server.url + "/webhooks", hooks)
    assert statuses == [200] * 20
    peaks = memory.high_water()
    assert len(peaks) == 2 and all(peak < RSS_CEILING for peak in peaks.values()), \
        {pid: f"{peak / MIB:.0f} MiB" for pid, peak in peaks.items()}


@pytest.mark.slow
def test_large_deliveries_wait_their_turn_for_a_small_buffer_and_are_all_accepted(web_server, config, db):
    server = web_server(workers=2, env={"WEBHOOK_MAX_BYTES": str(4 * MIB), "WEBHOOK_BUFFER_BYTES": str(8 * MIB)})
    body = product_body(3_000_000)
    hooks = [build_webhook("products/update", config.SHOPIFY_API_SECRET, payload=body) for _ in range(12)]
    assert deliver_at_once(server.url + "/webhooks", hooks) == [200] * 12


@pytest.mark.slow
def test_a_2_gb_content_length_is_413_and_the_connection_closes_without_reading_it(web_server, signed_webhook):
    server = web_server()
    hook = signed_webhook("orders/create")
    with RawConnection(server.port) as conn:
        conn.send(request_head("POST", "/webhooks", dict(hook.headers, **{"Content-Length": str(2 * 1024 ** 3)}))
                  + b"x" * 65536)  # of 2 GB, nothing more will come
        response = conn.response()
        assert (response.status, response.json()["result"]) == (413, "body_too_large")
        # gunicorn would otherwise drain the other 2 GB before the connection could serve again.
        assert conn.closed_by_server()
    with RawConnection(server.port) as other:  # the worker was not stalled by it
        other.send(request_head("GET", "/healthz"))
        assert other.response().status == 200


@pytest.mark.slow
def test_a_chunked_body_over_the_limit_is_413_after_reading_at_most_the_limit(web_server, signed_webhook):
    server = web_server(env={"WEBHOOK_MAX_BYTES": "100000"})
    hook = signed_webhook("orders/create")
    chunk = b"x" * 65536
    with RawConnection(server.port) as conn:
        head = request_head("POST", "/webhooks", dict(hook.headers, **{"Transfer-Encoding": "chunked"}))
        conn.send(head + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2)  # more chunks would follow
        response = conn.response()
        assert (response.status, response.json()["result"]) == (413, "body_too_large")
        assert conn.closed_by_server()


@pytest.mark.slow
def test_slow_senders_cannot_make_a_process_hold_more_bodies_than_its_buffer(web_server, signed_webhook):
    # 16 connections each send 3 MB of a 3.5 MB body, then stall: without the buffer's bound the process
    # would read and hold all 48 MB until their deadline; with an 8 MiB buffer it reads what fits.
    server = web_server(env={"WEBHOOK_MAX_BYTES": str(4 * MIB), "WEBHOOK_BUFFER_BYTES": str(8 * MIB),
                             "WEBHOOK_BODY_TIMEOUT_SECONDS": "3"})
    hook = signed_webhook("orders/create")
    head = request_head("POST", "/webhooks", dict(hook.headers, **{"Content-Length": str(3_500_000)}))
    with PeakMemory(server.pid) as memory:
        before = memory.high_water()
        connections = [RawConnection(server.port) for _ in range(16)]
        for conn in connections:
            conn.send(head + b"x" * 3_000_000)
        statuses = [conn.response().status for conn in connections]
        for conn in connections:
            conn.sock.close()
    grown = {pid: memory.high_water()[pid] - before[pid] for pid in before}
    assert set(statuses) <= {408, 503} and len(statuses) == 16
    assert all(growth < 24 * MIB for growth in grown.values()), {p: f"{g / MIB:.0f} MiB" for p, g in grown.items()}
