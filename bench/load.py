"""bench/ingest.py's load generator, one process of it: signed webhooks on raw keep-alive sockets (gevent).

    python -m bench.load --port P --count N --concurrency C [--rate R] --prefix ID --body FILE

Sends N orders/create deliveries of FILE's bytes (webhook ids `<prefix>-<i>`, headers and HMAC from the
app's one signer, built before the clock starts) over C connections, or R per second when --rate is given,
and prints one JSON object: {"elapsed" (seconds), "latencies" (seconds, one per answer), "statuses"
({code: count}), "errors" (connections that failed)}. Stops after common.PHASE_TIMEOUT_SECONDS.
"""
from __future__ import annotations

if __name__ == "__main__":  # gevent before anything else is imported
    from gevent import monkey

    monkey.patch_all()

import argparse
import json
import socket
import sys
import time
from pathlib import Path

import gevent

from bench.common import PHASE_TIMEOUT_SECONDS, SHOP, webhook_headers


def raw_request(port: int, body: bytes, webhook_id: str) -> bytes:
    """A POST /webhooks as it goes on the wire: HTTP/1.1, keep-alive, Shopify's signed headers."""
    headers = webhook_headers("orders/create", body, SHOP, webhook_id=webhook_id)
    head = f"POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode() + body


def read_status(sock: socket.socket, buffer: bytearray) -> int:
    """Read one HTTP response (headers and Content-Length body) from `sock`; its status code."""
    while b"\r\n\r\n" not in buffer:
        buffer += _recv(sock)
    head_end = buffer.index(b"\r\n\r\n") + 4
    lines = bytes(buffer[:head_end]).decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(buffer) < head_end + length:
        buffer += _recv(sock)
    del buffer[:head_end + length]
    return int(lines[0].split(" ", 2)[1])


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("server closed the connection")
    return chunk


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--body", type=Path, required=True)
    args = parser.parse_args(argv)
    body = args.body.read_bytes()
    requests_ = [raw_request(args.port, body, f"{args.prefix}-{i}") for i in range(args.count)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]
    start = time.perf_counter()

    def lane(first: int) -> None:
        sock, buffer = None, bytearray()
        try:
            for index in range(first, args.count, args.concurrency):
                if args.rate:
                    gevent.sleep(max(0.0, start + index / args.rate - time.perf_counter()))
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", args.port))
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buffer.clear()
                sent = time.perf_counter()
                try:
                    sock.sendall(requests_[index])
                    status = read_status(sock, buffer)
                except OSError:
                    errors[0] += 1
                    sock.close()
                    sock = None
                    continue
                latencies.append(time.perf_counter() - sent)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            if sock is not None:
                sock.close()

    gevent.joinall([gevent.spawn(lane, i) for i in range(args.concurrency)], timeout=PHASE_TIMEOUT_SECONDS)
    elapsed = time.perf_counter() - start
    print(json.dumps({"elapsed": elapsed, "latencies": latencies, "statuses": statuses, "errors": errors[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
