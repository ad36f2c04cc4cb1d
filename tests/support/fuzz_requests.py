"""Malformed HTTP requests, generated from a seed, for the fuzz test against a real gunicorn.

Each `FuzzRequest` is raw bytes for one connection (sometimes two pipelined requests) and what it breaks:
framing (chunked, Content-Length), headers, encodings, methods, request lines, sizes, JSON bodies (signed
with the app's secret, so the checks behind the HMAC run too), websocket handshakes. Bodies never promise
more than is sent without the sender closing its side, so nothing waits for a deadline.
"""
from __future__ import annotations

import json
import random
import re
import socket
from dataclasses import dataclass

from shopapp.shopify.webhook_signing import sign

PATHS = ("/webhooks", "/api/jobs", "/ws/jobs")
TOPICS = ("orders/create", "products/update", "shop/redact", "customers/redact", "customers/data_request",
          "app/uninstalled", "shop/update", "x" * 300, "", "orders/create\x00", "ordérs/créate")
SHOPS = ("test-shop.myshopify.com", "other-shop.myshopify.com", "evil.example.com", "", "-x.myshopify.com",
         "TEST-SHOP.MYSHOPIFY.COM", "a" * 300 + ".myshopify.com", "test-shop.myshopify.com\x00", "ünï.myshopify.com")
METHODS = ("POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "post", "P\x00ST", "GET /", "",
           "PRI", "FOO-BAR", "G" * 40)
JSON_BODIES = (b"", b"{", b"[]", b"null", b'"x"', b"{}", b'{"a":NaN}', b'{"a":Infinity}', b'{"a":1e400}',
               b'{"note":"\\ud83d"}', b'{"note":"\\u0000"}', b'{"note":"\\udfff\\ud800"}', b"\x00\x00\x00",
               b"\xff\xfe{\x00}\x00", b"\xef\xbb\xbf{}", b'{"a":1}{"b":2}', b"[" * 5000 + b"]" * 5000,
               b'{"shop_domain":"other-shop.myshopify.com","shop_id":1}', b'{"id":' + b"9" * 5000 + b"}",
               b'{"customer":"x","orders_to_redact":5,"shop_domain":"test-shop.myshopify.com","shop_id":1}',
               '{"é":"\u2028\u2029"}'.encode(), b'{"a":"\\x41"}', b"{'a': 1}", b'{"a":01}', b'{"a":.5}')


@dataclass
class FuzzRequest:
    kind: str
    data: bytes
    # Transfer-Encoding gunicorn does not implement: RFC 9112 section 6.1 says 501, a 5xx that is no fault.
    unsupported_coding: bool = False


class Generator:
    """Seeded: the same seed gives the same requests."""

    def __init__(self, seed: int, secret: str, session_token: str):
        self.rng = random.Random(seed)
        self.secret = secret
        self.token = session_token

    def requests(self, count: int) -> list[FuzzRequest]:
        makers = [self.framing, self.headers, self.encodings, self.methods, self.request_line, self.sizes,
                  self.json_body, self.websocket, self.api]
        return [self.rng.choice(makers)() for _ in range(count)]

    # --- pieces ---------------------------------------------------------------------------------------

    def _webhook_headers(self, body: bytes) -> dict[str, str]:
        r = self.rng
        headers = {"X-Shopify-Topic": r.choice(TOPICS), "X-Shopify-Shop-Domain": r.choice(SHOPS),
                   "X-Shopify-Webhook-Id": r.choice([f"w-{r.randrange(10**9)}", "", "x" * 300]),
                   "X-Shopify-Event-Id": r.choice([f"e-{r.randrange(10**9)}", "x" * 300, "é"]),
                   "X-Shopify-API-Version": r.choice(["2025-10", "x" * 40]),
                   "X-Shopify-Triggered-At": r.choice(["2026-11-25T10:00:00Z", "yesterday", "9" * 40]),
                   "X-Shopify-Hmac-Sha256": sign(body, self.secret) if r.random() < 0.7 else r.choice(
                       ["", "forged", "é" * 44, sign(body, "another-secret")]),
                   "Content-Type": r.choice(["application/json", "text/plain", "application/json; charset=utf-16"])}
        for name in r.sample(list(headers), r.randrange(0, 3)):
            del headers[name]
        return headers

    def _head(self, method: str, path: str, headers: dict[str, str], version: str = "HTTP/1.1") -> bytes:
        lines = [f"{method} {path} {version}", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n"

    def _chunked(self, body: bytes) -> bytes:
        r = self.rng
        out, rest = [], body
        while rest:
            size = r.randrange(1, 4096)
            piece, rest = rest[:size], rest[size:]
            out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        out.append(b"0\r\n\r\n")
        data = b"".join(out)
        breakage = r.choice(["none", "size", "extension", "terminator", "truncate", "trailer", "negative", "lf"])
        if breakage == "size":
            data = b"zz" + data
        elif breakage == "extension":
            data = data.replace(b"\r\n", b";\x01=\r\n", 1)
        elif breakage == "terminator":
            data = data.replace(b"\r\n", b"XX", 2)
        elif breakage == "truncate":
            data = data[:r.randrange(0, max(1, len(data)))]
        elif breakage == "trailer":
            data = data[:-2] + b"Bad Trailer\r\n\r\n"
        elif breakage == "negative":
            data = b"-1\r\n" + data
        elif breakage == "lf":
            data = data.replace(b"\r\n", b"\n")
        return data

    def _body(self) -> bytes:
        return self.rng.choice(JSON_BODIES)

    # --- categories ---------------------------------------------------------------------------------

    def framing(self) -> FuzzRequest:
        r = self.rng
        body = self._body()
        headers = self._webhook_headers(body)
        path = r.choice(PATHS)
        style = r.choice(["chunked", "short", "both", "double-cl", "cl-sign", "te-list", "te-case"])
        if style == "chunked":
            headers["Transfer-Encoding"] = "chunked"
            payload = self._chunked(body)
        elif style == "short":
            headers["Content-Length"] = str(len(body) + r.randrange(1, 10**6))
            payload = body
        elif style == "both":
            headers.update({"Transfer-Encoding": "chunked", "Content-Length": str(len(body))})
            payload = self._chunked(body)
        elif style == "double-cl":
            return FuzzRequest("framing", self._head("POST", path, headers).replace(
                b"\r\n\r\n", f"\r\nContent-Length: {len(body)}\r\nContent-Length: {len(body) + 1}\r\n\r\n".encode())
                + body)
        elif style == "cl-sign":
            headers["Content-Length"] = r.choice([f"+{len(body)}", f"{len(body)} ", "0x10", "-1", "1e3", "٣"])
            payload = body
        elif style == "te-list":
            headers["Transfer-Encoding"] = r.choice(["chunked, chunked", "identity, chunked", "chunked, identity"])
            payload = self._chunked(body)
        else:
            headers["Transfer-Encoding"] = r.choice(["Chunked", "CHUNKED", " chunked"])
            payload = self._chunked(body)
        return FuzzRequest("framing", self._head("POST", path, headers) + payload)

    def headers(self) -> FuzzRequest:
        r = self.rng
        body = self._body()
        headers = self._webhook_headers(body)
        headers["Content-Length"] = str(len(body))
        broken = r.choice(["space", "colon", "nul", "utf8", "long", "many", "fold", "nocolon", "ctl", "empty"])
        head = self._head("POST", r.choice(PATHS), headers)
        extra = {
            "space": b"Bad Name: x", "colon": b": novalue", "nul": b"X-Shopify-Topic: a\x00b",
            "utf8": "X-Shöp: ü".encode(), "long": b"X-Long: " + b"a" * r.choice([9000, 20000]),
            "many": b"\r\n".join(b"X-H%d: v" % i for i in range(r.choice([101, 300]))),
            "fold": b"X-Folded: a\r\n  b", "nocolon": b"JustAName", "ctl": b"X-Ctl: a\x7fb\x1bc", "empty": b"",
        }[broken]
        head = head[:-2] + extra + b"\r\n\r\n" if extra else head
        return FuzzRequest("headers", head + body)

    def encodings(self) -> FuzzRequest:
        r = self.rng
        body = r.choice([b"\xff\xfe\x00\x00", '{"a":"é"}'.encode("utf-16"), '{"a":"é"}'.encode("latin-1"),
                         b'{"a":"\xed\xa0\x80"}', b'{"a":"\xc0\xaf"}', b"\x00" * 64, b'{"a":"\\ud83d\\u0000"}'])
        headers = self._webhook_headers(body)
        headers["Content-Length"] = str(len(body))
        coding = r.choice(["gzip", "deflate", "br", "compress", "x-unknown", ""])
        if coding:
            headers[r.choice(["Content-Encoding", "Transfer-Encoding"])] = coding
        unsupported = headers.get("Transfer-Encoding", "") in ("br", "x-unknown")
        return FuzzRequest("encodings", self._head("POST", r.choice(PATHS), headers) + body, unsupported)

    def methods(self) -> FuzzRequest:
        r = self.rng
        body = self._body()
        headers = self._webhook_headers(body)
        headers["Content-Length"] = str(len(body))
        return FuzzRequest("methods", self._head(r.choice(METHODS), r.choice(PATHS), headers) + body)

    def request_line(self) -> FuzzRequest:
        r = self.rng
        line = r.choice([
            b"POST /webhooks HTTP/2.0", b"POST /webhooks HTTP/1.2", b"POST /webhooks", b"POST  /webhooks HTTP/1.1",
            b"POST http://127.0.0.1/webhooks HTTP/1.1", b"POST /webhooks?" + b"a" * 9000 + b" HTTP/1.1",
            b"POST /webhooks%00 HTTP/1.1", b"POST /../webhooks HTTP/1.1", b"POST *  HTTP/1.1", b"\x16\x03\x01\x02",
            b"POST /api/jobs/%ff HTTP/1.1", b"GET /ws/jobs?id_token=%zz HTTP/1.1", b"POST /webhooks HTTP/1.1 extra",
            b"POST /webhooks\tHTTP/1.1", b"PRI * HTTP/2.0\r\n\r\nSM",
        ])
        return FuzzRequest("request line", line + b"\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")

    def sizes(self) -> FuzzRequest:
        r = self.rng
        size = r.choice([0, 1, 1023, 65537, 300_000])
        body = b'{"a":"' + b"x" * max(0, size - 8) + b'"}'
        headers = self._webhook_headers(body)
        declared = r.choice([len(body), 2 * 1024 ** 3, 17 * 1024 ** 2, 0])
        headers["Content-Length"] = str(declared)
        return FuzzRequest("sizes", self._head("POST", r.choice(PATHS), headers) + body[:declared])

    def json_body(self) -> FuzzRequest:
        r = self.rng
        body = self._body()
        if r.random() < 0.3:
            body = json.dumps({"shop_domain": r.choice(SHOPS), "shop_id": r.choice([1, "1", None, True]),
                               "customer": r.choice([{}, None, []]), "myshopify_domain": r.choice(SHOPS),
                               "orders_to_redact": r.choice([[], None, 1])}).encode()
        headers = self._webhook_headers(body)
        headers["Content-Length"] = str(len(body))
        return FuzzRequest("json", self._head("POST", "/webhooks", headers) + body)

    def websocket(self) -> FuzzRequest:
        r = self.rng
        headers = {"Upgrade": r.choice(["websocket", "WebSocket", "h2c", "websocket, foo", ""]),
                   "Connection": r.choice(["Upgrade", "keep-alive", "upgrade, close", ""]),
                   "Sec-WebSocket-Version": r.choice(["13", "8", "99", "", "thirteen"]),
                   "Sec-WebSocket-Key": r.choice(["", "short", "dGhlIHNhbXBsZSBub25jZQ==" + "x", "é" * 24]),
                   "Sec-WebSocket-Extensions": r.choice(["permessage-deflate; bad", "", "x" * 5000])}
        for name in r.sample(list(headers), r.randrange(1, 4)):  # always something missing
            del headers[name]
        token = r.choice([self.token, "", "not.a.token", "é"])
        return FuzzRequest("websocket", self._head(r.choice(["GET", "POST"]), f"/ws/jobs?id_token={token}", headers))

    def api(self) -> FuzzRequest:
        r = self.rng
        body = r.choice([b'{"kind": "sync_products"', b"[]", b'{"kind": 5}', b"\xff", b'{"kind": "x" }' * 2000])
        headers = {"Authorization": r.choice([f"Bearer {self.token}", "Bearer x", "Basic abc", ""]),
                   "Content-Type": r.choice(["application/json", "text/plain"])}
        if r.random() < 0.5:
            headers["Transfer-Encoding"] = "chunked"
            body = self._chunked(body)
        else:
            headers["Content-Length"] = str(len(body) + r.choice([0, 0, 7]))
        path = r.choice(["/api/jobs", "/api/jobs/1/retry", "/api/jobs/99999999999999999999/retry",
                         "/api/jobs?limit=-1"])
        return FuzzRequest("api", self._head(r.choice(["POST", "GET"]), path, headers) + body)


_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def exchange(port: int, request: FuzzRequest, timeout: float = 30.0) -> list[int]:
    """Send `request` on a new connection, close the sending side, read until the server closes; the status
    codes of every response it sent (a 101 ends the reading: the connection is a websocket then)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request.data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before it took everything (a 413, a 400)
            pass
        received = bytearray()
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
            if b" 101 " in received[:20]:
                break
    return [int(code) for code in _STATUS.findall(bytes(received))]
