"""The websocket seam (shopapp/realtime/websocket.py) writes what the libraries would write."""
from __future__ import annotations

import socket
import threading
from collections import deque

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


def _open(**options):
    """A real simple-websocket server connection over a socket pair (with `options` on top of ours), and the
    client's raw end, past the library's 101 answer."""
    import simple_websocket

    server_end, client_end = socket.socketpair()
    # The upgrade request as the WSGI server parsed it; the library answers 101 on the socket.
    environ = {"werkzeug.socket": server_end, "REQUEST_METHOD": "GET", "PATH_INFO": "/ws", "HTTP_HOST": "test",
               "HTTP_UPGRADE": "websocket", "HTTP_CONNECTION": "Upgrade", "HTTP_SEC_WEBSOCKET_VERSION": "13",
               "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ=="}
    ws = simple_websocket.Server(environ, **{**websocket.server_options(1000), **options})
    answer = b""
    while not answer.endswith(b"\r\n\r\n"):
        answer += client_end.recv(1)
    assert answer.startswith(b"HTTP/1.1 101")
    return ws, client_end


@pytest.fixture
def server_ws():
    ws, client_end = _open()
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


def _client_frames(*texts: str) -> bytes:
    client = FrameProtocol(client=True, extensions=[])
    return b"".join(client.send_data(text, fin=True) for text in texts)


CLIENT_BYTES = {
    "messages and a ping": _client_frames("first", "second") + FrameProtocol(client=True, extensions=[]).ping(b"p"),
    "a close": _client_frames("last") + FrameProtocol(client=True, extensions=[]).close(1000, "bye"),
    "a message over the limit": _client_frames("x" * 1500),
    "garbage": b"\x00\xff" * 8,
}


def _outcome(ws, client_end, sent: bytes) -> tuple:
    client_end.sendall(sent)
    client_end.shutdown(socket.SHUT_WR)  # then the peer is gone: both readers end
    websocket.wait_reader(ws, 10)
    websocket.release(ws)
    answered = b""
    while chunk := client_end.recv(65536):
        answered += chunk
    client_end.close()
    return list(ws.input_buffer), answered, ws.connected, ws.thread.is_alive()


@pytest.mark.parametrize("case", CLIENT_BYTES)
def test_the_inline_reader_hands_on_messages_pongs_and_closes_like_the_librarys_reader(case):
    stock = _outcome(*_open(), CLIENT_BYTES[case])
    inline = _outcome(*_open(thread_class=websocket.InlineReader), CLIENT_BYTES[case])
    assert inline == stock


@pytest.mark.parametrize("case", CLIENT_BYTES)
def test_after_the_handshake_is_released_the_socket_hands_on_the_same_as_the_librarys_reader(case):
    stock = _outcome(*_open(), CLIENT_BYTES[case])
    ws, client_end = _open(thread_class=websocket.InlineReader)
    websocket.release_handshake(ws)  # as /ws/jobs does: wsproto's event queue is a list from here on
    assert type(ws.ws.connection._events) is not deque
    assert _outcome(ws, client_end, CLIENT_BYTES[case]) == stock


def test_with_the_librarys_reader_thread_wsprotos_event_queue_is_left_alone(server_ws):
    ws, _ = server_ws
    websocket.release_handshake(ws)  # its reader thread may be appending to the deque meanwhile
    assert type(ws.ws.connection._events) is deque


def test_the_inline_reader_wakes_the_handler_when_the_clients_bytes_arrive():
    import gevent.event

    ws, client_end = _open(thread_class=websocket.InlineReader, event_class=gevent.event.Event)
    try:
        wake = websocket.wake_event(ws)
        assert websocket.receive_nowait(ws) is None
        client_end.sendall(_client_frames("hello"))
        assert wake.wait(10)  # gevent's loop runs the socket's watcher meanwhile
        assert websocket.receive_nowait(ws) == "hello"
        assert websocket.receive_nowait(ws) is None
    finally:
        client_end.close()
        websocket.wait_reader(ws, 5)
        websocket.release(ws)
