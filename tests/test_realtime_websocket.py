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
