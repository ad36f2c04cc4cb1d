"""The Admin GraphQL client for workers: one shop, its offline token, Shopify's limits respected.

One attempt is `shopify_app.admin_graphql_request` with its own retries off (`max_retries=0`): its
retries would bypass the shared per-shop budget, it reads Retry-After as whole seconds and does not
retry a plain 500. The policy around each attempt is ours:
- every attempt first takes a slot of the shop's shared request budget (`RequestBudget`);
- cost-based throttling: `extensions.cost.throttleStatus` of each answer is kept; before a request whose
  cost would not fit, and after a `THROTTLED` error, wait until enough points are restored
  ((requestedQueryCost - currentlyAvailable) / restoreRate), then retry;
- 429: wait Retry-After (or back off), then retry; 5xx and network errors: exponential back-off with
  jitter, then retry; up to MAX_RETRIES each;
- 401: refresh the offline token once (under the shop's lock, `OfflineTokens`) and retry; a second 401
  flags the shop `needs_reauth` and raises ReauthorizationRequiredError.
`paginate` walks a connection with cursors.
"""
from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import shopify_app

from shopapp.config import Config
from shopapp.shopify.errors import AdminApiError, ReauthorizationRequiredError
from shopapp.shopify.offline_tokens import OfflineTokens
from shopapp.shopify.request_budget import RequestBudget
from shopapp.shopify.transport import shop_name

log = logging.getLogger(__name__)

MAX_RETRIES = 5              # per kind of transient failure (429, 5xx/network, THROTTLED) and request
BACKOFF_SECONDS = 0.5        # first back-off after a 5xx; doubles per attempt
BACKOFF_MAX_SECONDS = 16.0
THROTTLE_MAX_WAIT_SECONDS = 60.0


class AdminClient:
    """GraphQL requests to one shop's Admin API (version SHOPIFY_API_VERSION)."""

    def __init__(self, config: Config, tokens: OfflineTokens, budget: RequestBudget, shop: str,
                 http_client: httpx.Client, sleep: Callable[[float], None] = time.sleep):
        self.config, self.tokens, self.budget, self.shop = config, tokens, budget, shop
        self.http_client = http_client
        self.sleep = sleep
        self.throttle_status: dict | None = None     # the last answer's extensions.cost.throttleStatus
        self.last_cost: float | None = None          # the last answer's requestedQueryCost
        self.points_used = 0.0                       # the sum of the answers' actualQueryCost

    def query(self, query: str, variables: dict | None = None) -> dict:
        """Run `query`; returns its `data`. Raises AdminApiError, ReauthorizationRequiredError, TokenRequestError."""
        retries = {"429": 0, "5xx": 0, "throttled": 0}
        refreshed = False
        token = self.tokens.access_token(self.shop)
        while True:
            self._wait_for_points()
            self.budget.acquire(self.shop)
            result = shopify_app.admin_graphql_request(
                query, shop=shop_name(self.shop), access_token=token, api_version=self.config.SHOPIFY_API_VERSION,
                variables=variables, max_retries=0, http_client=self.http_client)
            raw = result.http_logs[-1].res if result.http_logs else result.response
            body = _json(raw.body)
            self._note_cost(body)
            if result.ok:
                return result.data or {}
            status = raw.status
            if status == 401:
                if refreshed:
                    self.tokens.mark_needs_reauth(self.shop, "unauthorized_after_refresh")
                    raise ReauthorizationRequiredError(self.shop, "unauthorized_after_refresh")
                token, refreshed = self.tokens.renew_after_unauthorized(self.shop, token), True
                continue
            if status == 200 and _is_throttled(body):
                self._retry("throttled", retries, self._throttle_wait())
                continue
            if status == 429:
                self._retry("429", retries, _retry_after(raw.headers) or _backoff(retries["429"]))
                continue
            if status >= 500 or result.log.code == "network_error":
                self._retry("5xx", retries, _backoff(retries["5xx"]), status)
                continue
            errors = body.get("errors") if isinstance(body, dict) else None
            raise AdminApiError(f"Admin API request failed: {_describe(status, errors)}", status,
                                errors if isinstance(errors, list) else [])

    def paginate(self, query: str, path: str, variables: dict | None = None,
                 page_size: int = 50) -> Iterator[list[dict]]:
        """Yield the `nodes` of each page of the connection at `path` (e.g. "products").

        `query` takes `$first: Int!` and `$after: String` and selects `nodes` and
        `pageInfo { hasNextPage endCursor }` of that connection.
        """
        after = None
        while True:
            data = self.query(query, dict(variables or {}, first=page_size, after=after))
            connection: Any = data
            for part in path.split("."):
                connection = (connection or {}).get(part)
            if not isinstance(connection, dict):
                raise AdminApiError(f"Admin API answer has no connection at {path!r}")
            yield list(connection.get("nodes") or [])
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return
            after = info["endCursor"]

    # --- limits ---------------------------------------------------------------------------------

    def _retry(self, kind: str, retries: dict, wait: float, status: int | None = None) -> None:
        retries[kind] += 1
        if retries[kind] > MAX_RETRIES:
            raise AdminApiError(f"Admin API still answering {status or kind} after {MAX_RETRIES} retries",
                                status, retryable=True)
        log.info("Admin API %s, retrying in %.2fs", kind, wait, extra={"shop": self.shop, "status": status})
        self.sleep(wait)

    def _note_cost(self, body: Any) -> None:
        cost = (body.get("extensions") or {}).get("cost") if isinstance(body, dict) else None
        if isinstance(cost, dict):
            self.points_used += _number(cost.get("actualQueryCost")) or 0.0
        if isinstance(cost, dict) and isinstance(cost.get("throttleStatus"), dict):
            self.throttle_status = dict(cost["throttleStatus"], observed_at=time.monotonic())
            self.last_cost = _number(cost.get("requestedQueryCost"))

    def _points_wait(self, needed: float | None) -> float:
        """Seconds until `needed` points are available, by the last throttle status seen."""
        status = self.throttle_status
        if not status or needed is None:
            return 0.0
        rate = _number(status.get("restoreRate")) or 0.0
        available = (_number(status.get("currentlyAvailable")) or 0.0) + \
            (time.monotonic() - status["observed_at"]) * rate
        maximum = _number(status.get("maximumAvailable"))
        needed = min(needed, maximum) if maximum else needed
        if available >= needed or rate <= 0:
            return 0.0
        return min(THROTTLE_MAX_WAIT_SECONDS, (needed - available) / rate)

    def _wait_for_points(self) -> None:
        wait = self._points_wait(self.last_cost)
        if wait > 0:
            self.sleep(wait)

    def _throttle_wait(self) -> float:
        # A THROTTLED answer carries the cost it asked for and the bucket's state (kept by _note_cost):
        # wait for the difference.
        return max(0.05, self._points_wait(self.last_cost))


def admin_client(app, shop: str, http_client: httpx.Client,
                 sleep: Callable[[float], None] = time.sleep) -> AdminClient:
    """An AdminClient for `shop` built from the app's settings, database and Redis (workers, CLI)."""
    from shopapp.config import get_config
    from shopapp.db import get_db
    from shopapp.redis_client import get_redis

    config = get_config(app)
    redis = get_redis(app)
    tokens = OfflineTokens(config, get_db(app), redis, http_client=http_client)
    budget = RequestBudget(redis, config.SHOPIFY_API_BUDGET_PER_SECOND, sleep=sleep)
    return AdminClient(config, tokens, budget, shop, http_client, sleep=sleep)


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def _is_throttled(body: Any) -> bool:
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors)


def _retry_after(headers: dict) -> float | None:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, min(float(value), BACKOFF_MAX_SECONDS * 4))
            except (TypeError, ValueError):
                return None
    return None


def _backoff(attempt: int) -> float:
    base = min(BACKOFF_MAX_SECONDS, BACKOFF_SECONDS * (2 ** attempt))
    return base / 2 + random.uniform(0, base / 2)  # jitter, so that workers do not retry in step


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _describe(status: int, errors: Any) -> str:
    if isinstance(errors, list):
        messages = [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
        return f"HTTP {status}: " + "; ".join(m for m in messages if m)[:500]
    if isinstance(errors, str):
        return f"HTTP {status}: {errors[:200]}"
    return f"HTTP {status}"
