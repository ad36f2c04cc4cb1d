"""The realtime code also runs under plain threads (Flask's development server), not only gevent."""
import threading

import pytest
from werkzeug.serving import make_server

from shopapp.events.publisher import EventPublisher
from shopapp.realtime import get_hub
from shopapp.testing import SHOP as DEFAULT_SHOP
from tests.support.ws_client import connect


class ThreadedServer:
    """The app under werkzeug's threaded server, in a background thread."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.ws_url = f"ws://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        get_hub(self.app).shutdown(wait=5)
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        get_hub(self.app).stop()


@pytest.fixture
def threaded_server(app):
    server = ThreadedServer(app)
    yield server
    server.stop()


def test_live_events_reach_a_socket_served_by_threads(threaded_server, session_token, redis):
    with connect(threaded_server, session_token()) as ws:
        assert ws.recv_json()["type"] == "snapshot"
        seq = EventPublisher(redis).publish(DEFAULT_SHOP, {"id": 1, "state": "queued"}, 1)
        assert ws.recv_json() == {"type": "job", "seq": seq, "job": {"id": 1, "state": "queued"}}


def test_a_bad_token_is_refused_with_4401_under_threads_too(threaded_server):
    with connect(threaded_server, "bad") as ws:
        assert ws.expect_close() == 4401


def test_shutdown_closes_sockets_with_1001_under_threads(threaded_server, session_token):
    with connect(threaded_server, session_token()) as ws:
        ws.recv_json()
        get_hub(threaded_server.app).shutdown()
        assert ws.expect_close() == 1001
