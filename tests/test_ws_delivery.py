"""/ws/jobs delivery: snapshot or replay first, then every event of the shop once, in seq order; slow
clients, uninstalls and shutdowns. Real gunicorn, real Redis, real websocket clients."""
import signal
import socket
import threading
import time

import pytest

from shopapp.events.control import notify_shop_uninstalled
from shopapp.events.publisher import EventPublisher
from shopapp.models import Job, Shop
from shopapp.testing import SHOP as DEFAULT_SHOP
from tests.support.ws_client import ClosedError, connect

pytestmark = pytest.mark.nodb  # fan-out from Redis to sockets: any database

OTHER_SHOP = "other-shop.myshopify.com"
SMALL_BUFFER = ((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),)


@pytest.fixture
def publisher(redis):
    return EventPublisher(redis, log_size=10_000)


def _job(job_id, state="running", message=""):
    return {"id": job_id, "kind": "webhook", "state": state, "message": message}


def _publish(publisher, count, shop=DEFAULT_SHOP, message="", first_id=1):
    return [publisher.publish(shop, _job(first_id + i, message=message), 1) for i in range(count)]


def _assert_consecutive(seqs):
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap or a duplicate in the stream"


def test_the_snapshot_lists_the_shops_jobs_at_the_current_seq(web_server, session_token, db, publisher):
    with db.session() as s:
        s.add_all([Job(shop_domain=DEFAULT_SHOP, kind="webhook", topic="orders/create"),
                   Job(shop_domain=OTHER_SHOP, kind="webhook", topic="orders/create")])
        s.commit()
        mine = s.query(Job).filter_by(shop_domain=DEFAULT_SHOP).one().to_dict()
    seq = _publish(publisher, 1)[0]
    with connect(web_server(), session_token()) as ws:
        assert ws.recv_json() == {"type": "snapshot", "seq": seq, "jobs": [mine]}


def test_reconnecting_with_since_replays_what_was_missed_then_continues_live(web_server, session_token, publisher):
    server = web_server()
    seqs = _publish(publisher, 5)
    with connect(server, session_token(), since=seqs[1]) as ws:
        replayed = ws.recv_jobs(3)
        assert [m["seq"] for m in replayed] == seqs[2:]
        assert [m["job"]["id"] for m in replayed] == [3, 4, 5]
        live = _publish(publisher, 1, first_id=6)[0]
        assert ws.recv_json() == {"type": "job", "seq": live, "job": _job(6)}


def test_since_at_the_current_seq_sends_nothing_until_the_next_event(web_server, session_token, publisher):
    server = web_server()
    seq = _publish(publisher, 2)[-1]
    with connect(server, session_token(), since=seq) as ws:
        ws.assert_silent(0.5)
        live = _publish(publisher, 1, first_id=9)[0]
        assert ws.recv_json()["seq"] == live == seq + 1


def test_since_older_than_the_log_gets_a_fresh_snapshot(web_server, session_token, redis):
    server = web_server(env={"EVENT_LOG_SIZE": "3"})
    short_log = EventPublisher(redis, log_size=3)
    seqs = [short_log.publish(DEFAULT_SHOP, _job(i), 1) for i in range(1, 8)]
    with connect(server, session_token(), since=seqs[0]) as ws:
        assert ws.recv_json() == {"type": "snapshot", "seq": seqs[-1], "jobs": []}


@pytest.mark.parametrize("since", ["abc", "-1", "1e3", "9" * 40])
def test_a_malformed_since_gets_a_snapshot(web_server, session_token, publisher, since):
    server = web_server()
    seq = _publish(publisher, 1)[0]
    with connect(server, session_token(), since=since) as ws:
        assert ws.recv_json() == {"type": "snapshot", "seq": seq, "jobs": []}


def test_sockets_connecting_during_a_burst_miss_nothing_and_repeat_nothing(web_server, session_token, publisher):
    server = web_server()
    total = 1500
    start = _publish(publisher, 1)[0]
    stop_at = start + total
    burst = threading.Thread(target=_publish, args=(publisher, total), kwargs={"first_id": 100})
    burst.start()
    clients = []
    try:
        for i in range(6):
            since = None if i % 2 else publisher.current_seq(DEFAULT_SHOP)
            clients.append((since, connect(server, session_token(), since=since)))
        burst.join()
        for since, ws in clients:
            received = ws.recv_until(lambda m: m.get("seq") == stop_at, timeout=60)
            first = received[0]
            if since is None:
                assert first["type"] == "snapshot"
                jobs = [m["seq"] for m in received[1:]]
                assert not jobs or jobs[0] == first["seq"] + 1
            else:
                jobs = [m["seq"] for m in received]
                assert jobs[0] == since + 1
            assert all(m["type"] == "job" for m in received[1:])
            if jobs:
                _assert_consecutive(jobs)
    finally:
        for _since, ws in clients:
            ws.close()


def test_a_slow_reader_still_gets_every_frame_whole(web_server, session_token, publisher):
    # The kernel buffers fill while the client does not read, so the server's writes are partial: each
    # must still be completed (a truncated frame would fail the client with 1002).
    server = web_server(env={"WS_QUEUE_SIZE": "10000"})
    with connect(server, session_token(), sockopt=SMALL_BUFFER) as ws:
        ws.recv_json()
        seqs = _publish(publisher, 5000, message="m" * 2000)  # 10 MB: more than the kernel buffers hold
        received = []
        while len(received) < 5000:
            received.extend(m["seq"] for m in ws.recv_jobs(100, timeout=60))
            time.sleep(0.005)  # read slowly
        assert received == seqs


def test_a_client_that_falls_behind_is_closed_with_1013_and_resyncs_with_since(web_server, session_token, publisher):
    server = web_server(env={"WS_QUEUE_SIZE": "50", "EVENT_LOG_SIZE": "10000"})
    token = session_token()
    _publish(publisher, 1)
    received = []
    with connect(server, token, sockopt=SMALL_BUFFER) as ws:
        received.append(ws.recv_json()["seq"])  # the snapshot's
        seqs = [received[0]] + _publish(publisher, 5000, message="m" * 2000, first_id=2)
        try:
            while True:  # what arrives before the close is whole and in order
                received.append(ws.recv_json(timeout=60)["seq"])
        except ClosedError as closed:
            assert closed.code == 1013
    with connect(server, token, since=received[-1]) as ws:  # like a page: resync from its last seq
        while not received or received[-1] != seqs[-1]:
            received.append(ws.recv_json(timeout=60)["seq"])
    assert received == seqs


def _read_all(server, token, ws, last_seq, into):
    """Read job seqs into `into` until `last_seq`; after a 1013 (fell behind) resync with since, like a page."""
    while not into or into[-1] != last_seq:
        try:
            into.append(ws.recv_json(timeout=60)["seq"])
        except ClosedError as closed:
            assert closed.code == 1013
            ws.close()  # the server closed it; close ours too, or its socket lingers until GC
            ws = connect(server, token, since=into[-1] if into else None)
            if not into:
                ws.recv_json()  # snapshot
    ws.close()


def test_a_client_that_never_reads_does_not_delay_the_others(web_server, session_token, publisher):
    # 5000 events of 8 KB: far more than the stuck socket's kernel buffers (4 MB at most) and its queue.
    server = web_server()
    token = session_token()
    _publish(publisher, 1)  # seeds the shop's seq, so that the next ones are known in advance
    with connect(server, token, sockopt=SMALL_BUFFER) as stuck, connect(server, token) as ok:
        stuck.recv_json(), ok.recv_json()
        received = []
        first = publisher.current_seq(DEFAULT_SHOP) + 1
        reader = threading.Thread(target=_read_all, args=(server, token, ok, first + 4999, received))
        reader.start()
        seqs = _publish(publisher, 5000, message="m" * 8000, first_id=2)
        reader.join()
        assert seqs[0] == first and received == seqs
        assert stuck.expect_close(timeout=60) == 1013


def test_the_server_sends_heartbeat_pings(web_server, session_token):
    import websocket

    with connect(web_server(env={"WS_PING_SECONDS": "0.5"}), session_token()) as ws:
        ws.recv_json()
        ws.ws.settimeout(15)
        opcodes = set()
        while websocket.ABNF.OPCODE_PING not in opcodes:
            opcodes.add(ws.ws.recv_data_frame(True)[0])


def test_an_uninstall_notice_closes_that_shops_sockets_with_4403(web_server, session_token, publisher, redis):
    server = web_server()
    with connect(server, session_token()) as gone, connect(server, session_token(shop=OTHER_SHOP)) as other:
        gone.recv_json(), other.recv_json()
        notify_shop_uninstalled(redis, DEFAULT_SHOP)
        assert gone.expect_close() == 4403
        seq = _publish(publisher, 1, shop=OTHER_SHOP)[0]
        assert other.recv_json()["seq"] == seq


def test_an_uninstalled_shop_cannot_open_a_socket(web_server, session_token, db):
    with db.session() as s:
        s.add(Shop(domain=DEFAULT_SHOP, installed=False))
        s.commit()
    with connect(web_server(), session_token()) as ws, pytest.raises(ClosedError) as closed:
        ws.recv_text()
    assert closed.value.code == 4403


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["graceful", "quick"])
def test_a_server_shutdown_closes_sockets_with_1001(web_server, session_token, signum):
    server = web_server()
    with connect(server, session_token()) as ws:
        ws.recv_json()
        server.signal(signum)
        assert ws.expect_close(timeout=30) == 1001


@pytest.mark.parametrize("workers", [1, 2])
def test_every_socket_on_every_web_process_gets_each_event_exactly_once(web_server, session_token, publisher,
                                                                        workers):
    servers = [web_server(workers=workers), web_server(workers=workers)]
    clients = [connect(servers[i % 2], session_token()) for i in range(8)]
    try:
        for ws in clients:
            ws.recv_json()
        seqs = _publish(publisher, 200)
        for ws in clients:
            assert [m["seq"] for m in ws.recv_jobs(200, timeout=60)] == seqs
            ws.assert_silent(0.2)
    finally:
        for ws in clients:
            ws.close()
