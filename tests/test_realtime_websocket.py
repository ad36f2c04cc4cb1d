"""The websocket seam (shopapp/realtime/websocket.py) writes what the libraries would write."""
from __future__ import annotations

import socket
import threading

import pytest
from wsproto.frame_protocol import FrameProtocol

from shopapp.realtime import websocket


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
def test_a_text_frame_is_the_frame_wsproto_would_send(size):
    payload = ("x" * size).encode()
    assert websocket.text_frame(payload) == FrameProtocol(client=False, extensions=[]).send_data(payload.decode(),
                                                                                                   fin=True)


def test_the_ping_frame_is_wsprotos_ping():
    assert FrameProtocol(client=False, extensions=[]).ping(b"") == websocket.PING_FRAME


def test_a_locked_socket_writes_everything_to_a_slow_reader():
    server, client = socket.socketpair()
    server.setblocking(True)
    guarded = websocket.LockedSocket(server, threading.RLock())
    data = b"y" * 4_000_000  # far more than the socket buffer holds
    received = bytearray()

    def read():
        while len(received) < len(data):
            received.extend(client.recv(65536))

    reader = threading.Thread(target=read)
    reader.start()
    assert guarded.send(data) == len(data)
    reader.join(30)
    server.close()
    client.close()
    assert bytes(received) == data


def test_without_gevent_the_reader_is_the_librarys_own_thread():
    options = websocket.server_options(65536)
    assert options == {"ping_interval": None, "max_message_size": 65536}


@pytest.fixture
def server_ws():
    """A real simple-websocket server connection over a socket pair, and the client's raw end."""
    import simple_websocket

    server_end, client_end = socket.socketpair()
    # The upgrade request as the WSGI server parsed it; the library answers 101 on the socket.
    environ = {"werkzeug.socket": server_end, "REQUEST_METHOD": "GET", "PATH_INFO": "/ws", "HTTP_HOST": "test",
               "HTTP_UPGRADE": "websocket", "HTTP_CONNECTION": "Upgrade", "HTTP_SEC_WEBSOCKET_VERSION": "13",
               "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ=="}
    ws = simple_websocket.Server(environ, **websocket.server_options(65536))
    yield ws, client_end
    client_end.close()
    ws.thread.join(5)


def _send_text(client_end, ws, text: str) -> None:
    """Send one masked text frame as a browser would, and wait until the server's reader has buffered it."""
    ws.event.clear()
    client_end.sendall(FrameProtocol(client=True, extensions=[]).send_data(text, fin=True))
    assert ws.event.wait(10)


def test_receive_nowait_returns_buffered_messages_in_order_like_the_librarys_receive(server_ws):
    ws, client_end = server_ws
    _send_text(client_end, ws, "first")
    _send_text(client_end, ws, "second")
    assert websocket.receive_nowait(ws) == "first"
    assert ws.receive(timeout=0) == "second"  # the stock path takes up where the seam left off
    assert websocket.receive_nowait(ws) is None


def test_receive_nowait_leaves_a_wake_up_set_by_the_hub_for_the_handler(server_ws):
    ws, _ = server_ws
    wake = websocket.wake_event(ws)
    wake.set()  # the hub queued an event or asked for a close while the handler was reading
    assert websocket.receive_nowait(ws) is None
    assert wake.is_set()


def test_receive_nowait_raises_connection_closed_once_the_client_is_gone(server_ws):
    ws, client_end = server_ws
    ws.event.clear()
    client_end.close()
    assert ws.event.wait(10)
    ws.thread.join(5)
    with pytest.raises(websocket.ConnectionClosed):
        websocket.receive_nowait(ws)
