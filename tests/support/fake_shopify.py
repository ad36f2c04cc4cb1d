"""A local stand-in for Shopify's OAuth and Admin GraphQL endpoints: a real threaded HTTP server on loopback.

It speaks Shopify's shapes, tells shops apart by the `Host` header (the app's transport keeps the shop's
host when SHOPIFY_ADMIN_ORIGIN points here), and counts every request so tests can assert, for example,
that exactly one refresh reached it.

- `GET /admin/oauth/authorize`: redirects to the app's `redirect_uri` with a code and a signed query,
  as Shopify does after the merchant approves;
- `POST /admin/oauth/access_token`: the authorization_code, token-exchange (session token, and migration of
  a non-expiring offline token) and refresh_token grants, with Shopify's JSON and error bodies
  (`invalid_subject_token`, `invalid_grant`, `invalid_client`, `invalid_request`);
- `POST /admin/api/{version}/graphql.json`: `productsCount`, `products(...)`, `ordersCount`, `orders(...)`
  (tests/support/fake_catalog.py: cursors, `first`, the `updated_at:>` search filter) and `shop`, with
  `extensions.cost` from a per-shop leaky bucket, `THROTTLED` errors, 401 for an unknown or expired token,
  and 429 / 5xx on demand (`fail`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlparse

import jwt

from tests.support.fake_catalog import Order, Product, listed, page, timestamp

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>[0-9]{4}-[0-9]{2}|unstable)/graphql\.json$")


@dataclass
class Fault:
    """An answer to give instead of the real one, `times` times, for one kind of request."""

    kind: str        # "graphql", or a grant: "authorization_code", "token_exchange", "migration", "refresh_token"
    status: int
    body: dict | str | None = None
    headers: dict = field(default_factory=dict)
    times: int = 1


class FakeShopify:
    """The stand-in's state and controls. `start()` it, point SHOPIFY_ADMIN_ORIGIN at `.url`, `stop()` it."""

    def __init__(self, api_key: str, api_secret: str, access_ttl: int = 3600, refresh_ttl: int = 90 * 86400):
        self.api_key, self.api_secret = api_key, api_secret
        self.access_ttl, self.refresh_ttl = access_ttl, refresh_ttl
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.requests: list[dict] = []
        self.access_tokens: dict[str, dict] = {}    # token -> {"shop", "expires_at" or None}
        self.refresh_tokens: dict[str, dict] = {}   # token -> {"shop", "expires_at"}
        self.codes: dict[str, str] = {}             # authorization code -> shop
        self.products: dict[str, list[Product]] = {}
        self.orders: dict[str, list[Order]] = {}
        self.faults: list[Fault] = []
        self.invalid_subject_shops: set[str] = set()
        self.refresh_delay = 0.0      # widen the window in which concurrent refreshes could collide
        self.page_delay = 0.0         # seconds before answering each products page (a slow, big shop)
        self.max_available, self.restore_rate = 1000.0, 50.0
        self._buckets: dict[str, tuple[float, float]] = {}   # shop -> (available, at)
        self._hold_products = threading.Event()
        self._hold_products.set()
        self._hold_after: int | None = None
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeShopify:
        fake = self

        class Handler(_Handler):
            shopify = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-shopify", daemon=True).start()
        return self

    def stop(self) -> None:
        self._hold_products.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- controls for tests ---------------------------------------------------------------------

    def issue_offline_token(self, shop: str, expiring: bool = True, expires_in: int | None = None) -> dict:
        """Tokens as if the shop had installed the app: {"access_token", "refresh_token", ...} (Shopify JSON)."""
        with self.lock:
            return self._issue(shop, expiring, expires_in)

    def issue_code(self, shop: str) -> str:
        """An authorization code for `shop`, as the authorize step hands the app."""
        code = secrets.token_hex(16)
        with self.lock:
            self.codes[code] = shop
        return code

    def add_products(self, shop: str, count: int, since: datetime | None = None) -> list[Product]:
        """`count` more products for `shop` (ids from 1000, updated a minute apart from `since`, default
        2026-01-01)."""
        with self.lock:
            items = self.products.setdefault(shop, [])
            start = len(items)
            for i in range(start, start + count):
                items.append(Product(id=1000 + i, title=f"Product {i + 1}", updated_at=timestamp(i, since)))
            return list(items)

    def add_orders(self, shop: str, count: int, since: datetime | None = None) -> list[Order]:
        """`count` more orders for `shop` (ids from 5000, names from #1001, updated a minute apart from `since`,
        default 2026-01-01)."""
        with self.lock:
            items = self.orders.setdefault(shop, [])
            start = len(items)
            for i in range(start, start + count):
                items.append(Order(id=5000 + i, name=f"#{1001 + i}", updated_at=timestamp(i, since)))
            return list(items)

    def fail(self, kind: str, status: int, body=None, headers: dict | None = None, times: int = 1) -> None:
        """Answer the next `times` requests of `kind` with `status` (and `body`, `headers`)."""
        with self.lock:
            self.faults.append(Fault(kind, status, body, headers or {}, times))

    def revoke(self, shop: str) -> None:
        """Revoke every token of `shop` (as an uninstall or a revoked grant does)."""
        with self.lock:
            for table in (self.access_tokens, self.refresh_tokens):
                for token in [t for t, info in table.items() if info["shop"] == shop]:
                    del table[token]

    def expire_access_tokens(self, shop: str) -> None:
        """Make every access token of `shop` answer 401 (expired), leaving refresh tokens valid."""
        with self.lock:
            for info in self.access_tokens.values():
                if info["shop"] == shop:
                    info["expires_at"] = time.time() - 1

    def set_bucket(self, shop: str, available: float, maximum: float | None = None,
                   restore_rate: float | None = None) -> None:
        """Set the shop's query-cost bucket (to provoke THROTTLED): it holds `available` points when the next
        request arrives, however long the test took to send it, and restores from then on."""
        with self.lock:
            if maximum is not None:
                self.max_available = maximum
            if restore_rate is not None:
                self.restore_rate = restore_rate
            self._buckets[shop] = (available, None)

    def hold_products_after(self, pages: int) -> None:
        """Serve `pages` product pages, then hold further ones until `release_products()`."""
        self._hold_after = pages
        self._hold_products.clear()

    def release_products(self) -> None:
        self._hold_products.set()

    def count(self, kind: str) -> int:
        """Requests of `kind` received: a grant name, "graphql", "authorize", or "graphql:throttled"."""
        with self.lock:
            return self.counts[kind]

    def requests_of(self, kind: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["kind"] == kind]

    # --- behaviour ------------------------------------------------------------------------------

    def _issue(self, shop: str, expiring: bool, expires_in: int | None = None) -> dict:
        access = "shpat_" + secrets.token_hex(16)
        body = {"access_token": access, "scope": "read_products,read_orders"}
        if expiring:
            ttl = self.access_ttl if expires_in is None else expires_in
            refresh = "shprt_" + secrets.token_hex(16)
            self.access_tokens[access] = {"shop": shop, "expires_at": time.time() + ttl}
            self.refresh_tokens[refresh] = {"shop": shop, "expires_at": time.time() + self.refresh_ttl}
            body.update(expires_in=ttl, refresh_token=refresh, refresh_token_expires_in=self.refresh_ttl)
        else:
            self.access_tokens[access] = {"shop": shop, "expires_at": None}
        return body

    def _take_fault(self, kind: str) -> Fault | None:
        for fault in self.faults:
            if fault.kind == kind and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def token_request(self, shop: str, params: dict) -> tuple[int, dict]:
        grant = params.get("grant_type") or ("authorization_code" if "code" in params else "")
        if grant == TOKEN_EXCHANGE:
            grant = "migration" if params.get("subject_token_type") == OFFLINE_TOKEN_TYPE else "token_exchange"
        with self.lock:
            self.counts[grant] += 1
            self.requests.append({"kind": grant, "shop": shop, "at": time.monotonic(),
                                  "expiring": str(params.get("expiring", ""))})
            fault = self._take_fault(grant)
        if fault:
            return fault.status, fault.body if fault.body is not None else {"error": "server_error"}
        if params.get("client_id") != self.api_key or params.get("client_secret") != self.api_secret:
            return 400, _error("invalid_client", "Client authentication failed.")
        expiring = str(params.get("expiring", "0")) == "1"
        if grant == "refresh_token":
            if self.refresh_delay:
                time.sleep(self.refresh_delay)
            with self.lock:
                info = self.refresh_tokens.pop(params.get("refresh_token", ""), None)
                if info is None or info["shop"] != shop or info["expires_at"] < time.time():
                    return 400, _error("invalid_grant", "The refresh token is invalid, expired or revoked.")
                return 200, self._issue(shop, True)
        if grant == "token_exchange":
            if params.get("requested_token_type") != OFFLINE_TOKEN_TYPE:
                return 400, _error("invalid_request", "Unsupported requested_token_type.")
            if shop in self.invalid_subject_shops or not self._valid_session_token(shop, params.get("subject_token")):
                return 400, _error("invalid_subject_token", "Session token is invalid.")
            with self.lock:
                return 200, self._issue(shop, expiring)
        if grant == "migration":
            with self.lock:
                info = self.access_tokens.get(params.get("subject_token", ""))
                if info is None or info["shop"] != shop or info["expires_at"] is not None:
                    return 400, _error("invalid_subject_token", "The offline access token is invalid.")
                del self.access_tokens[params["subject_token"]]  # no longer valid for the Admin API
                return 200, self._issue(shop, True)
        if grant == "authorization_code":
            with self.lock:
                if self.codes.pop(params.get("code", ""), None) != shop:
                    return 400, _error("invalid_request",
                                       "The authorization code was not found or was already used")
                return 200, self._issue(shop, expiring)
        return 400, _error("unsupported_grant_type", "Unsupported grant type.")

    def _valid_session_token(self, shop: str, token: str | None) -> bool:
        try:
            claims = jwt.decode(token or "", self.api_secret, algorithms=["HS256"], audience=self.api_key)
        except jwt.PyJWTError:
            return False
        return urlparse(claims.get("dest", "")).hostname == shop

    def authorize(self, shop: str, query: dict) -> tuple[int, dict]:
        with self.lock:
            self.counts["authorize"] += 1
        if query.get("client_id") != self.api_key:
            return 400, {}
        code = self.issue_code(shop)
        params = {"code": code, "host": base64.b64encode(f"{shop}/admin".encode()).decode().rstrip("="),
                  "shop": shop, "state": query.get("state", ""), "timestamp": str(int(time.time()))}
        params["hmac"] = sign_query(params, self.api_secret)
        return 302, {"Location": f"{query['redirect_uri']}?{urlencode(params)}"}

    def graphql(self, shop: str, version: str, token: str | None, body: dict) -> tuple[int, dict, dict]:
        with self.lock:
            self.counts["graphql"] += 1
            self.requests.append({"kind": "graphql", "shop": shop, "at": time.monotonic(), "version": version})
            fault = self._take_fault("graphql")
            info = self.access_tokens.get(token or "")
        if fault:
            return fault.status, fault.body if fault.body is not None else {"errors": "Internal error"}, fault.headers
        expired = info is not None and info["expires_at"] is not None and info["expires_at"] < time.time()
        if info is None or info["shop"] != shop or expired:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, {}
        query = body.get("query") or ""
        variables = body.get("variables") or {}
        if "productsCount" in query or "ordersCount" in query:
            cost, data = 1, None
        elif re.search(r"\b(products|orders)\s*\(", query):
            cost, data = 2 + int(variables.get("first", 10)), None
        else:
            cost, data = 1, {"shop": {"name": shop.split(".")[0], "myshopifyDomain": shop}}
        with self.lock:
            now = time.monotonic()
            available, at = self._buckets.get(shop, (self.max_available, now))
            at = now if at is None else at
            available = min(self.max_available, available + (now - at) * self.restore_rate)
            throttled = cost > available
            if not throttled:
                available -= cost
            self._buckets[shop] = (available, now)
            if throttled:
                self.counts["graphql:throttled"] += 1
        status = {"maximumAvailable": self.max_available, "currentlyAvailable": int(available),
                  "restoreRate": self.restore_rate}
        if throttled:
            return 200, {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                        "throttleStatus": status}}}, {}
        if data is None:
            top_field = re.search(r"\{\s*(\w+)", query).group(1)  # productsCount, products, ordersCount, orders
            data = (self._orders_data if top_field.startswith("orders") else self._products_data)(shop, query,
                                                                                                 variables)
        return 200, {"data": data, "extensions": {"cost": {
            "requestedQueryCost": cost, "actualQueryCost": cost, "throttleStatus": status}}}, {}

    def _products_data(self, shop: str, query: str, variables: dict) -> dict:
        with self.lock:
            items = listed(list(self.products.get(shop, [])), variables, query)
        if "productsCount" in query:
            return {"productsCount": {"count": len(items), "precision": "EXACT"}}
        if self._hold_after is not None:
            with self.lock:
                served = self.counts["products_page"]
                self.counts["products_page"] += 1
            if served >= self._hold_after:
                self._hold_products.wait(30)
        if self.page_delay:
            time.sleep(self.page_delay)
        return page("products", items, variables)

    def _orders_data(self, shop: str, query: str, variables: dict) -> dict:
        with self.lock:
            items = listed(list(self.orders.get(shop, [])), variables, query)
        if "ordersCount" in query:
            return {"ordersCount": {"count": len(items), "precision": "EXACT"}}
        return page("orders", items, variables)


def _error(code: str, description: str) -> dict:
    return {"error": code, "error_description": description}


def sign_query(params: dict, secret: str) -> str:
    """The `hmac` of an OAuth query as Shopify computes it (sorted `k=v` pairs joined by `&`, hex SHA-256)."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    shopify: FakeShopify
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:  # quiet: tests read counts, not logs
        pass

    def _shop(self) -> str:
        return (self.headers.get("Host") or "").split(":")[0].lower()

    def _send(self, status: int, body: dict | str | None = None, headers: dict | None = None) -> None:
        raw = (body if isinstance(body, str) else json.dumps(body if body is not None else {})).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> dict:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
        return dict(parse_qsl(raw.decode()))

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        if parsed.path == "/admin/oauth/authorize":
            status, headers = self.shopify.authorize(self._shop(), dict(parse_qsl(parsed.query)))
            self._send(status, {}, headers)
        else:
            self._send(404, {"errors": "Not Found"})

    def do_POST(self) -> None:
        parsed = urlparse(self.path)
        body = self._body()
        shop = self._shop()
        if not shop.endswith(".myshopify.com"):
            self._send(400, {"errors": "Unknown shop"})
        elif parsed.path == "/admin/oauth/access_token":
            params = dict(body, **dict(parse_qsl(parsed.query)))
            status, payload = self.shopify.token_request(shop, params)
            self._send(status, payload)
        elif (match := GRAPHQL_PATH.match(parsed.path)):
            status, payload, headers = self.shopify.graphql(shop, match["version"],
                                                            self.headers.get("X-Shopify-Access-Token"), body)
            self._send(status, payload, headers)
        else:
            self._send(404, {"errors": "Not Found"})
